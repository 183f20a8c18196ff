# Bad arguments: a ValueError before anything is sent. Prints one verdict per case.
from leanmqtt import MQTTClient

TOPICS = [b"", b"a/+", b"a/#", b"#", b"a\x00b", b"\xff", b"a\xc3", b"\xed\xa0\x80", b"\xc0\xaf",
          b"\xf4\x90\x80\x80", b"caf\xc3\xa9", b"\xf0\x9f\x98\x80", b"x" * 65536, b"ok/topic"]
FILTERS = [b"a/#", b"#", b"+", b"+/+/#", b"a+/b", b"a/#/b", b"a/b#", b"a/+b", b"\xed\xa0\x80/#"]
c = MQTTClient("dev-check", "127.0.0.1", 1, bufsize=70000)


def verdict(f, *a):
    try:
        f(*a)
        return "ok"
    except ValueError:
        return "ValueError"
    except OSError:
        return "ok"  # the checks passed; there is no connection to send on


for t in TOPICS:
    print("publish", t[:8].hex() or "-", len(t), verdict(c.publish, t, b"x"))
for t in FILTERS:
    print("subscribe", t.hex(), verdict(c.subscribe, t, 0, 0x82, True))
print("qos3", verdict(c.publish, b"a", b"x", False, 3))
print("will", verdict(c.set_last_will, b"a/#", b"x"))
# QoS 2 is a QoS: publish, subscribe and the will take it; 3 and -1 are not
print("qos2_ok", verdict(c.publish, b"a", b"x", False, 2), verdict(c.subscribe, b"a", 2),
      verdict(c.set_last_will, b"a", b"x", False, 2))
print("qos_bad", verdict(c.subscribe, b"a", 3), verdict(c.set_last_will, b"a", b"x", False, 3),
      verdict(c.publish, b"a", b"x", False, -1))
c2 = MQTTClient("", "127.0.0.1", 1)
print("empty_id_persistent", verdict(c2.connect, False))
c3 = MQTTClient("x", "127.0.0.1", 1, password="p")
print("password_without_user", verdict(c3.connect))
# Issue 11, items 12 and 13: told at once, before anything is sent or stored.
print("sub_qos_neg", verdict(c.subscribe, b"a", -1))
print("sub_qos_3", verdict(c.subscribe, b"a", 3))  # 2 is QoS 2 (issue 13)
print("inflight_0", verdict(lambda: MQTTClient("x", "127.0.0.1", 1, inflight=0)))
print("will_qos2", verdict(c.set_last_will, b"a", b"x", False, 2))
print("will_qos3", verdict(c.set_last_will, b"a", b"x", False, 3))
for rc in (False, True):
    c4 = MQTTClient("x", "127.0.0.1", 1, reconnect=rc)
    try:
        c4.ping()
        print("ping_offline", rc, "returned")
    except OSError as e:
        print("ping_offline", rc, "OSError", e.args[0])
    except Exception as e:
        print("ping_offline", rc, type(e).__name__)
c5 = MQTTClient("x", "127.0.0.1", 1)
try:
    print("plain_q1_offline", c5.publish(b"a", b"x", qos=1), c5.pending())
except OSError as e:
    print("plain_q1_offline", "OSError", e.args[0], c5.pending())
print("qos2_in_0", verdict(lambda: MQTTClient("x", "127.0.0.1", 1, qos2_in=0)))
