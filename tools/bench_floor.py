# The floor: the least an MQTT client's Python can do per message on MicroPython, for the
# bench to print beside the clients (not a client: it checks nothing, keeps no state, and
# a packet in pieces breaks it). publish() copies the topic and the payload into a buffer
# made once and writes the packet in one call; QoS 1 reads the 4 bytes of its PUBACK.
# check_msg() reads a PUBLISH whole (2 bytes, then the rest, in one call each), hands the
# callback its topic (the last one again when the bytes match, as leanmqtt does) and a
# copy of its payload, and acks QoS 1. Any client that does more costs more; the distance
# from this row to a client's is what its checks and state cost.
import socket


class MQTTClient:
    def __init__(self, client_id, server, port=1883):
        self.addr = socket.getaddrinfo(server, port)[0][-1]
        self.id = client_id
        self.buf = bytearray(128)
        self.rx = bytearray(128)
        self.sock = self.cb = self.topic = None

    def set_callback(self, f):
        self.cb = f

    def connect(self):
        s = self.sock = socket.socket()
        s.connect(self.addr)
        # CONNECT: protocol "MQTT" level 4, clean session, keepalive 0, the client id
        n = len(self.id)
        s.write(bytes([0x10, 12 + n, 0, 4]) + b"MQTT\x04\x02\0\0" + bytes([0, n]) + self.id)
        if s.readinto(self.rx, 4) != 4 or self.rx[0] != 0x20 or self.rx[3]:  # CONNACK, accepted
            raise OSError("refused")

    def disconnect(self):
        self.sock.write(b"\xe0\0")
        self.sock.close()

    def publish(self, topic, msg, retain=False, qos=0):
        b = self.buf
        tl = len(topic)
        ml = len(msg)
        i = 7 + tl
        b[3] = 0x30 | qos << 1
        b[4] = 2 + tl + ml + (qos and 2)
        b[5] = 0
        b[6] = tl
        b[7:i] = topic
        if qos:
            b[i] = 0
            b[i + 1] = 1
            i += 2
        b[i : i + ml] = msg
        self.sock.write(b, 3, i + ml - 3)
        if qos:
            self.sock.readinto(self.rx, 4)  # its PUBACK

    def check_msg(self):
        s = self.sock
        if s is None:
            raise OSError("offline")
        rx = self.rx
        if s.readinto(rx, 2) != 2:
            return None
        op = rx[0]
        rl = rx[1]
        s.readinto(rx, rl)
        j = 2 + (rx[0] << 8 | rx[1])  # where the topic ends
        at = j + (op & 6 and 2)  # where the payload starts
        t = self.topic
        if not (t and len(t) == j - 2 and rx.startswith(t, 2)):
            t = self.topic = bytes(rx[2:j])
        self.cb(t, bytes(rx[at:rl]))
        if op & 6:
            b = self.buf
            b[0] = 0x40
            b[1] = 2
            b[2] = rx[at - 2]
            b[3] = rx[at - 1]
            s.write(b, 0, 4)
        return op
