# Publishing through the outbox with the heap locked, after the first message: puts, the
# window fed from the outbox, PUBACKs (ack records); between rotations of its files (a
# rotation opens a file again: tests/device/outbox_unit.py measures that allocation).
#   micropython outbox_heaplock.py PORT DIR N
import sys
import gc
import micropython
from leanmqtt import MQTTClient
from outbox import Outbox

port, d, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ob = Outbox(d + "/ob", 65536, window=4, latest=(b"lean/status",))
c = MQTTClient("dev-obheap", "127.0.0.1", port, keepalive=2, reconnect=True, inflight=4,
               outbox=ob)
c.connect()
topic = b"lean/heap"
msg = b"0123456789abcdef0123456789abcdef"
c.publish(topic, msg, qos=1)  # the first message, outside the lock
while c.pending():
    c.poll(10)
gen = ob._gen


def work(n):
    refused = 0
    for i in range(n):
        if not c.publish(topic, msg, qos=1):
            refused += 1
        c.publish(b"lean/status", b"up", qos=1)
        c.publish(topic, msg)  # QoS 0 beside them
        c.poll(0)
    for i in range(200):
        if not c.pending():
            break
        c.poll(10)
    return refused


gc.collect()
micropython.heap_lock()
try:
    refused = work(n)
finally:
    micropython.heap_unlock()
print("ok", refused, c.pending(), ob._gen - gen)
c.disconnect()
