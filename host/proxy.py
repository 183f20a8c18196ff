"""A fault proxy between a client and a real broker.

It parses the MQTT byte stream in both directions, counts packets by type, and can:
pass, close (FIN), reset (RST), blackhole (sockets open, nothing forwarded), delay,
swallow the next packet(s) of one type, cut a connection in the middle of a packet or
right after one (`cut_after`), send each packet of one type twice, the copy with DUP set
(`duplicate`);
send packets broker -> client in pieces (`chop`, with `pause` between them) or some types
late (`late`: the others overtake them, as from a slow broker).
"""
import socket
import struct
import threading
import time

from host.peer import listen_loopback, split_packets

NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
         7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
         12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT"}
UP, DOWN = "up", "down"  # up: client -> broker; down: broker -> client


class Link:
    def __init__(self, proxy, client, upstream):
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self.dead = False

    def pump(self, src, dst, direction):
        buf = b""
        try:
            while not self.dead:
                try:
                    d = src.recv(65536)
                except OSError:
                    break
                if not d:
                    break
                buf += d
                pkts, buf = split_packets(buf)
                for p in pkts:
                    if not self.proxy.handle(self, p, dst, direction):
                        return
        finally:
            if not self.dead and self.proxy.mode != "blackhole":
                self.close()

    def close(self, rst=False):
        self.dead = True
        for s in (self.client, self.upstream):
            try:
                if rst:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass


class FaultProxy:
    def __init__(self, broker_port):
        self.broker_port = broker_port
        self.srv, self.port = listen_loopback(16)
        self.lock = threading.Lock()
        self.mode = "pass"
        self.delay = 0.0
        self.swallow = {}  # (direction, type) -> how many more to drop
        self.cut_next = None  # (direction, type): forward half of it, then close
        self.cut_after = None  # (direction, type): forward it whole, then close
        self.duplicate = None  # (direction, "PUBLISH"): each one twice, the copy with DUP
        self.chop = None  # packet -> list of pieces, sent `pause` s apart (direction down)
        self.pause = 0.0
        self.late = {}  # (direction, type) -> seconds: sent that late, others overtake
        self.wlock = threading.Lock()  # one packet's bytes at a time on a socket
        self.counts = {}
        self.log = []  # (time, direction, packet bytes) of every packet seen
        self.links = []
        self.accepted = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    # -- control
    def set(self, mode):
        """pass | blackhole | close | reset: close and reset act on the open links now."""
        with self.lock:
            links = list(self.links)
        if mode in ("close", "reset"):
            for ln in links:
                ln.close(rst=(mode == "reset"))
            mode = "pass"
        elif mode == "blackhole":
            pass
        self.mode = mode

    def swallow_next(self, direction, ptype, n=1):
        with self.lock:
            self.swallow[(direction, ptype)] = n

    def count(self, direction, name):
        with self.lock:
            return self.counts.get((direction, name), 0)

    def packets(self, direction, name):
        with self.lock:
            return [p for _, d, p in self.log if d == direction and NAMES.get(p[0] >> 4) == name]

    def reset_counts(self):
        with self.lock:
            self.counts.clear()
            self.log.clear()

    def close(self):
        self._stop = True
        self.srv.close()
        with self.lock:
            links = list(self.links)
        for ln in links:
            ln.close()

    # -- work
    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.accepted += 1
            if self.mode == "blackhole":
                # A silent network: the client's connection hangs, nothing goes through.
                with self.lock:
                    self.links.append(Link(self, c, socket.socket()))
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.broker_port), timeout=5)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            ln = Link(self, c, u)
            with self.lock:
                self.links = [x for x in self.links if not x.dead] + [ln]
            threading.Thread(target=ln.pump, args=(c, u, UP), daemon=True).start()
            threading.Thread(target=ln.pump, args=(u, c, DOWN), daemon=True).start()

    def handle(self, link, p, dst, direction):
        """Forwards one packet, or not; False ends this pump."""
        name = NAMES.get(p[0] >> 4, "?")
        with self.lock:
            self.counts[(direction, name)] = self.counts.get((direction, name), 0) + 1
            self.log.append((time.monotonic(), direction, p))
            left = self.swallow.get((direction, name), 0)
            if left:
                self.swallow[(direction, name)] = left - 1
                return True
            cut = self.cut_next == (direction, name)
            if cut:
                self.cut_next = None
            after = self.cut_after == (direction, name)
            if after:
                self.cut_after = None
            twice = self.duplicate == (direction, name)
        if self.mode == "blackhole":
            return True
        if link.dead:  # cut after a packet: nothing that packet caused may pass
            return False
        if after:
            link.dead = True
        if self.delay:
            time.sleep(self.delay)
        late = self.late.get((direction, name))
        if late:
            threading.Timer(late, self._send, (dst, [p])).start()
            return True
        try:
            if cut:
                dst.sendall(p[: max(1, len(p) // 2)])
                link.close()
                return False
            self._send(dst, self.chop(p) if self.chop and direction == DOWN else [p])
            if twice:
                self._send(dst, [bytes([p[0] | 8]) + p[1:]])
            if after:
                link.close()
                return False
        except OSError:
            return False
        return True

    def _send(self, dst, pieces):
        with self.wlock:
            for i, piece in enumerate(pieces):
                if i:
                    time.sleep(self.pause)
                try:
                    dst.sendall(piece)
                except OSError:
                    return


def every_offset():
    """A chop for the proxy: each packet in two pieces, split at the next offset for its size."""
    seen = {}

    def chop(p):
        k = 1 + seen.get(len(p), 0) % (len(p) - 1)
        seen[len(p)] = seen.get(len(p), 0) + 1
        return [p[:k], p[k:]]

    return chop
