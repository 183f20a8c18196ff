# On the emulated RP2040: the outbox's RAM and time on the real rp2 firmware. rp2040js does not
# emulate flash programming, so its files live on the firmware's own littlefs (VfsLfs2) over a
# block device in RAM (24 blocks of 4096, progsize 256 as the firmware's flash has), which
# counts what littlefs programs. Then a client publishing through it over PPP to Mosquitto.
# ARGS: (broker port, readings). Prints `key value` lines.
import gc
import vfs
from time import ticks_us, ticks_diff

gc.collect()
a = gc.mem_alloc()
from outbox import Outbox  # noqa: E402

gc.collect()
print("import_ram", gc.mem_alloc() - a)
gc.collect()
a = gc.mem_alloc()
from leanmqtt import MQTTClient  # noqa: E402

gc.collect()
print("lean_import_ram", gc.mem_alloc() - a)
BS = 4096
NB = 24


class Ram:
    def __init__(self):
        self.mem = bytearray(BS * NB)
        self.mv = memoryview(self.mem)
        self.prog = 0

    def readblocks(self, b, buf, off=0):
        i = b * BS + off
        buf[:] = self.mv[i : i + len(buf)]

    def writeblocks(self, b, buf, off=0):
        i = b * BS + off
        self.mv[i : i + len(buf)] = buf
        self.prog += len(buf)

    def ioctl(self, op, arg):
        return NB if op == 4 else BS if op == 5 else 0


ram = Ram()
vfs.VfsLfs2.mkfs(ram, progsize=256)
vfs.mount(vfs.VfsLfs2(ram, progsize=256), "/ram")
gc.collect()
a = gc.mem_alloc()
ob = Outbox("/ram/ob", 16384, window=4)
gc.collect()
print("instance_ram", gc.mem_alloc() - a)
c = MQTTClient("chip-outbox", HOST, ARGS[0], keepalive=30, reconnect=True, inflight=4, outbox=ob)
topic = b"chip/ob"
msg = bytearray(b"000000")


def num(i):
    for k in range(5, -1, -1):
        msg[k] = 48 + i % 10
        i //= 10
    return msg


# Stored while offline (before connect): put alone, timed on the chip.
t = ticks_us()
for i in range(10):
    c.publish(topic, num(i), qos=1)
print("put_us", ticks_diff(ticks_us(), t) // 10)
print("held", ob.count)
t = ticks_us()
c.connect(clean_session=True)  # the stored ones go first
while c.pending():
    c.poll(10)
print("drain_us", ticks_diff(ticks_us(), t))
# One reading at a time, publish to PUBACK, through the outbox.
worst = total = 0
n = ARGS[1]
for i in range(10, 10 + n):
    t = ticks_us()
    c.publish(topic, num(i), qos=1)
    while c.pending():
        c.poll(5)
    d = ticks_diff(ticks_us(), t)
    total += d
    worst = max(worst, d)
print("reading_us", total // n, worst)
print("prog_per_reading", ram.prog // (10 + n))
print("pending", c.pending())
c.disconnect()
# The same readings with the RAM store alone, for comparison.
c = MQTTClient("chip-ram", HOST, ARGS[0], keepalive=30, reconnect=True, inflight=4)
c.connect()
total = 0
for i in range(10 + n, 10 + 2 * n):
    t = ticks_us()
    c.publish(topic, num(i), qos=1)
    while c.pending():
        c.poll(5)
    total += ticks_diff(ticks_us(), t)
print("reading_ram_us", total // n)
c.disconnect()
