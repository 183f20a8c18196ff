# Session present: 0 on a fresh session, 1 when resuming one, 0 after a clean start.
import sys
from leanmqtt import MQTTClient

port = int(sys.argv[1])
c = MQTTClient("dev-session", "127.0.0.1", port)
c.set_callback(lambda t, m: None)
print("first", c.connect(clean_session=True))
c.disconnect()
print("fresh", c.connect(clean_session=False))
c.subscribe("lean/s", 1)
c.disconnect()
print("resumed", c.connect(clean_session=False))
c.disconnect()
print("clean", c.connect(clean_session=True))
c.disconnect()
