# Every packet type against a real broker. Prints one line per event for the host to check.
import sys
from leanmqtt import MQTTClient

port = int(sys.argv[1])
got = []
c = MQTTClient("dev-basic", "127.0.0.1", port, keepalive=30)
c.set_callback(lambda t, m: got.append((t, m)))
print("connack", c.connect())
c.subscribe("lean/in/#", 1)  # SUBSCRIBE / SUBACK
print("suback")
# The host left a retained QoS 1 message on lean/in/host: it arrives now, at QoS 1.
c.publish("lean/out/q0", b"zero")  # QoS 0
print("puback" if c.publish(b"lean/out/q1", "one", qos=1) else "no puback")  # waits PUBACK
c.publish("lean/out/retained", b"kept", retain=True)
c.publish("lean/in/echo", b"loop", qos=1)  # comes back to us at QoS 1: we PUBACK it
c.ping()
for _ in range(50):
    c.poll(100)
    if len(got) >= 2 and not c._pinging:
        break
print("pingresp", not c._pinging)
for t, m in sorted(got):
    print("msg", t.decode(), m.decode())
c.unsubscribe("lean/in/#")  # UNSUBSCRIBE / UNSUBACK
print("unsuback")
c.publish("lean/in/after", b"not for us", qos=1)
c.poll(300)
print("after_unsub", len(got))
c.disconnect()
print("done")
