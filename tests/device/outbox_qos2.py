# QoS 2 through the outbox: stored like QoS 1 (with its QoS), fed to the window, done on
# PUBCOMP.  micropython outbox_qos2.py PORT DIR N
import sys
from leanmqtt import MQTTClient
from outbox import Outbox

port, d, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ob = Outbox(d + "/ob", 8192, window=4)
c = MQTTClient("dev-obq2", "127.0.0.1", port, keepalive=5, reconnect=True, inflight=4, outbox=ob)
for i in range(n // 2):  # offline first: stored
    c.publish(b"lean/q2", b"%d" % i, qos=2)
print("held", ob.count)
c.connect()
for i in range(n // 2, n):
    c.publish(b"lean/q2", b"%d" % i, qos=2)
for _ in range(400):
    if not c.pending():
        break
    c.poll(10)
print("done pending", c.pending(), "outbox", ob.count)
c.disconnect()
