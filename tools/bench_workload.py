# The fixed workload behind "smallest working heap" and "import RAM", kept small: this
# script's own size counts against the heap as much as the client's.
#   micropython bench_workload.py MODULE PORT import|workload
import sys
import gc

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
