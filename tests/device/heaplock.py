# After connect(), publish() at QoS 0 and 1 and poll() allocate nothing: heap locked.
import sys
import gc
import micropython
from leanmqtt import MQTTClient

port = int(sys.argv[1])
mode = sys.argv[2]  # plain | resilient
n = int(sys.argv[3])
if mode == "plain":
    c = MQTTClient("dev-heap", "127.0.0.1", port, keepalive=2)
else:
    c = MQTTClient("dev-heap", "127.0.0.1", port, keepalive=2, reconnect=True, inflight=8)
c.connect()
topic = b"lean/heap"
msg = b"0123456789abcdef0123456789abcdef"
c.publish(topic, msg, qos=1)  # warm-up, outside the lock
c.poll(10)


def work(n):
    # In a function: a new module-level name would allocate a dict slot under the lock.
    for i in range(n):
        c.publish(topic, msg)
        c.publish(topic, msg, qos=1)
        c.poll(0)
    for i in range(30):  # idle: the PINGREQ / PINGRESP path, heap still locked
        c.poll(100)
    while c.pending():
        c.poll(10)


gc.collect()
before = gc.mem_free()
micropython.heap_lock()
try:
    work(n)
finally:
    micropython.heap_unlock()
print("ok", c.pending(), before - gc.mem_free())
c.disconnect()
