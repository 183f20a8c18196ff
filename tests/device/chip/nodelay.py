# On the emulated RP2040: is Nagle off after connect()? A QoS 0 PUBLISH, then a QoS 1 one
# right behind it, then the PUBACK awaited, ROUNDS times: with Nagle on, the second small
# segment waits for slirp's delayed ACK of the first. Timed as the client leaves the socket,
# then with Nagle switched back on (option 64 = 0), then with the old setsockopt(6, 1, 1) on
# top of that, which lwIP ignores. ARGS: (port, rounds). Prints ms per round for each.
import socket
from time import ticks_ms, ticks_diff
from leanmqtt import MQTTClient

c = MQTTClient("chip-nodelay", HOST, ARGS[0], keepalive=30, reconnect=True, inflight=2)
c.connect()
print("TCP_NODELAY", getattr(socket, "TCP_NODELAY", None))


def rounds(n):
    t = ticks_ms()
    for i in range(n):
        c.publish(b"chip/nd", b"zero")
        c.publish(b"chip/nd", b"one", qos=1)
        for _ in range(500):
            if not c.pending():
                break
            c.poll(2)
    return ticks_diff(ticks_ms(), t) * 1000 // n


rounds(2)  # warm-up
print("as_connected", rounds(ARGS[1]))
c.sock.setsockopt(6, socket.TCP_NODELAY, 0)
print("nagle_on", rounds(ARGS[1]))
c.sock.setsockopt(6, 1, 1)
print("old_option", rounds(ARGS[1]))
print("pending", c.pending(), "reconnects", c.reconnects)
c.disconnect()
