# N devices in one unix-port process, each a leanmqtt client in resilient mode publishing a
# QoS 1 reading every INTERVAL_MS: "<device>,<seq>,<sent at, ms since the epoch>".
#   micropython fleet_device.py PORT N SECONDS INTERVAL_MS [BACKOFF_MAX_MS]
import sys
import gc
import time
from leanmqtt import MQTTClient

port, n, seconds, interval = [int(a) for a in sys.argv[1:5]]
backoff_max = int(sys.argv[5]) if len(sys.argv) > 5 else 0  # 0: the client's default
gc.collect()
before = gc.mem_alloc()
clients = []
for d in range(n):
    c = MQTTClient("fleet-%03d" % d, "127.0.0.1", port, keepalive=30, reconnect=True, inflight=4)
    if backoff_max:
        c.backoff_max = backoff_max
    c.connect(clean_session=False)
    clients.append(c)
gc.collect()
print("ram_per_device", (gc.mem_alloc() - before) // n)
topics = [b"fleet/%03d" % d for d in range(n)]
seq = [0] * n
start = time.ticks_ms()
due = [time.ticks_add(start, d * interval // n) for d in range(n)]  # spread over the interval
end = time.ticks_add(start, seconds * 1000)
refused = 0
while time.ticks_diff(end, time.ticks_ms()) > 0:
    for d in range(n):
        c = clients[d]
        if time.ticks_diff(time.ticks_ms(), due[d]) >= 0:
            msg = b"%d,%d,%d" % (d, seq[d], time.time_ns() // 1000000)
            if c.publish(topics[d], msg, qos=1):
                seq[d] += 1
            else:
                refused += 1
            due[d] = time.ticks_add(due[d], interval)
        c.poll(0)
    time.sleep_ms(1)
# Everything accepted is delivered before we stop.
deadline = time.ticks_add(time.ticks_ms(), 20000)
while any(c.pending() for c in clients) and time.ticks_diff(deadline, time.ticks_ms()) > 0:
    for c in clients:
        c.poll(0)
    time.sleep_ms(2)
print("sent", sum(seq), "refused", refused, "pending", sum(c.pending() for c in clients))
for c in clients:
    c.disconnect()
