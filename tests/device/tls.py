# TLS with a verified server certificate. Prints what the host checks.
#   micropython tls.py PORT CA_DER HOST MODE     MODE: basic | resilient
import sys
import gc
import ssl
from leanmqtt import MQTTClient

port, ca, host, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with open(ca, "rb") as f:
    cadata = f.read()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(cadata=cadata)
got = []
c = MQTTClient("dev-tls", host, port, ssl=ctx, keepalive=5, timeout=3,
               reconnect=(mode == "resilient"), inflight=8)
c.set_callback(lambda t, m: got.append(m))


def rss_kb():  # the process's resident memory: mbedTLS allocates from libc on this port
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


gc.collect()
before, rss = gc.mem_alloc(), rss_kb()
try:
    c.connect()
except ValueError as e:  # MicroPython's ssl: a certificate that does not verify
    print("refused", type(e).__name__, str(e).strip())
    print("connected", c.isconnected())
    sys.exit(0)
gc.collect()
print("connected", c.isconnected(), "gc_bytes", gc.mem_alloc() - before, "rss_kb", rss_kb() - rss)
if mode == "basic":
    c.subscribe("lean/tls", 1)
    c.publish("lean/tls", b"secret hello", qos=1)
    for _ in range(20):
        c.poll(100)
        if got:
            break
    print("echo", got)
    c.disconnect()
else:
    from time import ticks_ms, ticks_diff

    msg = bytearray(b"000")
    i = 0
    due = ticks_ms()
    for _ in range(3000):  # bounded: 30 s at most; one reading per 50 ms
        if i < 100 and ticks_diff(ticks_ms(), due) >= 0:
            msg[0], msg[1], msg[2] = 48 + i // 100, 48 + i // 10 % 10, 48 + i % 10
            if c.publish(b"lean/seq", msg, qos=1):
                i += 1
                due += 50
        c.poll(10)
        if i == 100 and not c.pending():
            break
    print("published", i, "pending", c.pending(), "reconnects", c.reconnects)
    c.disconnect()
