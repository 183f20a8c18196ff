"""A scripted MQTT peer for hostile-input tests: not a broker, and no stand-in for one.

Each connection it accepts gets the next script: it reads the client's CONNECT, sends the
script's CONNACK (normally accepted), then the script's bytes, and records whether the
client closed the connection afterwards and how soon.
"""
import threading
import time

from host.peer import listen_loopback

CONNACK_OK = b"\x20\x02\x00\x00"


def read_packet(sock):
    head = sock.recv(1)
    if not head:
        return None
    n, mult = 0, 1
    while True:
        b = sock.recv(1)
        if not b:
            return None
        n += (b[0] & 127) * mult
        mult *= 128
        if not b[0] & 128:
            break
    body = b""
    while len(body) < n:
        d = sock.recv(n - len(body))
        if not d:
            return None
        body += d
    return head + body


class ScriptedPeer:
    def __init__(self, scripts, wait_close=10.0):
        """scripts: a list of (connack bytes, bytes to send after it)."""
        self.scripts = list(scripts)
        self.results = []  # (index, closed by the client, seconds until closed)
        self.wait_close = wait_close
        self.srv, self.port = listen_loopback(4)
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        for i, (connack, data) in enumerate(self.scripts):
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            c.settimeout(self.wait_close)
            closed, t0 = False, time.monotonic()
            try:
                if read_packet(c) is not None:
                    c.sendall(connack + data)
                    t0 = time.monotonic()
                    while True:  # swallow what the client says until it hangs up
                        if not c.recv(4096):
                            closed = True
                            break
            except OSError:
                closed = True
            self.results.append((i, closed, time.monotonic() - t0))
            c.close()

    def close(self):
        self.srv.close()
