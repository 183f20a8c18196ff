# flush() with and without an outbox, with the link up or dead:
#   micropython outbox_flush.py PORT DIR outbox|ram TIMEOUT_S [PAUSE_MS]
# publishes 5 QoS 1 readings, then flush(TIMEOUT_S), then disconnect(). PAUSE_MS: after the
# connect, a pause (the host makes the link silent meanwhile).
import sys
from time import ticks_ms, ticks_diff, sleep_ms
from leanmqtt import MQTTClient

port, d, kind, to = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
ob = None
if kind == "outbox":
    from outbox import Outbox

    ob = Outbox(d + "/ob", 8192, window=8)
c = MQTTClient("dev-flush", "127.0.0.1", port, keepalive=10, timeout=3, reconnect=True,
               inflight=8, outbox=ob, log=lambda *a: print("event", *a))
c.backoff_min = 100
c.set_last_will(b"lean/will", b"gone", qos=1)
c.connect(clean_session=False)
print("connected", c.isconnected())
if len(sys.argv) > 5:
    sleep_ms(int(sys.argv[5]))
for i in range(5):
    print("publish", c.publish(b"lean/flush", b"r%d" % i, qos=1))
t = ticks_ms()
r = c.flush(to)
print("flush", r, ticks_diff(ticks_ms(), t), "pending", c.pending())
c.disconnect()
