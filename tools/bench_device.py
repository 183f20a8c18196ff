# Runs on the unix port: one measurement of one client, printed as `key value` lines.
# Usage: micropython bench_device.py MODULE PORT WHAT [N]
#   MODULE  leanmqtt | umqtt.simple | umqtt.robust
#   WHAT    import | workload | rates | alloc
import sys
import gc

mod, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 1000

gc.collect()
before = gc.mem_alloc()
MQTTClient = __import__(mod, None, None, ["MQTTClient"]).MQTTClient
gc.collect()
if what == "import":
    print("import_ram", gc.mem_alloc() - before)
    sys.exit(0)

from time import ticks_us, ticks_diff

TOPIC = b"bench/reading"
PAYLOAD = b"0123456789abcdef0123456789abcdef"  # 32 bytes, as in the anchors' figures

c = MQTTClient(b"bench-" + mod.encode(), "127.0.0.1", port)
c.connect()

if what == "workload":
    # The fixed workload behind "smallest working heap".
    for i in range(50):
        c.publish(TOPIC, PAYLOAD)
    for i in range(20):
        c.publish(TOPIC, PAYLOAD, qos=1)
    c.disconnect()
    print("ok")
elif what == "rates":
    for qos, count in ((0, n), (1, max(n // 20, 20))):
        c.publish(TOPIC, PAYLOAD, qos=1)  # warm up, and start from an acked state
        t = ticks_us()
        for i in range(count):
            c.publish(TOPIC, PAYLOAD, qos=qos)
        dt = ticks_diff(ticks_us(), t)
        print("qos%d_rate" % qos, count * 1000000 // max(dt, 1))
    c.disconnect()
elif what == "alloc":
    # Heap bytes requested per publish: gc off, so nothing is reclaimed while counting.
    for qos in (0, 1):
        c.publish(TOPIC, PAYLOAD, qos=qos)
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        for i in range(100):
            c.publish(TOPIC, PAYLOAD, qos=qos)
        print("alloc_qos%d" % qos, (gc.mem_alloc() - a) // 100)
        gc.enable()
    import micropython

    try:
        micropython.heap_lock()
        c.publish(TOPIC, PAYLOAD, qos=0)
        c.publish(TOPIC, PAYLOAD, qos=1)
        micropython.heap_unlock()
        print("heap_lock", "ok")
    except MemoryError:
        micropython.heap_unlock()
        print("heap_lock", "MemoryError")
    c.disconnect()
