# Resilient mode with credentials that stop working: the refusal is logged and retried
# only after the longest backoff, not in a tight loop. Prints timestamped events.
import sys
from time import ticks_ms, ticks_diff
from leanmqtt import MQTTClient

port, user, pswd, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
t0 = ticks_ms()


def log(*a):
    print("event", ticks_diff(ticks_ms(), t0), *a)


c = MQTTClient("dev-auth", "127.0.0.1", port, user=user, password=pswd, keepalive=2,
               timeout=1, reconnect=True, log=log)
c.backoff_min = 100
c.backoff_max = 3000
print("connected", c.connect() is not None and c.isconnected())
end = ticks_ms() + seconds * 1000
while ticks_diff(end, ticks_ms()) > 0:
    c.poll(50)
print("reconnects", c.reconnects)
