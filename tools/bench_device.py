# Runs on the unix port: one measurement of one client, printed as `key value` lines.
# Usage: micropython bench_device.py MODULE PORT WHAT [N]
#   MODULE  leanmqtt | umqtt.simple | umqtt.robust | floor (bench_floor.py: rates only)
#   WHAT    rates | alloc | writes | window | wire | idle | deadlink
#           (leanmqtt only: rates2, window2: the same at QoS 2)
# (import RAM and the smallest heap come from the smaller bench_workload.py)
import sys
import gc

mod, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 1000

MQTTClient = __import__(mod, None, None, ["MQTTClient"]).MQTTClient

from time import ticks_us, ticks_diff

TOPIC = b"bench/reading"
PAYLOAD = b"0123456789abcdef0123456789abcdef"  # 32 bytes, as in the anchors' figures

if what in ("window", "window2"):  # leanmqtt only: an in-flight window, not stop-and-wait
    c = MQTTClient(b"bench-" + mod.encode(), "127.0.0.1", port, reconnect=True, inflight=16)
elif what == "idle":  # keepalive n seconds, then idle for 4 keepalives
    c = MQTTClient(b"bench-" + mod.encode(), "127.0.0.1", port, keepalive=n)
elif what == "deadlink":
    c = MQTTClient(b"bench-" + mod.encode(), "127.0.0.1", port, keepalive=n, reconnect=True,
                   inflight=8, timeout=2)
    c.backoff_min = 200
else:
    c = MQTTClient(b"bench-" + mod.encode(), "127.0.0.1", port)
c.connect()

if what == "rates":
    # Each client's rate, then the raw limit on the same connection, right after: the same
    # prebuilt QoS 0 PUBLISH written whole, and a QoS 1 PUBLISH / PUBACK ping-pong, both
    # blocking, no client code in the loop (issue 14's "distance to the limit").
    tl, pl = len(TOPIC), len(PAYLOAD)
    raw0 = bytes([0x30, 2 + tl + pl, 0, tl]) + TOPIC + PAYLOAD
    raw1 = bytearray([0x32, 4 + tl + pl, 0, tl]) + TOPIC + b"\xff\xff" + PAYLOAD
    ack = bytearray(4)
    # Three rounds, client then raw each time, and the best of each: on a loaded machine
    # one round's share swings by half.
    for qos, count in ((0, n), (1, max(n // 20, 20))):
        best = [0, 0]
        for _ in range(3):
            c.publish(TOPIC, PAYLOAD, qos=1)  # warm up, and start from an acked state
            t = ticks_us()
            for i in range(count):
                c.publish(TOPIC, PAYLOAD, qos=qos)
            best[0] = max(best[0], count * 1000000 // max(ticks_diff(ticks_us(), t), 1))
            s = c.sock
            s.setblocking(True)
            t = ticks_us()
            if qos == 0:
                for i in range(count):
                    s.write(raw0)
            else:  # packet id 0xFFFF: never one of the client's in this run
                for i in range(count):
                    s.write(raw1)
                    got = 0
                    while got < 4:
                        got += s.readinto(memoryview(ack)[got:])
                    if ack[0] != 0x40:
                        raise OSError("raw: not a PUBACK")
            best[1] = max(best[1], count * 1000000 // max(ticks_diff(ticks_us(), t), 1))
            if mod == "leanmqtt":
                s.setblocking(False)  # as connect() left it
        print("qos%d_rate" % qos, best[0])
        print("qos%d_raw_rate" % qos, best[1])
    c.disconnect()
elif what == "alloc":
    # Heap bytes requested per publish: gc off, so nothing is reclaimed while counting.
    # In a function: a new module-level name would count as the client's allocation.
    def alloc(qos):
        c.publish(TOPIC, PAYLOAD, qos=qos)
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        for i in range(100):
            c.publish(TOPIC, PAYLOAD, qos=qos)
        b = gc.mem_alloc()
        gc.enable()
        return (b - a) // 100

    for qos in (0, 1, 2) if mod == "leanmqtt" else (0, 1):  # umqtt: QoS 2 is `assert 0`
        print("alloc_qos%d" % qos, alloc(qos))
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
elif what == "writes":
    # Run under strace: the marker lines on stdout split the socket writes by phase.
    print("MARK-Q0")
    for i in range(n):
        c.publish(TOPIC, PAYLOAD)
    print("MARK-Q1")
    for i in range(n):
        c.publish(TOPIC, PAYLOAD, qos=1)
    print("MARK-END")
    c.disconnect()
elif what in ("window", "window2"):
    q = 2 if what == "window2" else 1
    c.publish(TOPIC, PAYLOAD, qos=q)
    while c.pending():
        c.poll(10)
    t = ticks_us()
    sent = 0
    while sent < n:
        if c.publish(TOPIC, PAYLOAD, qos=q):
            sent += 1
        c.poll(0)
    while c.pending():
        c.poll(10)
    print(what + "_rate", n * 1000000 // max(ticks_diff(ticks_us(), t), 1))
    c.disconnect()
elif what == "rates2":  # leanmqtt only: QoS 2, plain mode: each publish waits for PUBCOMP
    c.publish(TOPIC, PAYLOAD, qos=2)
    t = ticks_us()
    for i in range(n):
        c.publish(TOPIC, PAYLOAD, qos=2)
    print("qos2_rate", n * 1000000 // max(ticks_diff(ticks_us(), t), 1))
    c.disconnect()
elif what == "wire":
    # QoS 1 readings through the proxy, which counts the bytes.
    for i in range(n):
        c.publish(TOPIC, PAYLOAD, qos=1)
    c.disconnect()
elif what == "idle":
    # Four keepalives of idling, servicing the link the way each client allows.
    from time import sleep_ms

    end = ticks_us() + 4 * n * 1000000
    while ticks_diff(end, ticks_us()) > 0:
        try:
            c.check_msg()
        except Exception as e:  # umqtt: the broker dropped it, since nothing pinged
            print("dropped", repr(e))
            break
        sleep_ms(50)
    print("idle_done")
elif what == "deadlink":
    # Publishes a QoS 1 reading every 50 ms; the host blackholes the link and restores it.
    from time import ticks_ms, sleep_ms

    was = True
    i = 0
    due = ticks_ms()
    t_end = ticks_ms() + 30000
    while ticks_diff(t_end, ticks_ms()) > 0 and i < 200:
        if ticks_diff(ticks_ms(), due) >= 0:
            if c.publish(TOPIC, PAYLOAD, qos=1):
                i += 1
            due += 50
        c.poll(10)
        if c.isconnected() != was:
            was = not was
            print("link", "up" if was else "down")
    print("deadlink_done", i, c.pending())
