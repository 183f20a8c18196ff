# An incoming message larger than rxsize is skipped and logged; the next one arrives.
import sys
from leanmqtt import MQTTClient

port = int(sys.argv[1])
got = []
c = MQTTClient("dev-skip", "127.0.0.1", port, keepalive=5, rxsize=128)
c.set_callback(lambda t, m: got.append((t, m)))
c.connect()
for _ in range(5):
    c.wait_msg()
    if got:
        break
print("got", got)
print("connected", c.isconnected())
