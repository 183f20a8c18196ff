# QoS 2 in, resilient, on a kept session: subscribes lean/q2 at QoS 2, counts how often the
# callback saw each message, prints it. Every loop here is bounded.
#   micropython qos2_sub.py PORT COUNT [QOS2_IN]
import sys
from time import ticks_ms, ticks_diff
from leanmqtt import MQTTClient

port, count = int(sys.argv[1]), int(sys.argv[2])
qos2_in = int(sys.argv[3]) if len(sys.argv) > 3 else 32
seen = {}


def cb(t, m):
    seen[m] = seen.get(m, 0) + 1


c = MQTTClient("dev-q2sub", "127.0.0.1", port, keepalive=2, timeout=2, reconnect=True,
               qos2_in=qos2_in, log=lambda *a: print("event", *a))
c.backoff_min = 200
c.backoff_max = 1000
c.set_callback(cb)
c.connect(clean_session=False)
c.subscribe(b"lean/q2", 2)
print("subscribed", c.isconnected())
end = ticks_ms() + 60000
while len(seen) < count and ticks_diff(end, ticks_ms()) > 0:
    c.poll(20)
end = ticks_ms() + 1500  # duplicates, if any, would come now
while ticks_diff(end, ticks_ms()) > 0:
    c.poll(20)
print("got", len(seen), "twice", sum(1 for v in seen.values() if v > 1), "reconnects", c.reconnects)
print("missing", [i for i in range(count) if b"%d" % i not in seen][:10])
c.disconnect()
