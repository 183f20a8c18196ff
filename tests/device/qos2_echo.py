# QoS 2 both ways, plain mode (umqtt.simple's way): each publish returns after its PUBCOMP;
# the same messages come back through the broker at QoS 2, each seen once.
#   micropython qos2_echo.py PORT COUNT
import sys
from leanmqtt import MQTTClient

port, count = int(sys.argv[1]), int(sys.argv[2])
seen = {}


def cb(t, m):
    seen[m] = seen.get(m, 0) + 1


c = MQTTClient("dev-q2echo", "127.0.0.1", port, keepalive=5)
c.set_callback(cb)
c.connect()
c.subscribe(b"lean/q2/echo", 2)
for i in range(count):
    c.publish(b"lean/q2/echo", b"%d" % i, qos=2)
    if c.pending():
        print("pending after publish", c.pending())
for _ in range(100):
    if len(seen) == count:
        break
    c.poll(20)
c.poll(300)
print("got", len(seen), "twice", sum(1 for v in seen.values() if v > 1))
c.disconnect()
