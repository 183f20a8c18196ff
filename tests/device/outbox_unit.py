# The outbox alone, on the unix port's file system: order, persistence across a "reset" (a new
# Outbox on the same files, the old one abandoned), acks, rotation, the full policies, the
# latest value per topic, a record cut at every byte, and the heap locked.
#   micropython outbox_unit.py DIR [TEST ...]
import sys
import os
import gc
import micropython
from outbox import Outbox

DIR = sys.argv[1]
ONLY = sys.argv[2:]
N = [0]


def path(name):
    N[0] += 1
    return "%s/%s%d" % (DIR, name, N[0])


def make(buf, topic, msg, qos=1):
    # A PUBLISH packet laid out as leanmqtt lays it: the fixed header ends at offset 5.
    tl = len(topic)
    rl = 2 + tl + 2 + len(msg)
    assert rl < 128
    buf[3] = 0x30 | qos << 1
    buf[4] = rl
    buf[5] = tl >> 8
    buf[6] = tl & 255
    buf[7 : 7 + tl] = topic
    buf[7 + tl] = buf[8 + tl] = 0
    buf[9 + tl : 9 + tl + len(msg)] = msg
    return (rl + 2) << 2 | 3


def parse(buf, sl):
    # -> (topic, msg, qos, dup) of the packet take() put into buf
    h = sl & 3
    n = sl >> 2
    tl = buf[5] << 8 | buf[6]
    return (bytes(buf[7 : 7 + tl]), bytes(buf[9 + tl : h + n]), buf[h] >> 1 & 3, buf[h] >> 3 & 1)


B = bytearray(128)
R = bytearray(128)


def put(ob, topic, msg, qos=1):
    return ob.put(B, make(B, topic, msg, qos))


def drain(ob, ack=True, n=100000):
    out = []
    while len(out) < n:
        sl = ob.take(R)
        if not sl:
            break
        out.append(parse(R, sl))
        if ack:
            ob.ack()
    return out


def msgs(got):
    return [m for t, m, q, d in got]


def num(i):
    return b"m%05d" % i


def t_order_and_reset():
    p = path("order")
    ob = Outbox(p, 4096, window=2)
    for i in range(10):
        assert put(ob, b"a/b", num(i), 1 + i % 2)
    assert ob.count == 10
    got = drain(ob, ack=False, n=2)  # two taken, in flight, not acked
    assert msgs(got) == [num(0), num(1)] and [d for t, m, q, d in got] == [0, 0], got
    assert ob.take(R) == 0  # the window is full
    ob.ack()  # num(0) done
    # a reset: a new outbox on the same files
    ob = Outbox(p, 4096, window=2)
    assert ob.count == 9, ob.count
    got = drain(ob)
    assert msgs(got) == [num(i) for i in range(1, 10)], got
    assert [q for t, m, q, d in got] == [1 + i % 2 for i in range(1, 10)]  # the qos, kept
    # DUP on those that may have gone out: two windows' worth
    assert [d for t, m, q, d in got] == [1, 1, 1, 1, 0, 0, 0, 0, 0], got
    assert Outbox(p, 4096, window=2).count == 0


def t_rotation():
    # Far more messages than the files hold: they rotate; order and acks survive a reset at
    # every step.
    p = path("rot")
    ob = Outbox(p, 1024, window=4)
    want = 0
    nxt = 0
    gens = set()
    for step in range(300):
        assert put(ob, b"r", num(nxt)), step
        nxt += 1
        if step % 3:  # messages taken and acked: none, one or two a step
            for t, m, q, d in drain(ob, n=step % 3):
                assert m == num(want), (m, want)
                want += 1
        gens.add(ob._gen)
        for i in (0, 1):
            assert os.stat("%s.%d" % (p, i))[6] <= 512  # each file within size // 2
        if step % 5 == 0:
            ob = Outbox(p, 1024, window=4)
            assert ob.count == nxt - want, (step, ob.count, nxt, want, ob._mark, ob._fk)
    got = msgs(drain(Outbox(p, 1024, window=4)))
    assert got == [num(i) for i in range(want, nxt)], (got, want, nxt)
    assert len(gens) > 20, len(gens)


def t_refuse():
    p = path("ref")
    ob = Outbox(p, 512)
    ok = 0
    while put(ob, b"x", num(ok)):
        ok += 1
    assert 5 < ok < 20, ok
    for i in range(5):
        assert not put(ob, b"x", b"more")
    assert ob.refused == 6 and ob.dropped == 0
    got = msgs(drain(Outbox(p, 512)))
    assert got == [num(i) for i in range(ok)], got
    # room again once they are acked
    ob = Outbox(p, 512)
    assert put(ob, b"x", b"again") and msgs(drain(ob)) == [b"again"]


def t_drop_oldest():
    p = path("drop")
    ob = Outbox(p, 512, policy=Outbox.DROP_OLDEST, window=2)
    assert put(ob, b"x", num(0)) and put(ob, b"x", num(1))
    inflight = drain(ob, ack=False, n=2)  # these two are in flight: never dropped
    for i in range(2, 100):
        assert put(ob, b"x", num(i))
    assert ob.refused == 0
    kept = ob.count
    assert ob.dropped + kept == 100, (ob.dropped, kept)
    ob.ack()
    ob.ack()
    got = msgs(drain(ob))
    assert msgs(inflight) == [num(0), num(1)]
    assert got == [num(i) for i in range(100 - kept + 2, 100)], got  # the newest, in order
    # after a reset too
    ob = Outbox(p, 512, policy=Outbox.DROP_OLDEST)
    for i in range(100):
        put(ob, b"x", num(i))
    k = ob.count
    assert msgs(drain(Outbox(p, 512))) == [num(i) for i in range(100 - k, 100)]


def t_latest():
    p = path("latest")
    ob = Outbox(p, 4096, latest=(b"dev/status", b"dev/cfg"))
    put(ob, b"dev/status", b"s1")
    put(ob, b"dev/r", b"r1")
    put(ob, b"dev/status", b"s2")
    put(ob, b"dev/cfg", b"c1")
    put(ob, b"dev/r", b"r2")
    put(ob, b"dev/status", b"s3")
    assert ob.count == 4, ob.count
    ob2 = Outbox(p, 4096, latest=(b"dev/status", b"dev/cfg"))  # the same after a reset
    assert ob2.count == 4, ob2.count
    got = drain(ob, ack=False, n=2)
    assert [(t, m) for t, m, q, d in got] == [(b"dev/r", b"r1"), (b"dev/cfg", b"c1")], got
    got = drain(ob, ack=False, n=2)  # s3, the only status left, in flight now
    assert msgs(got) == [b"r2", b"s3"], got
    put(ob, b"dev/status", b"s4")  # s3 is in flight: both stay
    put(ob, b"dev/status", b"s5")  # s4 was not: s5 replaces it
    put(ob, b"dev/r", b"r3")
    for _ in range(4):
        ob.ack()
    assert ob.count == 2, ob.count
    got = msgs(drain(Outbox(p, 4096, latest=(b"dev/status", b"dev/cfg"))))
    assert got == [b"s5", b"r3"], got
    # rotation keeps exactly one per latest topic
    p = path("latest")
    ob = Outbox(p, 2048, latest=(b"st",))
    for i in range(200):
        assert put(ob, b"st", num(i))
        if i % 10 == 0:
            assert put(ob, b"rd", num(i))
    assert ob._gen > 5 and ob.count == 21, (ob._gen, ob.count)
    got = drain(Outbox(p, 2048, latest=(b"st",)))
    assert [(t, m) for t, m, q, d in got] == [(b"rd", num(i)) for i in range(0, 200, 10)] + [
        (b"st", num(199))], got


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(p, data):
    with open(p, "wb") as f:
        f.write(data)


def t_torn():
    # The file cut at every byte of its last record, then also with that record's bytes
    # turned to 0xFF (erased flash) or to an older record's: the records before it are all
    # there, in order, and the outbox goes on.
    p = path("torn")
    ob = Outbox(p, 4096)
    for i in range(5):
        put(ob, b"t/x", num(i))
    drain(ob, n=2)  # two acked
    put(ob, b"t/x", num(5))
    cur = ob._cur
    ob.close()
    full = read("%s.%d" % (p, cur))
    other = read("%s.%d" % (p, 1 - cur))
    end = ob.tail
    start = end - (10 + 3 + 2 + 2 + 3 + 2 + 6)  # the last record: num(5) on "t/x"
    assert full[start] == 0xA5, full[start]
    cases = 0
    for cut in range(start, end):
        for tail in (b"", b"\xff" * (end - cut), full[start - (end - cut) : start]):
            q = path("cut")
            write("%s.%d" % (q, cur), full[:cut] + tail)
            write("%s.%d" % (q, 1 - cur), other)
            ob = Outbox(q, 4096)
            assert ob.count == 3, (cut, ob.count)
            assert ob.tail == start, (cut, ob.tail, start)
            assert put(ob, b"t/x", b"after")
            got = msgs(drain(Outbox(q, 4096)))
            assert got == [num(2), num(3), num(4), b"after"], (cut, got)
            cases += 1
    print("torn cases", cases, "offsets", end - start)


def t_torn_copy():
    # A rotation cut at every 7th byte of its copy: the old file stays the one read.
    p = path("tcopy")
    ob = Outbox(p, 1024)
    for i in range(5):
        put(ob, b"c", num(i))
    drain(ob, n=3)
    i = 5
    while ob.tail + 26 <= ob.cap:
        put(ob, b"c", num(i))
        i += 1
    cur = ob._cur
    ob.close()
    old = read("%s.%d" % (p, cur))
    stale = read("%s.%d" % (p, 1 - cur))
    ob = Outbox(p, 1024)
    put(ob, b"c", num(i))  # this one rotates
    assert ob._cur != cur
    ob.close()
    new = read("%s.%d" % (p, 1 - cur))
    for cut in range(0, len(new), 7):
        q = path("tc")
        write("%s.%d" % (q, cur), old)
        write("%s.%d" % (q, 1 - cur), new[:cut] + stale[cut:])
        got = msgs(drain(Outbox(q, 1024)))
        assert got[: i - 3] == [num(k) for k in range(3, i)], (cut, got)


def t_heap_lock():
    # After the first message: put, take, ack with the heap locked (between rotations).
    p = path("heap")
    ob = Outbox(p, 65536, latest=(b"s",), window=4)
    put(ob, b"a", b"first")
    drain(ob)
    gens = ob._gen
    topic = b"a/reading"
    st = b"s"
    msg = b"0123456789abcdef"

    def work(n):
        bad = 0
        for i in range(n):
            ob.put(B, make(B, topic, msg))
            ob.put(B, make(B, st, msg))
            sl = ob.take(R)
            if not sl:
                bad += 1
            ob.ack()
            sl = ob.take(R)
            ob.ack()
        return bad

    gc.collect()
    micropython.heap_lock()
    try:
        bad = work(300)
    finally:
        micropython.heap_unlock()
    assert bad == 0 and ob._gen == gens and ob.count == 0, (bad, ob._gen, gens, ob.count)
    print("heap_lock ok")


def t_rotation_heap():
    # A rotation opens the emptied file again: that file object is its one allocation, and
    # the heap stays flat across hundreds of them.
    p = path("roth")
    ob = Outbox(p, 1024, window=4)
    put(ob, b"a", b"first")
    drain(ob)
    msg = b"0123456789abcdef"
    g0 = ob._gen

    def work(n):
        for i in range(n):
            ob.put(B, make(B, b"a/reading", msg))
            ob.take(R)
            ob.ack()

    gc.collect()
    base = gc.mem_alloc()
    work(2000)
    gc.collect()
    grew = gc.mem_alloc() - base
    rot = ob._gen - g0
    # one rotation, with the GC off: what it allocates
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    g = ob._gen
    while ob._gen == g:
        work(1)
    per = gc.mem_alloc() - a
    gc.enable()
    assert rot > 100 and grew <= 256, (rot, grew)
    print("rotations", rot, "heap grew", grew, "one rotation allocates", per)


class Failing:
    # A file system that refuses writes (full of other files, or failing).
    def __init__(self, f):
        self.f = f

    def write(self, b, off, n):
        raise OSError(28)  # ENOSPC

    def __getattr__(self, name):
        return getattr(self.f, name)


def t_fs_error():
    p = path("fserr")
    ob = Outbox(p, 4096)
    assert put(ob, b"e", num(0))
    good = ob._fs[ob._cur]
    ob._fs[ob._cur] = Failing(good)
    assert not put(ob, b"e", num(1))  # refused, said, counted: not a crash
    assert ob.refused == 1 and ob.error.args[0] == 28, (ob.refused, ob.error)
    got = drain(ob, n=1)  # the ack's write fails too: lost, a duplicate at most
    ob._fs[ob._cur] = good
    assert msgs(got) == [num(0)] and ob.error.args[0] == 28
    assert put(ob, b"e", num(2))
    assert msgs(drain(Outbox(p, 4096))) in ([num(0), num(2)], [num(2)])


for name, f in sorted(globals().items()):
    if name.startswith("t_") and (not ONLY or name[2:] in ONLY):
        f()
        print("ok", name[2:])
