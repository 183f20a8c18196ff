"""Loopback MQTT peers for byte-level tests: not brokers, and no stand-in for Mosquitto."""
import socket
import threading


def listen_loopback(backlog=1):
    """A listening TCP socket on a free 127.0.0.1 port: (socket, port)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s, s.getsockname()[1]


def split_packets(data):
    """Splits whole packets off the front of data: (packets, rest)."""
    out = []
    while len(data) >= 2:
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(data):
                return out, data
            b = data[i]
            n += (b & 127) * mult
            mult *= 128
            i += 1
            if not b & 128 or i > 4:
                break
        if len(data) < i + n:
            break
        out.append(bytes(data[: i + n]))
        data = data[i + n :]
    return out, data


def packet(op, body):
    """A whole packet: the type byte, the remaining length (MQTT-2.2.3), the body."""
    n, head = len(body), bytes([op])
    while True:
        b, n = n & 127, n >> 7
        head += bytes([b | (128 if n else 0)])
        if not n:
            return head + body


def body_of(pkt):
    """The packet's body: what follows its fixed header."""
    i = 1
    while pkt[i] & 128:
        i += 1
    return pkt[i + 1 :]


class RecordingPeer:
    """Answers CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ as a broker would, and with
    acks=True QoS 1 and 2 PUBLISH (PUBACK, PUBREC) and PUBREL (PUBCOMP); records every
    packet the client sends as (type byte, body), and lets a test send packets of its own
    on `conn`."""

    def __init__(self, session_present=0, acks=True):
        self.acks = acks
        self.srv, self.port = listen_loopback()
        self.packets = []
        self.closed = threading.Event()
        self.conn = None
        self.sp = session_present
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        c, _ = self.srv.accept()
        self.conn = c
        buf = b""
        while True:
            try:
                d = c.recv(4096)
            except OSError:
                d = b""
            if not d:
                self.closed.set()
                return
            pkts, buf = split_packets(buf + d)
            for p in pkts:
                op, body = p[0], body_of(p)
                self.packets.append((op, body))
                if op == 0x10:
                    c.sendall(bytes([0x20, 2, self.sp, 0]))
                elif op == 0x82:
                    c.sendall(b"\x90\x03" + body[:2] + b"\x01")
                elif op == 0xA2:
                    c.sendall(b"\xb0\x02" + body[:2])
                elif op & 0xF6 == 0x32 and self.acks:
                    tl = body[0] << 8 | body[1]
                    c.sendall(b"\x40\x02" + body[2 + tl : 4 + tl])
                elif op & 0xF6 == 0x34 and self.acks:
                    tl = body[0] << 8 | body[1]
                    c.sendall(b"\x50\x02" + body[2 + tl : 4 + tl])
                elif op == 0x62 and self.acks:
                    c.sendall(b"\x70\x02" + body[:2])
                elif op == 0xC0:
                    c.sendall(b"\xd0\x00")

    def types(self):
        return [op for op, _ in self.packets]
