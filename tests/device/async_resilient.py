# The resilience scenarios through the asyncio API: numbered QoS 1 readings, published by
# one task with `await c.publish`, while a ticker task must wake every 10 ms; prints what
# happened, and the ticker's worst lateness. Every loop here is bounded.
#   micropython async_resilient.py PORT KEEPALIVE COUNT INTERVAL_MS [IDLE_MS] [INFLIGHT] [TASKS]
import sys
import gc
import asyncio
from time import ticks_ms, ticks_diff, ticks_add
from leanmqtt_async import MQTTClient

port, ka, count, interval = [int(a) for a in sys.argv[1:5]]
idle = int(sys.argv[5]) if len(sys.argv) > 5 else 0
inflight = int(sys.argv[6]) if len(sys.argv) > 6 else 8
tasks = int(sys.argv[7]) if len(sys.argv) > 7 else 1
t0 = ticks_ms()
late = [0]  # the ticker's worst lateness, ms
TICK = 10


def log(*a):
    print("event", ticks_diff(ticks_ms(), t0), *a)


async def ticker():
    due = ticks_add(ticks_ms(), TICK)
    while True:
        await asyncio.sleep_ms(max(0, ticks_diff(due, ticks_ms())))
        d = ticks_diff(ticks_ms(), due)
        if d > late[0]:
            late[0] = d
        due = ticks_add(due, TICK)
        if ticks_diff(ticks_ms(), due) > 0:
            due = ticks_add(ticks_ms(), TICK)  # do not count a missed tick twice


async def watch(c):
    while True:
        await c.down.wait()
        log("down")
        await c.up.wait()
        log("up")


async def publisher(c, k, state):
    msg = bytearray(b"000000")
    while state[0] < count:
        n = state[0]
        state[0] += 1
        for j in range(5, -1, -1):  # the number as 6 ASCII digits, in place
            msg[j] = 48 + n % 10
            n //= 10
        await c.publish(b"lean/seq", msg, qos=1)
        if interval:
            await asyncio.sleep_ms(interval)


async def main():
    c = MQTTClient("dev-async", "127.0.0.1", port, keepalive=ka, timeout=1, inflight=inflight,
                   bufsize=64, log=log)
    c.core.backoff_min = 200
    c.core.backoff_max = 1000
    asyncio.create_task(ticker())
    await c.connect(clean_session=False)
    print("connected", c.isconnected(), "late", late[0])
    late[0] = 0  # from here on, what the link costs other tasks
    asyncio.create_task(watch(c))
    state = [0]
    pubs = [asyncio.create_task(publisher(c, k, state)) for k in range(tasks)]
    for p in pubs:
        await p
    print("published", state[0], "late", late[0])
    late[0] = 0
    await asyncio.sleep_ms(idle)
    end = ticks_add(ticks_ms(), 30000)
    while c.pending() and ticks_diff(end, ticks_ms()) > 0:
        await asyncio.sleep_ms(50)
    gc.collect()
    print("done pending", c.pending(), "reconnects", c.core.reconnects, "late", late[0])
    await c.disconnect()


asyncio.run(main())
