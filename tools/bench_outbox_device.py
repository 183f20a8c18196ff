# Runs on the unix port: the outbox on a real littlefs (MicroPython's own VfsLfs2, as on the
# boards), over a RAM block device that counts what littlefs programs and erases, so the
# flash wear per reading is measured, not guessed. Prints `key value` lines.
#   micropython bench_outbox_device.py [N] [OUTBOX_BYTES]
# Geometry as on a Pico: 1 MiB, 4096-byte blocks, progsize 256 (ports/rp2/modules/_boot.py).
import sys
import gc

gc.collect()
a = gc.mem_alloc()
from outbox import Outbox  # noqa: E402

gc.collect()
print("import_ram", gc.mem_alloc() - a)

import vfs  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
size = int(sys.argv[2]) if len(sys.argv) > 2 else 32768
BS = 4096
NB = 256


class Flash:
    def __init__(self):
        self.mem = bytearray(BS * NB)
        self.prog = self.erased = 0

    def readblocks(self, b, buf, off=0):
        i = b * BS + off
        buf[:] = memoryview(self.mem)[i : i + len(buf)]

    def writeblocks(self, b, buf, off=0):
        i = b * BS + off
        self.mem[i : i + len(buf)] = buf
        self.prog += len(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return NB
        if op == 5:
            return BS
        if op == 6:
            self.erased += 1
            return 0
        return 0


gc.collect()
a = gc.mem_alloc()
ob = Outbox("/tmp/bench-outbox-%d" % size, size, window=8)  # on the unix port's files
gc.collect()
print("instance_ram_posix", gc.mem_alloc() - a)
ob.close()
fl = Flash()
vfs.VfsLfs2.mkfs(fl, progsize=256)
vfs.mount(vfs.VfsLfs2(fl, progsize=256), "/flash")

# A reading as the app sends it: 98-byte JSON on a 23-byte topic, laid out as leanmqtt's
# store holds a PUBLISH (the fixed header ends at offset 5).
TOPIC = b"leanmqtt/e6614103/readings"
MSG = b"x" * 98
buf = bytearray(160)
tl = len(TOPIC)
rl = 2 + tl + 2 + len(MSG)
buf[2] = 0x32
buf[3] = rl & 127 | 128
buf[4] = rl >> 7
buf[5] = 0
buf[6] = tl
buf[7 : 7 + tl] = TOPIC
buf[9 + tl : 9 + tl + len(MSG)] = MSG
SL = (rl + 3) << 2 | 2
rx = bytearray(160)

gc.collect()
a = gc.mem_alloc()
ob = Outbox("/flash/ob", size, window=8)
gc.collect()
print("instance_ram", gc.mem_alloc() - a)


def measure(name, step, k):
    for _ in range(k // 4):  # warm up: past the first rotation's odd costs
        step()
    p, e = fl.prog, fl.erased
    for _ in range(k):
        step()
    print(name + "_prog", (fl.prog - p) // k)
    print(name + "_erase_milli", (fl.erased - e) * 1000 // k)


def stored():  # an outage: put only (the outbox is drained between rounds, not counted)
    if not ob.put(buf, SL):
        raise RuntimeError("full")


def acked():  # the link up: put, sent, PUBACK
    ob.put(buf, SL)
    ob.take(rx)
    ob.ack()


measure("acked", acked, n)
# an outage of size // 2 worth of readings, then drained
k = (ob.cap - 64) // ((SL >> 2) + 12) // 2
measure("stored", stored, k)
while ob.take(rx):
    ob.ack()


def wake():  # sleep mode: each reading a new boot (open, put, sent, acked, closed)
    global ob
    ob.close()
    ob = Outbox("/flash/ob", size, window=8)
    acked()


measure("wake", wake, n // 4)
ob.close()
print("rotations", ob._gen)
print("record_bytes", (SL >> 2) + 2 + 10)
