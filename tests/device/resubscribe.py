# Resilient mode subscribed to lean/cmd; the broker restarts without persistence (the
# session is gone), so the reconnect must subscribe again. Prints what arrives.
import sys
from time import ticks_ms, ticks_diff
from leanmqtt import MQTTClient

port = int(sys.argv[1])
got = []
c = MQTTClient("dev-resub", "127.0.0.1", port, keepalive=2, timeout=2, reconnect=True)
c.backoff_min = 200
c.set_callback(lambda t, m: got.append(m))
print("sp", c.connect(clean_session=False))
c.subscribe("lean/cmd", 1)
print("subscribed")
was = True
end = ticks_ms() + 20000
while ticks_diff(end, ticks_ms()) > 0 and b"after" not in got:
    c.poll(50)
    if c.isconnected() != was:
        was = not was
        print("link", "up" if was else "down")
print("got", got, "reconnects", c.reconnects)
c.disconnect()
