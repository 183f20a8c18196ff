# The fixed workload behind "smallest working heap" and "import RAM", kept small: this
# script's own size counts against the heap as much as the client's.
#   micropython bench_workload.py MODULE PORT import|workload [BALLAST]
# BALLAST bytes are held first, standing for the rest of an application: the anchors'
# figures (../shared/anchors.md) were taken with a harness that held 8.2 KB.
import sys
import gc

ballast = bytearray(int(sys.argv[4]) if len(sys.argv) > 4 else 0)

gc.collect()
before = gc.mem_alloc()
MQTTClient = __import__(sys.argv[1], None, None, ["MQTTClient"]).MQTTClient
gc.collect()
if sys.argv[3] == "import":
    print("import_ram", gc.mem_alloc() - before)
else:
    c = MQTTClient(b"bench", "127.0.0.1", int(sys.argv[2]))
    c.connect()
    for i in range(50):
        c.publish(b"bench/reading", b"0123456789abcdef0123456789abcdef")
    for i in range(20):
        c.publish(b"bench/reading", b"0123456789abcdef0123456789abcdef", qos=1)
    c.disconnect()
    print("ok")
