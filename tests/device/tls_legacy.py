# umqtt.simple's older TLS form, as most tutorials write it: ssl=True, ssl_params={...}
# (issue 11, item 15).   micropython tls_legacy.py PORT CA_DER
import sys
import ssl
from leanmqtt import MQTTClient

port, ca = int(sys.argv[1]), sys.argv[2]
with open(ca, "rb") as f:
    cadata = f.read()
got = []
c = MQTTClient("dev-tls-legacy", "localhost", port, ssl=True, keepalive=5, timeout=3,
               ssl_params={"server_hostname": "localhost", "cert_reqs": ssl.CERT_REQUIRED,
                           "cadata": cadata})
c.set_callback(lambda t, m: got.append(m))
try:
    c.connect()
except Exception as e:
    print("refused", type(e).__name__, e)
    raise SystemExit
print("connected", c.isconnected())
c.subscribe(b"lean/tls", 1)
c.publish(b"lean/tls", b"legacy hello", qos=1)
for _ in range(20):
    c.poll(50)
    if got:
        break
print("echo", got)
c.disconnect()
