# On the emulated RP2040: TLS verified against a CA's certificate (DER, made by the host at
# test time), the RTC set from the host's clock first (it starts in 2021, when certificates
# made today are not valid yet). ARGS: (port, CA DER bytes, RTC datetime tuple).
import gc
import ssl
import machine
from leanmqtt import MQTTClient

machine.RTC().datetime(ARGS[2])
cadata = ARGS[1]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(cadata=cadata)
got = []
c = MQTTClient("chip-tls", HOST, ARGS[0], ssl=ctx, keepalive=30, timeout=10)
c.set_callback(lambda t, m: got.append(bytes(m)))
gc.collect()
free = gc.mem_free()
try:
    c.connect()
except Exception as e:  # MicroPython's ssl: a certificate that does not verify
    print("refused", type(e).__name__, str(e).strip())
    print("connected", c.isconnected())
else:
    gc.collect()
    print("connected", c.isconnected(), "heap", free - gc.mem_free())
    c.subscribe(b"chip/tls", 1)
    c.publish(b"chip/tls", b"secret hello", qos=1)
    for _ in range(50):
        c.poll(100)
        if got:
            break
    print("echo", got)
    c.disconnect()
