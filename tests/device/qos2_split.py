# QoS 2 with the heap locked while every packet from the broker comes in two pieces, split
# at each offset in turn (the proxy's chop): our PUBLISHes' PUBREC and PUBCOMP, the host's
# PUBLISHes and their PUBREL. No callback while locked: the exchange alone.
#   micropython qos2_split.py PORT RECONNECT N
import sys
import gc
import micropython
from time import ticks_ms, ticks_diff
from leanmqtt import MQTTClient

port, rc, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = MQTTClient("dev-q2split", "127.0.0.1", port, keepalive=30, timeout=5, reconnect=bool(rc),
               inflight=4, log=lambda *a: print("event", *a))
c.connect()
c.subscribe(b"lean/q2split", 2)
c.publish(b"lean/q2out", b"warm", qos=2)
for _ in range(100):  # its PUBCOMP, before the host starts counting
    if not c.pending():
        break
    c.poll(20)
sent = 0
print("ready")


def locked():
    global sent
    end = ticks_ms() + 8000
    while ticks_diff(end, ticks_ms()) > 0:
        if sent < 6 and c.publish(b"lean/q2out", b"0123456789", qos=2):
            sent += 1
        c.poll(50)


gc.collect()
micropython.heap_lock()
try:
    locked()
finally:
    micropython.heap_unlock()
print("locked", sent, "pending", c.pending(), "connected", c.isconnected(), "reconnects", c.reconnects)
c.disconnect()
