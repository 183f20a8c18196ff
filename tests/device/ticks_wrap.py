# The reconnect backoff across the wrap of ticks_ms() (every 2**30 ms, 12.4 days, on a
# 32-bit board; 2**62 here): the next attempt is due after the backoff plus its jitter, not
# at a time computed from a big int that ticks_diff() cannot read.
import time
import leanmqtt
from leanmqtt import MQTTClient

near = time.ticks_add(0, -3)  # 3 ms before the wrap
leanmqtt.ticks_ms = lambda: near
c = MQTTClient("wrap", "127.0.0.1", 1, reconnect=True, log=lambda *a: None)
c.backoff_min = 20000  # jitter up to +10 s: past the wrap
waits = []
for _ in range(20):  # the jitter is random: several draws
    c._delay = 0
    c._fail(OSError("cut"))
    waits.append(c._delay - time.ticks_diff(near, c._retry_t))  # as poll() computes it
print("waits", min(waits), max(waits))
