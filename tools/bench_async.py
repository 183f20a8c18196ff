# The asyncio clients side by side, mqtt_as and leanmqtt_async: the import and the
# rates/alloc parts of bench_device.py as asyncio code, the same payloads for both, plus 8
# concurrent publisher tasks and the latency of a message while other tasks run (the
# workload behind "smallest heap" is bench_async_workload.py). `key value` lines.
#   micropython bench_async.py MODULE PORT import|rates|alloc|tasks|latency [N]
import sys
import gc

MODULE = sys.argv[1]
if MODULE == "mqtt_as":
    import network  # tools/bench_network.py: before mqtt_as, which imports it and machine

gc.collect()
before = gc.mem_alloc()
mod = __import__(MODULE)
gc.collect()
what = sys.argv[3]
if what == "import":
    print("import_ram", gc.mem_alloc() - before)
    sys.exit()
import asyncio
from time import ticks_us, ticks_diff

PORT = int(sys.argv[2])
TOPIC = b"bench/reading"
PAYLOAD = b"0123456789abcdef0123456789abcdef"
got = []  # ticks_us() at each message's callback


def on_message(topic, msg, *retained):
    got.append(ticks_us())


def make():
    # Both clients on defaults, but for a store of 8 (leanmqtt's QoS 1 window) and a callback.
    if MODULE == "mqtt_as":
        cfg = mod.config
        cfg["server"] = "127.0.0.1"
        cfg["port"] = PORT
        cfg["client_id"] = b"bench-mqtt_as"
        cfg["subs_cb"] = on_message
        return mod.MQTTClient(cfg)
    c = mod.MQTTClient(b"bench-lean-async", "127.0.0.1", PORT, keepalive=60, inflight=8)
    c.set_callback(on_message)
    return c


async def connect(c):
    if MODULE == "mqtt_as":
        await c.connect(quick=True)
    else:
        await c.connect()


def publish(c, qos):
    # Stop-and-wait at QoS 1: returns at the PUBACK (mqtt_as always does; ack=True here).
    if MODULE == "mqtt_as":
        return c.publish(TOPIC, PAYLOAD, qos=qos)
    return c.publish(TOPIC, PAYLOAD, qos=qos, ack=qos)


async def main():
    c = make()
    await connect(c)
    if what == "rates":
        n = int(sys.argv[4])
        for qos, count in ((0, n), (1, max(n // 20, 20))):
            await publish(c, 1)
            t = ticks_us()
            for i in range(count):
                await publish(c, qos)
            print("qos%d_rate" % qos, count * 1000000 // max(ticks_diff(ticks_us(), t), 1))
    elif what == "tasks":
        # 8 publisher tasks, each its own stop-and-wait QoS 1 stream.
        n = [max(int(sys.argv[4]) // 10, 40)]
        total = n[0]

        async def publisher():
            while n[0] > 0:
                n[0] -= 1
                await publish(c, 1)

        t = ticks_us()
        tasks = [asyncio.create_task(publisher()) for _ in range(8)]
        for k in tasks:
            await k
        print("tasks8_rate", total * 1000000 // max(ticks_diff(ticks_us(), t), 1))
    elif what == "latency":
        # A QoS 0 message to ourselves through the broker, 100 times, while 4 other tasks
        # each wake every millisecond: from publish() to the callback, in microseconds.
        await c.subscribe(b"bench/echo", 0)
        ticks = [0]

        async def other():
            while True:
                ticks[0] += 1
                await asyncio.sleep_ms(1)

        for _ in range(4):
            asyncio.create_task(other())
        lat = []
        for i in range(100):
            del got[:]
            t = ticks_us()
            await c.publish(b"bench/echo", b"x", qos=0)
            for _ in range(2000):  # up to ~2 s
                if got:
                    break
                await asyncio.sleep_ms(1)
            if got:
                lat.append(ticks_diff(got[0], t))
        lat.sort()
        print("latency_us", lat[len(lat) // 2] if lat else -1, lat[len(lat) * 99 // 100] if lat else -1,
              len(lat))
    elif what == "alloc":
        # Bytes requested per publish with the GC off (the client's background tasks run
        # meanwhile, as they would on a board; each `await` of an async def allocates its
        # coroutine), then one publish of each QoS with the heap locked.
        import micropython

        for qos in (0, 1):
            await publish(c, qos)
            gc.collect()
            gc.disable()
            a = gc.mem_alloc()
            for i in range(100):
                await publish(c, qos)
            print("alloc_qos%d" % qos, (gc.mem_alloc() - a) // 100)
            gc.enable()
        try:
            micropython.heap_lock()
            await publish(c, 0)
            await publish(c, 1)
            micropython.heap_unlock()
            print("heap_lock ok")
        except MemoryError:
            micropython.heap_unlock()
            print("heap_lock MemoryError")
    await c.disconnect()


asyncio.run(main())
