# On the emulated RP2040: a will, then machine.reset() with the link up; no DISCONNECT goes
# out. The host waits for the will and for the chip to boot again. ARGS: (port,).
import machine
from leanmqtt import MQTTClient

c = MQTTClient("chip-will", HOST, ARGS[0], keepalive=2)
c.set_last_will(b"chip/status", b"offline", retain=True, qos=1)
c.connect()
c.publish(b"chip/status", b"online", retain=True, qos=1)
print("resetting")
machine.reset()
