# The asyncio API end to end against a broker: connect, subscribe, messages() and the
# callback, publish at QoS 0 and 1 (ack=True: once its PUBACK came), 8 publisher tasks
# sharing a store of 8, the heap a publish costs, up/down, disconnect. Prints `key value`.
#   micropython async_basic.py PORT
import sys
import gc
import asyncio
from time import ticks_ms, ticks_diff
from leanmqtt_async import MQTTClient

port = int(sys.argv[1])
got = []


async def main():
    c = MQTTClient("dev-async-basic", "127.0.0.1", port, keepalive=10, timeout=2, inflight=8)
    c.set_callback(lambda t, m: got.append((t, m)))
    print("up_before", c.up.is_set(), c.down.is_set())
    sp = await c.connect()
    print("connected", c.isconnected(), sp, c.up.is_set(), c.down.is_set())
    await c.subscribe(b"lean/echo/#", 1)
    print("subscribed")
    ok = await c.publish(b"lean/echo/a", b"one", qos=1, ack=True)
    print("acked", ok, c.pending())
    await c.publish(b"lean/echo/b", b"two")
    it = c.messages()
    await c.publish(b"lean/echo/c", b"three", qos=1)
    t, m = await it.__anext__()
    print("message", t.decode(), m.decode())
    n = 0
    async for t, m in c.messages():
        print("message", t.decode(), m.decode())
        n += 1
        if n == 1:
            break
    print("callback", [x[1].decode() for x in got])
    # 8 tasks, each its own stop-and-wait QoS 1 stream, share the store.
    count = [0]

    async def pub():
        while count[0] < 400:
            count[0] += 1
            await c.publish(b"lean/load", b"x" * 8, qos=1, ack=True)

    t0 = ticks_ms()
    tasks = [asyncio.create_task(pub()) for _ in range(8)]
    for t in tasks:
        await t
    print("tasks8", count[0], "pending", c.pending(), "ms", ticks_diff(ticks_ms(), t0))
    # Heap per publish, GC off: the coroutine frame of each `await c.publish(...)`.
    for qos in (0, 1):
        await c.publish(b"lean/load", b"y", qos=qos, ack=True)
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        for i in range(200):  # the loop's own range object is below 200 B
            await c.publish(b"lean/load", b"y", qos=qos, ack=qos)
        print("alloc_qos%d" % qos, (gc.mem_alloc() - a) // 200)
        gc.enable()
    # What need not wait allocates nothing: QoS 0, and QoS 1 into a free slot.
    import micropython

    while c.pending():
        await asyncio.sleep_ms(5)
    micropython.heap_lock()
    try:
        for i in range(20):
            await c.publish(b"lean/load", b"z", qos=0)
        for i in range(8):
            await c.publish(b"lean/load", b"z", qos=1)
        r = "ok"
    except MemoryError:
        r = "MemoryError"
    micropython.heap_unlock()
    print("heap_lock", r, c.pending())
    await c.unsubscribe(b"lean/echo/#")
    await c.disconnect()
    print("disconnected", c.isconnected(), c.up.is_set(), c.down.is_set())
    # Offline, a QoS 0 message is refused and counted; a QoS 1 one is stored.
    print("offline", await c.publish(b"lean/x", b"1"), c.core.dropped,
          await c.publish(b"lean/x", b"1", qos=1), c.pending())


asyncio.run(main())
