# Connects with a will, then leaves by DISCONNECT ("clean") or by dying ("abrupt").
import sys
from leanmqtt import MQTTClient

port, mode = int(sys.argv[1]), sys.argv[2]
c = MQTTClient("dev-will-" + mode, "127.0.0.1", port, keepalive=30)
c.set_last_will("lean/will", "gone " + mode, retain=False, qos=int(sys.argv[3]) if len(sys.argv) > 3 else 1)
c.connect()
c.publish("lean/status", "up " + mode, qos=1)
if mode == "clean":
    c.disconnect()
print("exit", mode)
# abrupt: the process ends with the socket open; the kernel closes it without DISCONNECT
