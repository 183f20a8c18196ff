# bench_workload.py and the rates/alloc parts of bench_device.py for mqtt_as, whose API is
# asyncio: the same workload, the same payloads, printed as `key value` lines.
#   micropython bench_async.py PORT import|workload|rates|alloc [N|BALLAST]
import sys
import gc
import network  # tools/bench_network.py: before mqtt_as, which imports it and machine

ballast = bytearray(int(sys.argv[3]) if sys.argv[2] == "workload" and len(sys.argv) > 3 else 0)

gc.collect()
before = gc.mem_alloc()
from mqtt_as import MQTTClient, config
import asyncio

gc.collect()
what = sys.argv[2]
if what == "import":
    print("import_ram", gc.mem_alloc() - before)
    sys.exit()
config["server"] = "127.0.0.1"
config["port"] = int(sys.argv[1])
config["client_id"] = b"bench-mqtt_as"
TOPIC = b"bench/reading"
PAYLOAD = b"0123456789abcdef0123456789abcdef"


async def main():
    c = MQTTClient(config)
    await c.connect(quick=True)
    if what == "workload":
        for i in range(50):
            await c.publish(TOPIC, PAYLOAD)
        for i in range(20):
            await c.publish(TOPIC, PAYLOAD, qos=1)
        print("ok")
    elif what == "rates":
        from time import ticks_us, ticks_diff

        n = int(sys.argv[3])
        for qos, count in ((0, n), (1, max(n // 20, 20))):
            await c.publish(TOPIC, PAYLOAD, qos=1)
            t = ticks_us()
            for i in range(count):
                await c.publish(TOPIC, PAYLOAD, qos=qos)
            print("qos%d_rate" % qos, count * 1000000 // max(ticks_diff(ticks_us(), t), 1))
    elif what == "alloc":
        # Bytes requested per publish with the GC off (other tasks run meanwhile, as they
        # would on a board), then one publish of each QoS with the heap locked.
        import micropython

        for qos in (0, 1):
            await c.publish(TOPIC, PAYLOAD, qos=qos)
            gc.collect()
            gc.disable()
            a = gc.mem_alloc()
            for i in range(100):
                await c.publish(TOPIC, PAYLOAD, qos=qos)
            print("alloc_qos%d" % qos, (gc.mem_alloc() - a) // 100)
            gc.enable()
        try:
            micropython.heap_lock()
            await c.publish(TOPIC, PAYLOAD)
            await c.publish(TOPIC, PAYLOAD, qos=1)
            micropython.heap_unlock()
            print("heap_lock ok")
        except MemoryError:
            micropython.heap_unlock()
            print("heap_lock MemoryError")
    await c.disconnect()


asyncio.run(main())
