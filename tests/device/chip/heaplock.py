# On the emulated RP2040: publish() at QoS 0 and 1 and poll() through PPP with the heap
# locked (micropython.heap_lock: any allocation raises MemoryError). ARGS: (port, n).
import gc
import micropython
from leanmqtt import MQTTClient

c = MQTTClient("chip-heap", HOST, ARGS[0], keepalive=2, reconnect=True, inflight=8)
c.connect()
topic = b"chip/heap"
msg = b"0123456789abcdef0123456789abcdef"
c.publish(topic, msg, qos=1)  # warm-up, outside the lock
c.poll(10)


def work(n):
    for i in range(n):
        c.publish(topic, msg)
        c.publish(topic, msg, qos=1)
        c.poll(0)
    for i in range(25):  # idle past the keepalive: PINGREQ / PINGRESP, heap still locked
        c.poll(100)
    for i in range(200):
        if not c.pending():
            break
        c.poll(10)


gc.collect()
before = gc.mem_free()
micropython.heap_lock()
try:
    work(ARGS[1])
finally:
    micropython.heap_unlock()
print("ok", c.pending(), before - gc.mem_free())
c.disconnect()
