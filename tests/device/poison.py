# A callback that raises on some messages. The app sees each exception from poll(), and
# the messages after them still arrive: each was acked, so none holds one of the broker's
# in-flight places for this client (Mosquitto's max_inflight_messages, 20 by default).
import sys
from time import ticks_ms, ticks_diff
from leanmqtt import MQTTClient

port, want = int(sys.argv[1]), int(sys.argv[2])
good = []
c = MQTTClient("dev-poison", "127.0.0.1", port, keepalive=10, reconnect=True)


def handle(topic, msg):
    if msg == b"bad":
        raise ValueError("cannot parse", msg)
    good.append(msg)


c.set_callback(handle)
c.connect(clean_session=False)
c.subscribe("lean/cmd", 1)
print("ready")
errors = 0
t = ticks_ms()
while len(good) < want and ticks_diff(ticks_ms(), t) < 15000:
    try:
        c.poll(50)
    except ValueError:
        errors += 1
print("errors", errors, "good", len(good), "reconnects", c.reconnects)
c.disconnect()
