# QoS 2 out and in with the heap locked: publish at QoS 2 (PUBLISH, PUBREC, PUBREL,
# PUBCOMP) and receive our own messages back at QoS 2 (PUBREC, PUBREL, PUBCOMP).
#   micropython qos2_heaplock.py PORT plain|resilient N [cb]
import sys
import gc
import micropython
from leanmqtt import MQTTClient

port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
with_cb = len(sys.argv) > 4
got = bytearray(1)  # a counter that does not allocate
before = after = 0  # module-level names made now: a new one later grows the dict


def cb(t, m):
    got[0] += 1


c = MQTTClient("dev-q2heap", "127.0.0.1", port, keepalive=2, reconnect=mode == "resilient",
               inflight=8)
if with_cb:
    c.set_callback(cb)
c.connect()
c.subscribe(b"lean/q2heap", 2)
topic = b"lean/q2heap"
msg = b"0123456789abcdef0123456789abcdef"
c.publish(topic, msg, qos=2)  # warm-up, outside the lock
for _ in range(50):
    c.poll(10)


def work(n):
    for i in range(n):
        while not c.publish(topic, msg, qos=2):
            c.poll(10)
        c.poll(0)
    for i in range(50):
        c.poll(20)
    while c.pending():
        c.poll(10)


gc.collect()
got[0] = 0
before = gc.mem_free()
micropython.heap_lock()
try:
    work(n)
finally:
    micropython.heap_unlock()
    after = gc.mem_free()
print("ok", c.pending(), before - after, "in", got[0])
c.disconnect()
