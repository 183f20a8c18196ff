# Resilient mode under faults: publishes numbered QoS 1 readings, services the link with
# poll(), and prints what happened. Every loop here is bounded.
#   micropython resilient.py PORT KEEPALIVE COUNT INTERVAL_MS [IDLE_MS] [INFLIGHT] [QOS]
import sys
import gc
from time import ticks_ms, ticks_diff
from leanmqtt import MQTTClient

port, ka, count, interval = [int(a) for a in sys.argv[1:5]]
idle = int(sys.argv[5]) if len(sys.argv) > 5 else 0
inflight = int(sys.argv[6]) if len(sys.argv) > 6 else 8
qos = int(sys.argv[7]) if len(sys.argv) > 7 else 1
t0 = ticks_ms()


def log(*a):
    print("event", ticks_diff(ticks_ms(), t0), *a)


c = MQTTClient("dev-resilient", "127.0.0.1", port, keepalive=ka, timeout=2,
               reconnect=True, inflight=inflight, bufsize=64, log=log)
c.backoff_min = 200
c.backoff_max = 1000
c.connect(clean_session=False)
print("connected", c.isconnected())
msg = bytearray(b"000000")
i = 0
refused = 0
next_t = ticks_ms()
deadline = ticks_ms() + 120000
was_up = True


def watch_link():
    global was_up
    if c.isconnected() != was_up:
        was_up = not was_up
        print("event", ticks_diff(ticks_ms(), t0), "up" if was_up else "down")


while i < count and ticks_diff(deadline, ticks_ms()) > 0:
    watch_link()
    if ticks_diff(ticks_ms(), next_t) >= 0:
        n = i
        for k in range(5, -1, -1):  # the number as 6 ASCII digits, in place
            msg[k] = 48 + n % 10
            n //= 10
        if c.publish(b"lean/seq", msg, qos=qos):
            i += 1
            next_t += interval
        else:
            refused += 1
    c.poll(min(interval, 20))
    if i and i % 2000 == 0 and count >= 10000:
        gc.collect()
        print("heap", i, gc.mem_alloc())
print("published", i, "refused", refused)
end = ticks_ms() + idle
while ticks_diff(end, ticks_ms()) > 0:
    c.poll(50)
    watch_link()
end = ticks_ms() + 30000
while c.pending() and ticks_diff(end, ticks_ms()) > 0:
    c.poll(50)
gc.collect()
print("heap", i, gc.mem_alloc())
print("done pending", c.pending(), "reconnects", c.reconnects, "dropped", c.dropped)
c.disconnect()
