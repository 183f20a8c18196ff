# The callback as a guest (issue 11, family B): whatever it does, the client's state and
# the wire stay right. Every loop here is bounded.
#   micropython guest.py order PORT RECONNECT N INFLIGHT   publish QoS 1 from the callback
#   micropython guest.py resub PORT UNSUB                  a reconnect without a session
#   micropython guest.py raise PORT RECONNECT              the callback raises OSError
import sys
from time import ticks_ms, ticks_diff, sleep_ms
from leanmqtt import MQTTClient

mode, port = sys.argv[1], int(sys.argv[2])
seen = []
stats = {"accepted": 0, "refused": 0, "caught": 0, "other": 0}


def run(secs, until):
    end = ticks_ms() + secs * 1000
    while ticks_diff(end, ticks_ms()) > 0 and not until():
        try:
            c.poll(20)
        except OSError as e:
            stats["caught" if e.args and e.args[0] == 5 else "other"] += 1
            print("raised", repr(e))
        except Exception as e:
            stats["other"] += 1
            print("raised", repr(e))


if mode == "order":
    rc, n, inflight = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    c = MQTTClient("dev-order", "127.0.0.1", port, keepalive=10, timeout=2,
                   reconnect=bool(rc), inflight=inflight)

    def cb(t, m):
        seen.append(m)
        try:
            ok = c.publish(b"lean/reply", m, qos=1)
        except OSError as e:  # plain mode: the store is full
            ok = False
            print("publish", repr(e))
        stats["accepted" if ok else "refused"] += 1

    c.set_callback(cb)
    c.connect(clean_session=False)
    c.subscribe(b"lean/cmd", 1)
    print("ready")
    sleep_ms(1500)  # the messages pile up unread meanwhile
    run(20, lambda: len(seen) >= n and not c.pending())
    print("done seen", len(seen), "accepted", stats["accepted"], "refused", stats["refused"],
          "other", stats["other"], "pending", c.pending())
elif mode == "resub":
    unsub = int(sys.argv[3])
    others = [b"lean/o%d" % i for i in range(6)]
    c = MQTTClient("dev-resub2", "127.0.0.1", port, keepalive=5, timeout=2, reconnect=True,
                   inflight=8)
    c.backoff_min = 100

    def cb(t, m):
        if t == b"lean/ret":
            seen.append(m)
            c.publish(b"lean/reply", b"r%d" % len(seen), qos=1)
            if unsub:
                for o in others:
                    c.unsubscribe(o)

    c.set_callback(cb)
    c.connect()  # clean session: each reconnect starts without one
    c.subscribe(b"lean/ret", 1)
    for o in others:
        c.subscribe(o, 1)
    run(3, lambda: seen)
    print("ready")
    run(8, lambda: c.reconnects and len(seen) >= 2 and not c.pending())
    run(1, lambda: False)
    print("done seen", len(seen), "reconnects", c.reconnects, "other", stats["other"],
          "pending", c.pending())
elif mode == "raise":
    rc = int(sys.argv[3])
    c = MQTTClient("dev-raise", "127.0.0.1", port, keepalive=5, timeout=2,
                   reconnect=bool(rc))
    c.set_last_will(b"lean/will", b"gone")

    def cb(t, m):
        if m == b"bad":
            raise OSError(5, "i2c")  # EIO, as a sensor bus gives it
        seen.append(m)

    c.set_callback(cb)
    c.connect(clean_session=False)
    c.subscribe(b"lean/cmd", 1)
    print("ready")
    run(10, lambda: len(seen) >= 2 and stats["caught"] >= 2)
    print("done caught", stats["caught"], "good", len(seen), "other", stats["other"],
          "reconnects", c.reconnects, "connected", c.isconnected())
c.disconnect()
