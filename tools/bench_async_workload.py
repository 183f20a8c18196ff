# bench_workload.py for the asyncio clients (mqtt_as, leanmqtt_async): the same workload,
# kept as small, as this script's own size counts against the heap.
#   micropython bench_async_workload.py MODULE PORT [BALLAST]
import sys

M = sys.argv[1]
if M == "mqtt_as":
    import network  # noqa: F401  # tools/bench_network.py, which mqtt_as needs
ballast = bytearray(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
mod = __import__(M)
import asyncio

P = b"0123456789abcdef0123456789abcdef"


async def main():
    if M == "mqtt_as":
        cfg = mod.config
        cfg["server"], cfg["port"], cfg["client_id"] = "127.0.0.1", int(sys.argv[2]), b"bench"
        c = mod.MQTTClient(cfg)
        await c.connect(quick=True)
    else:
        c = mod.MQTTClient(b"bench", "127.0.0.1", int(sys.argv[2]))
        await c.connect()
    for i in range(50):
        await c.publish(b"bench/reading", P)
    for i in range(20):
        await c.publish(b"bench/reading", P, qos=1)
    await c.disconnect()
    print("ok")


asyncio.run(main())
