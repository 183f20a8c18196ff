# On the emulated RP2040, through PPP: connect, QoS 0 and 1 publish, subscribe and receive.
# ARGS: (broker port,). Prints what the host checks.
from leanmqtt import MQTTClient

got = []
c = MQTTClient("chip-pubsub", HOST, ARGS[0], keepalive=30)
c.set_callback(lambda t, m: got.append((bytes(t), bytes(m))))
print("connack", c.connect())
c.subscribe(b"chip/in", 1)
for i in range(5):
    c.publish(b"chip/q0", b"zero %d" % i)
for i in range(5):
    c.publish(b"chip/q1", b"one %d" % i, qos=1)
c.publish(b"chip/in", b"echo", qos=1)
print("ready")
for _ in range(100):  # up to 10 s of device time for the echo and the host's message
    c.poll(100)
    if len(got) >= 2:
        break
for t, m in got:
    print("msg", t.decode(), m.decode())
print("pending", c.pending())
c.disconnect()
