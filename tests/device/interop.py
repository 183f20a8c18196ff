# One scenario of the broker matrix (tests/test_interop.py, tools/interop.py), against
# whichever broker listens on PORT. Prints "key value" lines the host reads; every wait is
# bounded by the deadline below.
#   micropython interop.py PORT SCENARIO TOPIC [ARG...]
import sys
from time import ticks_ms, ticks_diff, sleep_ms
from leanmqtt import MQTTClient, MQTTException

port, scenario, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
args = sys.argv[4:]
got = []
t0 = ticks_ms()
try:
    from os import getenv
except ImportError:  # the unix port keeps it in uos
    from uos import getenv
LOGIN = getenv("LEANMQTT_LOGIN")
LOGIN = LOGIN.split(":", 1) if LOGIN else None


def log(*a):
    print("log", ticks_diff(ticks_ms(), t0), *a)


def client(cid, **kw):
    kw.setdefault("log", log)
    if LOGIN and "user" not in kw:  # a broker that lets no one in without an account
        kw["user"], kw["password"] = LOGIN
    c = MQTTClient(cid, "127.0.0.1", port, **kw)
    c.set_callback(lambda t, m: got.append((t, bytes(m))))
    return c


def pump(c, until, ms):
    # Polls until until() is true or ms have passed; True if it came true.
    end = ticks_ms() + ms
    while ticks_diff(end, ticks_ms()) > 0:
        if until():
            return True
        c.poll(20)
    return until()


def ready():
    print("ready")
    sys.stdin.readline()  # the host writes a line once it has done its part


cid = "lean-" + scenario
if scenario in ("qos0_out", "qos1_out"):
    # n messages from the device; plain mode: a QoS 1 publish returns after its PUBACK
    qos = int(scenario[3])
    c = client(cid)
    c.connect()
    for i in range(int(args[0])):
        c.publish(topic, b"m%d" % i, qos=qos)
    print("sent", args[0])
    c.disconnect()

elif scenario == "qos1_window":
    # Resilient mode, `inflight` QoS 1 messages in flight at once, all acked at the end
    n, inflight = int(args[0]), int(args[1])
    c = client(cid, reconnect=True, inflight=inflight)
    c.connect()
    i = refused = 0
    end = ticks_ms() + 30000
    while i < n and ticks_diff(end, ticks_ms()) > 0:
        if c.publish(topic, b"m%d" % i, qos=1):
            i += 1
        else:
            refused += 1  # the window is full: poll for PUBACKs
        c.poll(0)
    pump(c, lambda: not c.pending(), 10000)
    print("sent", i, "pending", c.pending(), "reconnects", c.reconnects)
    c.disconnect()

elif scenario in ("qos0_in", "qos1_in", "oversize_in", "unsubscribe", "retained_wildcard"):
    # Subscribes, tells the host, then counts what arrives
    want = int(args[0])
    qos = 1 if scenario in ("qos1_in", "retained_wildcard") else 0
    c = client(cid, keepalive=30)
    c.connect()
    c.subscribe(topic + ("/#" if scenario == "retained_wildcard" else ""), qos)
    if scenario == "unsubscribe":
        c.unsubscribe(topic)
    if scenario != "retained_wildcard":
        ready()
    pump(c, lambda: len(got) >= want, 3000 if scenario in ("unsubscribe", "retained_wildcard") else 10000)
    for t, m in got:
        print("msg", t.decode(), len(m), m[:20].decode())
    print("got", len(got), "connected", c.isconnected())
    c.disconnect()

elif scenario == "session_present":
    c = client(cid)
    flags = []
    for clean in (True, False, False, True):
        flags.append(c.connect(clean_session=clean))
        if not clean:
            c.subscribe(topic, 1)
        c.disconnect()
    print("flags", *[int(bool(f)) for f in flags])

elif scenario == "queued_offline":
    # QoS 1 messages sent while the device was away wait in its session
    c = client(cid)
    c.connect(clean_session=True)  # no session left from an earlier run
    c.disconnect()
    c.connect(clean_session=False)
    c.subscribe(topic, 1)
    c.disconnect()
    ready()
    sp = c.connect(clean_session=False)
    pump(c, lambda: len(got) >= int(args[0]), 5000)
    print("present", int(bool(sp)), "got", len(got))
    c.disconnect(), c.connect(clean_session=True), c.disconnect()

elif scenario in ("will_abrupt", "will_clean"):
    c = client(cid, keepalive=30)
    c.set_last_will(topic, "gone " + scenario, qos=1)
    c.connect()
    c.publish(topic + "/up", b"up", qos=1)
    if scenario == "will_clean":
        c.disconnect()
    print("exit")
    # will_abrupt: the process ends with the socket open, as a board that lost power

elif scenario == "keepalive_enforced":
    # Three clients with keepalive 2 s fall silent 1.7 s apart, their sockets left open:
    # the broker must drop each by 1.5 x keepalive (MQTT-3.1.2-24) and send its will. The
    # stagger finds a broker that checks keepalives only now and then.
    keep = []
    for i in range(3):
        c = client("%s-%d" % (cid, i), keepalive=2)
        c.set_last_will("%s/%d" % (topic, i), "gone", qos=1)
        c.connect()
        c.publish(topic + "/up", b"up", qos=1)
        keep.append(c)
        print("silent", i)
        sleep_ms(1700)
    sleep_ms(int(args[0]))
    print("exit")

elif scenario == "retained":
    c = client(cid)
    c.connect()
    c.publish(topic, b"kept", retain=True, qos=1)
    c.disconnect()
    print("sent")

elif scenario == "retained_clear":
    c = client(cid)
    c.connect()
    c.publish(topic, b"kept", retain=True, qos=1)
    c.publish(topic, b"", retain=True, qos=1)  # an empty retained message clears it
    c.disconnect()
    print("sent")

elif scenario == "keepalive":
    # Idle with keepalive=1: the client pings, the broker answers, nothing reconnects
    c = client(cid, keepalive=1, reconnect=True)
    c.connect()
    pump(c, lambda: False, int(args[0]))
    print("connected", c.isconnected(), "reconnects", c.reconnects)
    c.disconnect()

elif scenario == "auth":
    c = client(cid, user=args[0], password=args[1])
    try:
        c.connect()
        print("accepted")
        c.disconnect()
    except MQTTException as e:
        print("refused", e.args[0], e.args[1])

elif scenario == "anonymous":
    c = client(cid, user=None)  # no user name, whatever the broker wants
    try:
        c.connect()
        print("accepted")
        c.disconnect()
    except MQTTException as e:
        print("refused", e.args[0])

elif scenario == "empty_client_id":
    c = client("")
    try:
        c.connect(clean_session=True)
        c.publish(topic, b"anon", qos=1)
        print("accepted")
        c.disconnect()
    except MQTTException as e:
        print("refused", e.args[0])

elif scenario == "takeover":
    # A second connection with the same client id: the broker drops the first (MQTT-3.1.4-2)
    a = client(cid, keepalive=30, reconnect=False)
    a.connect()
    b = client(cid, keepalive=30)
    b.connect()
    dropped = False
    end = ticks_ms() + 5000
    while ticks_diff(end, ticks_ms()) > 0 and not dropped:
        try:
            a.poll(50)
            dropped = not a.isconnected()
        except OSError:
            dropped = True
    print("first_dropped", int(dropped), "second", int(b.isconnected()))
    b.disconnect()

elif scenario == "big_payload":
    n = int(args[0])
    c = client(cid, bufsize=n + 64, rxsize=n + 64)
    c.connect()
    c.subscribe(topic, 1)
    c.publish(topic, bytes(48 + i % 10 for i in range(n)), qos=1)
    pump(c, lambda: got, 10000)
    print("got", len(got), len(got[0][1]) if got else 0,
          int(bool(got) and got[0][1] == bytes(48 + i % 10 for i in range(n))))
    c.disconnect()

elif scenario == "restart":
    # The broker goes away and comes back: the resilient client reconnects, restores its
    # subscription and its messages flow again.
    c = client(cid, keepalive=2, timeout=2, reconnect=True, inflight=4)
    c.backoff_min, c.backoff_max = 200, 1000
    c.connect(clean_session=False)
    c.subscribe(topic, 1)
    c.publish(topic, b"before", qos=1)
    pump(c, lambda: got, 5000)
    print("ready")
    pump(c, lambda: c.reconnects and c.isconnected(), 40000)
    c.publish(topic, b"after", qos=1)
    pump(c, lambda: any(m == b"after" for t, m in got), 10000)
    # At least once: a "before" whose PUBACK the broker had not recorded when it went away
    # comes again after the reconnect (seen with RabbitMQ). Each message once, in order.
    seen = []
    for t, m in got:
        if m not in seen:
            seen.append(m)
    print("reconnects", c.reconnects, "got", *seen)
    c.disconnect()
    c.connect(clean_session=True)
    c.disconnect()
else:
    raise SystemExit("unknown scenario " + scenario)
print("done")
