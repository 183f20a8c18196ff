# On the emulated RP2040: numbered QoS 1 readings through a fault proxy that the host turns
# into a black hole and back; the link's death is found by the keepalive, the client
# redials, and every reading arrives. ARGS: (port, keepalive, count, interval_ms).
from time import ticks_ms, ticks_diff, ticks_add
from leanmqtt import MQTTClient

port, ka, count, interval = ARGS
t0 = ticks_ms()


def log(*a):
    print("event", ticks_diff(ticks_ms(), t0), *a)


c = MQTTClient("chip-dead", HOST, port, keepalive=ka, timeout=2, reconnect=True,
               inflight=8, bufsize=64, log=log)
c.backoff_min = 200
c.backoff_max = 1000
c.connect(clean_session=False)
print("connected", c.isconnected())


def run():
    msg = bytearray(b"000000")
    i = refused = 0
    up = True
    due = ticks_ms()
    end = ticks_ms() + 60000
    while i < count and ticks_diff(end, ticks_ms()) > 0:
        if c.isconnected() != up:
            up = not up
            log("up" if up else "down")
        if ticks_diff(ticks_ms(), due) >= 0:
            n = i
            for k in range(5, -1, -1):
                msg[k] = 48 + n % 10
                n //= 10
            if c.publish(b"chip/seq", msg, qos=1):
                i += 1
                due = ticks_add(due, interval)
            else:
                refused += 1  # the store is full while the link is down: tried again later
        c.poll(20)
    end = ticks_ms() + 20000
    while c.pending() and ticks_diff(end, ticks_ms()) > 0:
        c.poll(50)
    print("published", i, "refused", refused)
    print("done pending", c.pending(), "reconnects", c.reconnects)


run()
c.disconnect()
