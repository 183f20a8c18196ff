# Issue 11's bounds, pushed on (families A, C, D, E). Every loop here is bounded.
#   micropython promises.py MODE PORT ...   (see each mode below)
import sys
import gc
from time import ticks_ms, ticks_diff, sleep_ms
import micropython
from leanmqtt import MQTTClient

mode, port = sys.argv[1], int(sys.argv[2])
got = []


def log(*a):
    print("log", *a)


def ms_of(f, *a):
    t = ticks_ms()
    r = f(*a)
    return ticks_diff(ticks_ms(), t), r


if mode == "storefull":  # 1: publish with the store full ends by timeout, not K/4
    c = MQTTClient("dev-full", "127.0.0.1", port, keepalive=60, timeout=1, reconnect=True,
                   inflight=1, log=log)
    c.connect()
    print("ready")
    sleep_ms(500)  # the host blackholes the link meanwhile
    c.publish(b"lean/full", b"1", qos=1)
    print("storefull", *ms_of(c.publish, b"lean/full", b"2", False, 1))
elif mode == "resubwait":  # 1: a reconnect's re-subscription ends by timeout, not K/2
    c = MQTTClient("dev-rsw", "127.0.0.1", port, keepalive=20, timeout=1, reconnect=True,
                   log=log)
    c.backoff_min = 100
    c.connect()
    c.subscribe(b"lean/a", 1)
    print("ready")
    sleep_ms(500)  # the host swallows the next SUBSCRIBE and drops the link meanwhile
    worst = 0
    end = ticks_ms() + 4000
    while ticks_diff(end, ticks_ms()) > 0:
        worst = max(worst, ms_of(c.poll, 20)[0])
    print("worst_poll", worst, "reconnects", c.reconnects, "connected", c.isconnected())
elif mode == "trickle":  # 2: check_msg() never waits, however slowly a packet comes
    c = MQTTClient("dev-trickle", "127.0.0.1", port, keepalive=30, timeout=1, rxsize=16,
                   reconnect=bool(int(sys.argv[3])), log=log)
    c.set_callback(lambda t, m: got.append(m))
    c.connect()
    c.subscribe(b"lean/t", 0)
    print("ready")
    worst = 0
    end = ticks_ms() + 20000
    while ticks_diff(end, ticks_ms()) > 0 and not got:
        worst = max(worst, ms_of(c.check_msg)[0])
        sleep_ms(5)
    print("worst_check", worst, "got", got, "connected", c.isconnected())
elif mode == "split":  # 7: every byte offset of a split packet, with the heap locked
    rc, n = int(sys.argv[3]), int(sys.argv[4])
    c = MQTTClient("dev-split", "127.0.0.1", port, keepalive=30, timeout=5, reconnect=bool(rc),
                   inflight=4, log=log)
    c.connect()
    c.subscribe(b"lean/split", 1)
    c.publish(b"lean/out", b"warm", qos=1)
    c.poll(100)
    print("ready")
    sleep_ms(300)

    def locked(n):
        # The host's n messages come meanwhile; without a callback each is read and acked,
        # nothing allocated. The host counts the PUBACKs.
        end = ticks_ms() + 5000
        i = 0
        while ticks_diff(end, ticks_ms()) > 0:
            if i < 6:
                c.publish(b"lean/out", b"0123456789", qos=1)  # its PUBACK comes split
                i += 1
            c.poll(50)
        return i

    gc.collect()
    micropython.heap_lock()
    try:
        ops = locked(n)
    finally:
        micropython.heap_unlock()
    print("locked", ops, "pending", c.pending(), "connected", c.isconnected())
    c.set_callback(lambda t, m: got.append((t, m)))
    print("phase2")
    end = ticks_ms() + 20000
    while len(got) < n and ticks_diff(end, ticks_ms()) > 0:
        c.poll(50)
    bad = [m for t, m in got if t != b"lean/split" or len(m) != 8]
    print("callback", len(got), "bad", len(bad), "reconnects", c.reconnects)
elif mode in ("longtopic", "straddle"):  # 8: a topic longer than rxsize is skipped, logged
    # and acked; "straddle": so is any message too large, wherever its packet id falls
    c = MQTTClient("dev-" + mode, "127.0.0.1", port, keepalive=30, timeout=2, rxsize=32,
                   reconnect=True, log=log)
    c.set_callback(lambda t, m: got.append(t))
    c.connect()
    c.subscribe(b"lean/#", 1)
    print("ready")
    end = ticks_ms() + 10000
    while ticks_diff(end, ticks_ms()) > 0 and b"lean/ok" not in got:
        c.poll(50)
    print("got", got if mode == "longtopic" else len(got), "reconnects", c.reconnects,
          "connected", c.isconnected())
elif mode == "bigfit":  # 10: a message that fits rxsize is delivered, past max_skip too
    c = MQTTClient("dev-bigfit", "127.0.0.1", port, keepalive=30, timeout=2, rxsize=70000,
                   reconnect=True, log=log)
    c.set_callback(lambda t, m: got.append(len(m)))
    c.connect()
    c.subscribe(b"lean/big", 1)
    print("ready")
    end = ticks_ms() + 8000
    while ticks_diff(end, ticks_ms()) > 0 and not got:
        c.poll(50)
    print("got", got, "reconnects", c.reconnects, "connected", c.isconnected())
elif mode == "q0fail":  # 11: a QoS 0 write that fails is told (False) and counted
    c = MQTTClient("dev-q0", "127.0.0.1", port, keepalive=30, timeout=2, reconnect=True, log=log)
    c.connect()
    print("ready")
    sleep_ms(800)  # the host resets the link meanwhile; no poll() sees it first
    r = [c.publish(b"lean/q0", b"x")]
    sleep_ms(300)  # the proxy's reset lands once the write above woke it
    r += [c.publish(b"lean/q0", b"x") for _ in range(2)]
    print("q0", r, "dropped", c.dropped)
elif mode == "subfit":  # 14: a filter that does not fit is refused, and forgotten
    rc = int(sys.argv[3])
    c = MQTTClient("dev-subfit", "127.0.0.1", port, keepalive=30, timeout=2, bufsize=32,
                   reconnect=bool(rc), log=log)
    long = b"lean/" + b"f" * 40
    for phase in ("offline", "online"):
        try:
            c.subscribe(long, 0)
            print(phase, "accepted")
        except ValueError as e:
            print(phase, "ValueError", e.args[0])
        c.subscribe(b"lean/short", 0)
        t, sp = ms_of(c.connect)
        print("connect", phase, c.isconnected(), t)
    c.disconnect()
    c.connect()
    print("again", c.isconnected())
elif mode == "waitmsg":  # 15: one wait_msg() handles one message, as umqtt.simple's
    c = MQTTClient("dev-wait", "127.0.0.1", port, keepalive=30, timeout=2)
    c.set_callback(lambda t, m: got.append(m))
    c.connect(clean_session=False)
    c.subscribe(b"lean/w", 1)
    print("ready")
    sleep_ms(1000)  # three messages arrive meanwhile
    counts = []
    for _ in range(3):
        c.wait_msg()
        counts.append(len(got))
    print("counts", counts)
c.disconnect()
