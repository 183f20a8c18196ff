# Runs on the (emulated) RP2040, and on the unix port for a check: one client's cost on the
# chip, with no network in it. Loaded as a module (the raw REPL has no argv):
#   import bench_chip_device as b; b.run(MODULE, WHAT, N, BALLAST, NAMES)
#   MODULE  leanmqtt | umqtt.simple | floor (bench_floor.py)
#   WHAT    cycles: import RAM, one client's RAM, then the timed loops, each between a
#                   rising and a falling edge of GP15, where the host reads the CPU's cycle
#                   counter; in order: empty, qos0, qos1, recv0, recv1 (N operations each)
#           workload: BALLAST bytes held, then the standard workload (connect, 50 QoS 0 and
#                   20 QoS 1 publishes, disconnect); "ok" when it ran
#   NAMES   names (qstrs) made before the import, as an application makes its own: where the
#           module's names fall in MicroPython's map lookup cache (shared by every dict, one
#           place for each name, numbered as it is made) moves with them, and so does each
#           count, by some thousands of cycles (tools/bench.py prints the range)
# Prints `key value` lines.
#
# The stream stands for a socket: io.BytesIO's read/readinto/write are C, as a socket's are,
# and are put on the instance, so a client's sock.write() is one C call. Its poll is a
# Python ioctl: a cost leanmqtt pays on every wait (it polls) and umqtt.simple never does
# (it blocks in read), so the comparison leans against leanmqtt, not for it.
import gc
import io
import sys

TOPIC = b"bench/reading"  # 13 bytes
PAYLOAD = b"0123456789abcdef0123456789abcdef"  # 32 bytes
CONNACK = b"\x20\x02\x00\x00"
WARM = 4  # operations before each timed loop, on a connection of their own


class Mem(io.IOBase):
    # data: what the "broker" sends; out: bytes of room for what the client writes.
    def __init__(self, data, out):
        self.i = i = io.BytesIO(data)
        self.o = o = io.BytesIO(bytearray(out))  # preallocated: writing allocates nothing
        self.n = len(data)
        self.read = i.read
        self.readinto = i.readinto
        self.write = o.write if out else self.null
        self.setblocking = bool  # a C no-op taking one argument; umqtt calls it per message

    def null(self, b, off=0, n=-1):  # the workload's sink: room for nothing, keeps nothing
        return len(b) - off if n < 0 else n

    def ioctl(self, req, arg):
        if req == 3:  # MP_STREAM_POLL: readable while data is left; always writable
            return (arg & 1 if self.i.tell() < self.n else 0) | (arg & 4)
        return -1  # the unix port asks for a file descriptor (10): there is none

    def settimeout(self, t):
        pass

    def setsockopt(self, *a):
        pass

    def connect(self, a):
        pass

    def close(self):
        pass


class Net:
    # The clients' `socket` module, as far as connect() uses it; socket() hands out `s`.
    IPPROTO_TCP = 6
    TCP_NODELAY = 1
    s = None

    def socket(self, *a):
        return self.s

    def getaddrinfo(self, host, port, *a):
        return [(2, 1, 0, "", ("mem", port))]


def publish_packet(qos, pid):
    tl, pl = len(TOPIC), len(PAYLOAD)
    if qos:
        return bytes([0x32, 4 + tl + pl, 0, tl]) + TOPIC + bytes([pid >> 8, pid & 255]) + PAYLOAD
    return bytes([0x30, 2 + tl + pl, 0, tl]) + TOPIC + PAYLOAD


def puback(pid):
    return bytes([0x40, 2, pid >> 8, pid & 255])


got = 0


def cb(t, m):
    global got
    got += 1


def run(mod, what, n=100, ballast=0, names=0):
    global got
    hold = bytearray(ballast)  # noqa: F841 (the rest of an application)
    o = Net()  # any object whose attributes can be set: names made on it, then dropped
    for i in range(names):
        setattr(o, "app_name_%d" % i, 0)  # setattr makes the name a qstr (kept for good)
    o = None
    gc.collect()
    if what == "workload":
        print("free", gc.mem_free())  # the heap the workload has; the host bisects BALLAST
    a = gc.mem_alloc()
    m = __import__(mod, None, None, ["MQTTClient"])
    MQTTClient = m.MQTTClient
    gc.collect()
    if what == "cycles":
        print("import_ram", gc.mem_alloc() - a)
    net = m.socket = Net()  # the module's own name for socket: connect() gets a Mem
    gc.collect()
    a = gc.mem_alloc()
    c = MQTTClient(b"bench", "10.0.2.2", 1883)
    gc.collect()
    if what == "workload":
        net.s = Mem(CONNACK + b"".join(puback(p) for p in range(1, 21)), 0)
        c.connect()
        for i in range(50):
            c.publish(TOPIC, PAYLOAD)
        for i in range(20):
            c.publish(TOPIC, PAYLOAD, qos=1)
        c.disconnect()
        print("ok")
        return
    print("client_ram", gc.mem_alloc() - a)
    c.set_callback(cb)
    try:
        from machine import Pin

        pin = Pin(15, Pin.OUT, value=0)
    except ImportError:  # the unix port: no edges, the loops only show that they run
        pin = None
    pid = 1
    most1 = False
    if mod == "leanmqtt":
        try:  # poll(timeout, most): a leanmqtt that reads no further than `most` packets
            c.poll(0, 1)
            most1 = True
        except TypeError:
            pass
        except OSError:  # not connected yet: the arguments were taken
            most1 = True
    for seg in ("empty", "qos0", "qos1", "recv0", "recv1"):
        # A connection for the warm-up, then one for the N timed operations.
        for k in (WARM, n):
            if seg == "qos1":
                data = b"".join(puback(p) for p in range(pid, pid + k))
                pid += k
            elif seg.startswith("recv"):
                q = int(seg[4])
                data = b"".join(publish_packet(q, p) for p in range(1, k + 1))
            else:
                data = b""
            net.s = s = Mem(CONNACK + data, 64 * k + 64)
            c.connect()
            got = 0
            gc.collect()
            if pin and k == n:  # only the timed loop has edges
                pin.value(1)
            if seg == "empty":
                for i in range(k):
                    pass
            elif seg == "qos0":
                for i in range(k):
                    c.publish(TOPIC, PAYLOAD)
            elif seg == "qos1":
                for i in range(k):
                    c.publish(TOPIC, PAYLOAD, qos=1)
            elif mod == "leanmqtt" and most1:  # one packet per call, as check_msg() below
                for i in range(k):
                    c.poll(0, 1)
            elif mod == "leanmqtt":  # a poll() without `most`: all that has come per call
                while got < k:
                    c.check_msg()
            else:
                for i in range(k):
                    c.check_msg()
            if pin and k == n:
                pin.value(0)
            if seg.startswith("recv") and got != k:
                raise AssertionError("%s: %d of %d messages" % (seg, got, k))
            if s.i.tell() != s.n:
                raise AssertionError("%s: %d of %d bytes read" % (seg, s.i.tell(), s.n))
    print("done", n)


if __name__ == "__main__":  # the unix port: micropython bench_chip_device.py MODULE WHAT [N [BALLAST]]
    run(sys.argv[1], sys.argv[2], *[int(x) for x in sys.argv[3:]])
