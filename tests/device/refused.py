# A refused CONNECT raises MQTTException(code, reason) and leaves no socket behind.
import sys
from leanmqtt import MQTTClient, MQTTException

port = int(sys.argv[1])
user = sys.argv[2] if len(sys.argv) > 2 else None
pswd = sys.argv[3] if len(sys.argv) > 3 else None
c = MQTTClient("dev-refused", "127.0.0.1", port, user=user, password=pswd)
try:
    c.connect()
    print("accepted")
except MQTTException as e:
    print("refused", e.args[0], e.args[1])
print("connected", c.isconnected())
