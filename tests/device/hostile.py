# Meets each scripted case in turn (one connection each) and prints how it ended:
#   case <i> MQTTException <args> | OSError <e> | returned <op> ; then connected <bool>
import sys
from leanmqtt import MQTTClient, MQTTException

port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    c = MQTTClient("dev-hostile", "127.0.0.1", port, keepalive=2, timeout=2, rxsize=128)
    c.set_callback(lambda t, m: None)
    try:
        c.connect()
        for _ in range(10):  # bounded: a case that parses as valid returns here
            c.wait_msg()
        print("case", i, "returned")
    except MQTTException as e:
        print("case", i, "MQTTException", e.args[0])
    except OSError as e:
        print("case", i, "OSError", e)
    except MemoryError:
        print("case", i, "MemoryError")
    print("connected", i, c.isconnected())
    c.disconnect()
