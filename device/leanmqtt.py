# leanmqtt: a small MQTT 3.1.1 client for MicroPython, that also runs on CPython.
#
# One module, one class. Packets are assembled in buffers made once in __init__ and leave
# in one socket write, so publish() allocates nothing. With reconnect=True the same class
# keeps the link alive: it pings only when no other traffic proves the link, finds a dead
# link, reconnects with backoff and resends unacknowledged QoS 1 messages with their ids.
#
# Every MQTT 3.1.1 rule that this file enforces is named where it is done, and some that it
# relies on: MQTT-x.y.z-n is the normative statement of that number in the OASIS standard.
# tests/CONFORMANCE.md maps all of them to the code and the tests.
#
# What may block, and for how long (timeout is the constructor's, in seconds):
#   connect()                  TCP connect, TLS handshake, CONNACK: up to timeout each;
#                              a server given by name first waits on DNS, unbounded
#   publish() QoS 0            until the socket takes the packet: up to timeout
#   publish() QoS 1            reconnect=False: until its PUBACK (a dead link raises OSError)
#                              reconnect=True: only while the in-flight store is full
#                              with an outbox: its write and sync (outbox.py), no wait
#   flush(t)                   up to t seconds, never longer
#   subscribe(), unsubscribe() until SUBACK / UNSUBACK
#   poll(ms), check_msg()      up to ms (0 for check_msg), plus one reconnect when due
#   wait_msg()                 until a packet arrives
import socket
import struct
import select

from os import urandom

try:
    from micropython import const

    _CPY = const(0)  # a compile-time 0: MicroPython's compiler drops `if _CPY:` blocks
except ImportError:
    globals()["_CPY"] = 1  # CPython

# Type checkers read this file against a board's stubs, which describe MicroPython: the
# CPython branch is ignored there ("pyright: ignore" below), as MicroPython's compiler drops it.
if _CPY:
    from time import monotonic, sleep  # pyright: ignore
    from ssl import SSLWantReadError, SSLWantWriteError

    _AGAIN = (BlockingIOError, InterruptedError, SSLWantReadError, SSLWantWriteError)

    def ticks_ms():
        return int(monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b

    def sleep_ms(ms):
        sleep(ms / 1000)

    class _Stream:
        # MicroPython's non-blocking stream calls on a CPython socket (None: try later).
        def __init__(self, s):
            self.s = s

        def __getattr__(self, name):
            return getattr(self.s, name)

        def write(self, b, off, n):
            try:
                return self.s.send(memoryview(b)[off : off + n])
            except _AGAIN:
                return None

        def readinto(self, b, n):
            try:
                return self.s.recv_into(b, n)
            except _AGAIN:
                return None

else:
    from time import ticks_ms, ticks_diff, ticks_add, sleep_ms  # pyright: ignore


class MQTTException(Exception):
    # A refused CONNECT (args: the return code 1-5 and its reason), a malformed or
    # unexpected packet from the broker, a refused subscription. Network trouble is OSError.
    pass


def _bytes(s):
    return s.encode() if isinstance(s, str) else s


def _check_topic(t, filter):
    # 1..65535 bytes (MQTT-4.7.3-1, MQTT-4.7.3-3) of well-formed UTF-8 without surrogates
    # (MQTT-1.5.3-1; for names, filters and the will topic: MQTT-3.3.2-1, MQTT-3.8.3-1,
    # MQTT-3.10.3-1, MQTT-3.1.3-10), no U+0000 (MQTT-1.5.3-2, MQTT-4.7.3-2). A topic name,
    # the will's too, has no wildcards (MQTT-3.3.2-2, MQTT-4.7.1-1). In a filter '#' is
    # last and alone in its level (MQTT-4.7.1-2), '+' fills a whole level (MQTT-4.7.1-3).
    # Loops over bytes do not allocate in MicroPython.
    n = len(t)
    bad = False
    prev = 47  # '/'
    need = lo = hi = 0  # UTF-8 continuation bytes to come, each in lo..hi (Unicode 3-7)
    for i in range(n):
        c = t[i]
        if need:
            bad = not lo <= c <= hi
            need -= 1
            lo, hi = 0x80, 0xBF
        elif c > 127:
            # C2-DF lead 2 bytes, E0-EF 3, F0-F4 4; 80-C1 and F5-FF lead nothing. After
            # E0 and F0 no overlong form, after ED no surrogate, after F4 no more than
            # U+10FFFF.
            need = (c > 0xC1) + (c > 0xDF) + (c > 0xEF) - 9 * (c > 0xF4)
            bad = need < 1
            lo = 0xA0 if c == 0xE0 else 0x90 if c == 0xF0 else 0x80
            hi = 0x9F if c == 0xED else 0x8F if c == 0xF4 else 0xBF
        else:
            bad = c == 0 or (c == 35 or c == 43) and (
                not filter
                or prev != 47
                or c == 35 and i != n - 1
                or c == 43 and i + 1 < n and t[i + 1] != 47
            )
        if bad:
            break
        prev = c
    if bad or need or not 0 < n < 65536:
        raise ValueError("bad topic", t)


def _header(buf, op, n):
    # Fixed header (MQTT-2.2): the type byte with its flags as table 2.2 sets them
    # (MQTT-2.2.2-1: callers pass 0x10, 0x30|flags, 0x82, 0xA2), then the remaining
    # length n in 1-4 bytes of 7 bits, low first (MQTT-2.2.3). Written to end at offset 5,
    # where the variable header starts; returns where the packet starts.
    if n > 268435455:
        raise ValueError("too large")
    i = 3 if n < 128 else 2 if n < 16384 else 1 if n < 2097152 else 0
    buf[i] = op
    for j in range(i + 1, 5):
        buf[j] = n & 127 | (128 if j < 4 else 0)
        n >>= 7
    return i


def _str(buf, off, s):
    # A string or binary field: 2-byte length, then the bytes (MQTT-1.5.3). It must leave
    # 2 bytes free behind it (a packet id or a QoS byte may follow): assigning past the end
    # would grow the buffer, that is, allocate.
    n = len(s)
    if off + 4 + n > len(buf):
        raise ValueError("bufsize")
    struct.pack_into("!H", buf, off, n)
    buf[off + 2 : off + 2 + n] = s
    return off + 2 + n


class MQTTClient:
    backoff_min = 500  # ms before the first reconnect; doubles, with jitter, up to the max
    backoff_max = 30000
    max_skip = 65536  # an incoming PUBLISH above rxsize is skipped up to this, else refused

    def __init__(
        self,
        client_id,
        server,
        port=0,
        user=None,
        password=None,
        keepalive=0,
        ssl=None,
        timeout=5,
        bufsize=128,
        rxsize=128,
        inflight=1,
        reconnect=False,
        net_up=None,
        log=print,
        outbox=None,
    ):
        # keepalive in seconds, 16 bits (MQTT-3.1.2-23); timeout (s) bounds every wait.
        if not 0 <= keepalive < 65536:
            raise ValueError("keepalive")
        self.client_id = _bytes(client_id)
        self.server = server
        self.port = port or (8883 if ssl else 1883)
        self.user = _bytes(user)
        self.password = _bytes(password)
        self.keepalive = keepalive
        self.ssl = ssl
        self.reconnect = reconnect
        self.net_up = net_up  # board hook, run before each reconnect: False skips it
        self.log = log
        self.cb = None
        self.sock = None
        self._will = None  # (CONNECT flags, topic, message)
        self._to = int(timeout * 1000)
        # A reply is due within half a keepalive: an idle link pings after one keepalive,
        # so a silent link is found within 1.5 keepalives. Without keepalive: timeout.
        self._rto = keepalive * 500 or self._to
        # One buffer serves both ways when the sizes agree: a packet is read only after the
        # one being written has left, and a PUBACK is written only after its PUBLISH was
        # delivered.
        self._tx = self._rx = bytearray(bufsize)
        if rxsize != bufsize:
            self._rx = bytearray(rxsize)
        # The QoS 1 store: `inflight` slots of bufsize bytes, each holding a whole PUBLISH
        # packet that can be resent as it is; the first _n slots are in flight, oldest
        # first. It is the client's session state (MQTT-4.1.0-1), kept across reconnects;
        # in RAM, so not across resets.
        self._slot = []
        for _ in range(inflight):
            self._slot.append(bytearray(bufsize))
        self._spid = [0] * inflight  # packet id in each slot, 0 once acked
        self._slen = [0] * inflight  # its length << 2 | where it starts (0-3)
        self._n = self._pid = 0
        # topic: qos (0, 1) once the broker acked it; qos + 2 for a SUBSCRIBE and -1 for an
        # UNSUBSCRIBE it has not acked yet, made again on the next connection
        self._subs = {}
        self._clean = None  # the clean-session flag wanted; None: no connection wanted
        self._delay = self._retry_t = 0
        self._pinging = False
        self._want = 0  # the ack a blocking call waits for, type << 16 | id; 0 once it came
        self.dropped = 0  # QoS 0 messages dropped while offline (reconnect=True)
        self.reconnects = 0
        # outbox.py's Outbox, or the like: QoS >= 1 messages are stored there before publish()
        # returns, and the store above is fed from it; see _feed().
        self.outbox = outbox

    def set_callback(self, f):
        self.cb = f  # f(topic, msg), both bytes

    def set_last_will(self, topic, msg, retain=False, qos=0):
        topic = _bytes(topic)
        _check_topic(topic, False)
        if qos >> 1:  # 2 is allowed (MQTT-3.1.2-14), but this client speaks QoS 0 and 1
            raise ValueError("qos")
        # CONNECT's will flags, QoS and retain bits (MQTT-3.1.2-9, -11, -13, -15), and the
        # will topic and message that follow the client id (MQTT-3.1.3-1)
        self._will = (4 | qos << 3 | retain << 5, topic, _bytes(msg))

    # -- the connection ----------------------------------------------------------------

    def connect(self, clean_session=True, timeout=None):
        # Returns the session-present flag. A refusal raises MQTTException(code, reason).
        # With reconnect=True network trouble is logged, and poll() retries with backoff.
        cid, user, pswd, lw = self.client_id, self.user, self.password, self._will
        if not cid and not clean_session:
            raise ValueError("client_id")  # empty needs clean_session (MQTT-3.1.3-7)
        if pswd and not user:
            raise ValueError("password")  # not without a user name (MQTT-3.1.2-22)
        self._clean = clean_session
        self._fail()
        to = self._to if timeout is None else int(timeout * 1000)
        self.sock = s = socket.socket()
        try:
            # Every write is a whole packet, so Nagle only delays: a QoS 1 PUBLISH right
            # after a QoS 0 one would wait for the broker's delayed ACK (~40 ms). Level 6 is
            # IPPROTO_TCP; TCP_NODELAY differs by port: 1 on Linux and ESP32, 64 on rp2,
            # whose lwIP sockets ignore the level and take a literal 1 as an unknown option
            # (Nagle stayed on, silently). Hence the module's constant where it has one.
            s.setsockopt(6, getattr(socket, "TCP_NODELAY", 1), 1)
            s.settimeout(to / 1000)
            s.connect(socket.getaddrinfo(self.server, self.port)[0][-1])
            if self.ssl:
                self.sock = s = self.ssl.wrap_socket(s, server_hostname=self.server)
            s.setblocking(False)
            if _CPY:
                self.sock = s = _Stream(s)
            self._p = select.poll()
            self._p.register(s, 1)  # POLLIN
            self._tx_t = self._rx_t = self._wt = ticks_ms()
            self._pinging = False
            self._want = 0x20  # CONNACK, and nothing else, may come now (MQTT-3.2.0-1)
            # CONNECT, the first packet on the connection (MQTT-3.1.0-1): protocol name
            # "MQTT" and level 4 (sections 3.1.2.1-2), flags, keepalive, then the payload
            # in the order of MQTT-3.1.3-1, the client id first (MQTT-3.1.3-3). The will
            # topic and message are there exactly when the will flag is (MQTT-3.1.2-9), its
            # QoS and retain only with it (MQTT-3.1.2-11, MQTT-3.1.2-13, MQTT-3.1.2-15); the
            # user name and password exactly when their flags are (MQTT-3.1.2-18,
            # MQTT-3.1.2-19, MQTT-3.1.2-20, MQTT-3.1.2-21).
            f = clean_session << 1
            fields = [cid]
            if lw:
                f |= lw[0]
                fields += lw[1:]
            if user:
                f |= 0x80
                fields.append(user)
            if pswd:
                f |= 0x40
                fields.append(pswd)
            rl = 10
            for x in fields:
                rl += 2 + len(x)
            buf = self._tx if rl + 7 <= len(self._tx) else bytearray(rl + 7)
            buf[5:12] = b"\0\x04MQTT\x04"
            buf[12] = f
            struct.pack_into("!H", buf, 13, self.keepalive)
            i = 15
            for x in fields:
                i = _str(buf, i, x)
            h = _header(buf, 0x10, rl)
            self._send(buf, h, i - h)
            if not self._wait(to):  # CONNACK is due within timeout
                raise OSError("no CONNACK")
            self._recv()
            self._want = 0
            sp, rc = self._rx[0], self._rx[1]
            if rc:
                # the return codes of table 3.1
                raise MQTTException(rc, (
                    "?|unacceptable protocol version|identifier rejected|server unavailable"
                    "|bad user name or password|not authorized|refused"
                ).split("|")[min(rc, 6)])
            self._delay = 0
            # What the broker has not acked is made again; when it has no session for us
            # (MQTT-3.2.2-1, -2) it forgot every subscription, and has none to take back.
            for t in list(self._subs):
                q = self._subs[t]
                if q < 0:  # an UNSUBSCRIBE not acked
                    if sp:
                        self.subscribe(t, -1, 0xA2, True)
                    else:
                        del self._subs[t]
                elif q > 1 or not sp:  # a SUBSCRIBE not acked, or the session lost
                    self.subscribe(t, q & 1, 0x82, True)
            # Resend what was never acked, in order, with the same packet id and DUP set
            # (MQTT-4.4.0-1, MQTT-2.3.1-3, MQTT-3.3.1-1, MQTT-4.6.0-1).
            for k in range(self._n):
                if self._spid[k]:
                    b, n = self._slot[k], self._slen[k]
                    b[n & 3] |= 8
                    self._send(b, n & 3, n >> 2)
            if self.outbox:
                self._feed()  # then what the outbox holds: at boot, the last run's first
            return sp
        except OSError as e:
            self._fail(e)
        except Exception:
            # Refused, a malformed reply (MQTTException), or a certificate that does not
            # verify (ValueError on MicroPython): closed, then raised.
            self._fail()
            raise

    def disconnect(self):
        # DISCONNECT, then close at once (MQTT-3.14.4-1, MQTT-3.14.4-2); the broker drops
        # the will (MQTT-3.1.2-10).
        self._clean = None
        if self.sock:
            try:
                self._send(b"\xc0\0\xe0\0", 2, 2)  # DISCONNECT: see ping()
            except OSError:
                pass
        self._fail()

    def isconnected(self):
        return self.sock is not None

    def pending(self):
        # QoS 1 messages accepted by publish() and not yet PUBACKed
        return self.outbox.count if self.outbox else self._n

    def flush(self, timeout):
        # Serves the link until every QoS 1 message accepted is acknowledged, for timeout
        # seconds at most, never longer: a reconnect meanwhile gets a third of the time left
        # for each blocking step. True when all are acked, or when those left are durable in
        # the outbox (then pending() says how many); False when RAM alone holds some at the
        # deadline. Before machine.deepsleep(): then disconnect(), and the will stays quiet.
        end = ticks_add(ticks_ms(), int(timeout * 1000))
        to = self._to
        try:
            while self.pending():
                left = ticks_diff(end, ticks_ms())
                if left <= 0:
                    return self.outbox is not None
                self._to = left // 3 + 1
                self.poll(left)
        finally:
            self._to = to
        return True

    def _feed(self):
        # The in-flight store takes from the outbox, oldest first, while it has a free slot
        # and the link is up, so a slot only holds what went out; each message gets a
        # packet id now (the outbox set DUP where it may have gone out before a reset).
        try:
            while self.sock and self._n < len(self._slot):
                b = self._slot[self._n]
                sl = self.outbox.take(b)  # pyright: ignore[reportOptionalMemberAccess]
                if not sl:
                    return
                self._pid = pid = self._pid % 65535 + 1
                struct.pack_into("!H", b, 7 + (b[5] << 8 | b[6]), pid)
                if not (self._pinging or self._n or self._want):
                    self._wt = ticks_ms()
                self._spid[self._n] = pid
                self._slen[self._n] = sl
                self._n += 1
                self._send(b, sl & 3, sl >> 2)
        except (OSError, MQTTException) as e:
            self._fail(e)

    def _fail(self, e=None):
        # Closes the socket. With an error, the link broke and is closed (MQTT-4.8.0-2):
        # re-raised in plain mode; with reconnect=True logged, and poll() redials after a
        # backoff with jitter.
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        if e is None:
            return
        if not self.reconnect:
            raise e
        self.log("mqtt:", "lost", e)
        d = self._delay
        self._delay = min(d * 2, self.backoff_max) if d else self.backoff_min
        # Up to +50% of jitter. ticks_add, not +: past the wrap of ticks_ms() a sum is a
        # big int, which ticks_diff() reads as garbage (a reconnect days away).
        self._retry_t = ticks_add(ticks_ms(), urandom(1)[0] * self._delay >> 9)

    # -- bytes in and out --------------------------------------------------------------

    def _send(self, buf, off, n):
        # Writes n bytes, in one write unless the socket is full; then waits for room.
        t = ticks_ms()
        while n:
            # The stream write of the firmware takes (buf, offset, length) (py/stream.c);
            # the stubs list (buf) only.
            w = self.sock.write(buf, off, n)  # pyright: ignore[reportCallIssue, reportOptionalMemberAccess]
            if w is None:
                if not self._wait(self._to - ticks_diff(ticks_ms(), t), 4):  # POLLOUT
                    raise OSError("stalled")
            else:
                off += w
                n -= w
        self._tx_t = ticks_ms()

    def _wait(self, timeout, event=1):
        # Waits up to timeout ms for the socket to be readable (event 1, POLLIN), writable
        # (event 4, POLLOUT) or failed; True if it is. A negative timeout would wait forever.
        p = self._p
        if not self.sock:  # closed under a wait loop, by a callback's publish
            raise OSError("offline")
        p.modify(self.sock, event)
        if _CPY:
            return bool(p.poll(max(timeout, 0)))
        for _ in p.ipoll(max(timeout, 0)):
            return True
        return False

    def _read(self, n):
        # Reads exactly n bytes into the start of the receive buffer.
        got = 0
        t = ticks_ms()
        while got < n:
            r = self.sock.readinto(  # pyright: ignore[reportOptionalMemberAccess]
                memoryview(self._rx)[got:] if got else self._rx, n - got
            )
            if r is None:
                if not self._wait(self._to - ticks_diff(ticks_ms(), t)):
                    raise OSError("stalled")
            elif r:
                got += r
            else:
                raise OSError("closed")

    def _recv(self):
        # Reads one packet and acts on it; returns its type byte. Whatever the broker may
        # not send, or sends malformed, raises MQTTException: the caller drops the link.
        rx = self._rx
        self._read(2)
        op = rx[0]
        b = rx[1]
        rl = b & 127
        sh = 7
        while b & 128:
            if sh > 21:  # at most four length bytes (MQTT-2.2.3)
                raise MQTTException("bad packet", op)
            self._read(1)
            b = rx[0]
            rl |= (b & 127) << sh
            sh += 7
        self._rx_t = ticks_ms()
        if (op == 0x20) != (self._want == 0x20):
            # CONNACK comes first (MQTT-3.2.0-1), once: a second one is a protocol error.
            raise MQTTException("bad packet", op)
        if op & 0xF0 == 0x30:  # PUBLISH
            qos = op >> 1 & 3
            if qos > 1:  # 3 is malformed (MQTT-3.3.1-4); 2 is never granted to us
                raise MQTTException("bad packet", op)
            if rl > self.max_skip:  # refused before reading: nothing of it is allocated
                raise MQTTException("too large", op)
            m = len(rx)
            self._read(min(rl, m))
            tl = rx[0] << 8 | rx[1]
            at = 2 + tl + 2 * qos
            if at > rl or at > m:
                raise MQTTException("bad packet", op)
            pid = rx[at - 2] << 8 | rx[at - 1]
            if rl > m:
                # Larger than rxsize: skipped without allocating what the header claims,
                # logged, and acked, or the broker would hold it forever.
                n = rl
                while n > m:
                    n -= m
                    self._read(min(n, m))
                self.log("mqtt:", "too large", rl)
            try:
                if rl <= m and self.cb:
                    self.cb(bytes(rx[2 : 2 + tl]), bytes(rx[at:rl]))
            finally:
                # PUBACK with its id (MQTT-2.3.1-6), after delivery (MQTT-3.3.4-1,
                # MQTT-4.3.2-2), in the order received (MQTT-4.6.0-2), also for a message
                # that was skipped (MQTT-4.5.0-2), and when the callback raised: the
                # exception goes on to the caller, but an unacked message would hold one
                # of the broker's in-flight places for us until a reconnect, and a few
                # (Mosquitto: 20) stop all QoS 1 delivery to us.
                if qos and self.sock:
                    b = self._tx
                    b[0] = 0x40
                    b[1] = 2
                    struct.pack_into("!H", b, 2, pid)
                    self._send(b, 0, 4)
            return op
        if rl > 3:
            raise MQTTException("bad packet", op)
        self._read(rl)
        pid = rx[0] << 8 | rx[1]
        # The type byte is compared whole, so wrong flags are refused (MQTT-2.2.2-2); any
        # protocol violation closes the connection (MQTT-4.8.0-1), done by the caller.
        if op == 0x40 and rl == 2:  # PUBACK: its message is done.
            # Free slots hold 0, so a match is in flight (ids are never 0). Acks come in
            # order; while the oldest is acked, its slot moves to the back, free. One out
            # of order waits for those before it. pop(0) and append reuse the lists' room.
            ids = self._spid
            if pid in ids:
                ids[ids.index(pid)] = 0
            while self._n and not ids[0]:
                ids.append(ids.pop(0))
                self._slot.append(self._slot.pop(0))
                self._slen.append(self._slen.pop(0))
                self._n -= 1
                if self.outbox:
                    self.outbox.ack()
            if self.outbox:
                self._feed()
        elif op == 0xD0 and rl == 0:  # PINGRESP
            self._pinging = False
        elif op == 0x90 and rl == 3 or op == 0xB0 and rl == 2:  # SUBACK, UNSUBACK
            pass  # subscribe() reads SUBACK's return code from rx
        elif op == 0x20 and rl == 2 and not rx[0] & 0xFE:
            pass  # CONNACK, in connect(); its other flags are reserved (section 3.2.2.1)
        else:
            raise MQTTException("bad packet", op)
        if self._want == op << 16 | pid:
            self._want = 0  # the ack that subscribe() or unsubscribe() waits for
        return op

    # -- keepalive and waiting for replies ---------------------------------------------

    def ping(self):
        # A packet that wants a reply goes out: the reply clock starts unless it runs.
        if not (self._pinging or self._n or self._want):
            self._wt = ticks_ms()
        self._pinging = True
        # PINGREQ (MQTT-3.12); DISCONNECT shares the constant: each costs 64 B of RAM
        self._send(b"\xc0\0\xe0\0", 0, 2)

    def _step(self, timeout):
        # Waits up to timeout ms for a packet and handles it; then the keepalive's work. The
        # broker wants a packet from us within each keepalive (MQTT-3.1.2-23), or drops us
        # after one and a half (MQTT-3.1.2-24); we want
        # proof that the link lives: any packet from the broker is proof, so PINGREQ goes
        # out only after a keepalive with nothing sent or nothing heard. While QoS 1 flows
        # and is acked, no PINGREQ at all.
        op = None
        if self._wait(min(timeout, self._rto >> 2)):
            op = self._recv()
            if not self.sock:  # the callback's publish found the link dead: it was logged
                return op
        now = ticks_ms()
        if (
            (self._pinging or self._n or self._want)
            and ticks_diff(now, self._rx_t) > self._rto
            and ticks_diff(now, self._wt) > self._rto
        ):
            raise OSError("no reply")
        k = self.keepalive * 1000
        if k and not self._pinging and (
            ticks_diff(now, self._tx_t) >= k or ticks_diff(now, self._rx_t) >= k
        ):
            self.ping()
        return op

    # -- messages ----------------------------------------------------------------------

    def publish(self, topic, msg, retain=False, qos=0):
        # True when the message went out (QoS 0) or is in the store (QoS 1). With
        # reconnect=True, False when a QoS 0 message finds the link down (counted in
        # .dropped) or the QoS 1 store stays full for timeout: nothing is dropped silently.
        topic = _bytes(topic)
        msg = _bytes(msg)
        _check_topic(topic, False)
        if qos >> 1:
            raise ValueError("qos")
        tl = len(topic)
        ml = len(msg)
        if qos and self.outbox:
            buf = self._tx  # built here, stored there, and from there to a slot
        elif qos:
            # The first free slot; while all are taken, service the link for up to timeout
            # until a PUBACK frees one.
            t = ticks_ms()
            while self._n == len(self._slot):
                if not self.sock or ticks_diff(ticks_ms(), t) > self._to:
                    if self.reconnect:
                        return False
                    raise OSError("store full")
                try:
                    self._step(self._rto)
                except (OSError, MQTTException) as e:
                    self._fail(e)
            k = self._n
            buf = self._slot[k]
        elif self.sock:
            buf = self._tx
        elif self.reconnect:
            self.dropped += 1
            return False
        else:
            raise OSError("offline")
        # The header ends at offset 5; then topic, packet id, payload. QoS and retain are
        # header flags; DUP is 0 on a first delivery (MQTT-3.3.1-2, MQTT-4.3.1-1,
        # MQTT-4.3.2-1), and a QoS 0 PUBLISH has no packet id (MQTT-2.3.1-5).
        h = _header(buf, 0x30 | qos << 1 | retain, 2 + tl + 2 * qos + ml)
        i = _str(buf, 5, topic)
        if qos:
            # Never 0 (MQTT-2.3.1-1); unused, as the store holds fewer than 65535 (MQTT-2.3.1-2)
            self._pid = pid = self._pid % 65535 + 1
            struct.pack_into("!H", buf, i, pid)
            i += 2
        whole = i + ml <= len(buf)
        if whole:
            buf[i : i + ml] = msg
            i += ml
        elif qos:  # the store keeps whole packets, to resend them after a reconnect
            raise ValueError("bufsize")
        if qos and self.outbox:
            # Durable before True (False: the outbox is full and refuses), then sent when
            # the store has room.
            if not self.outbox.put(buf, (i - h) << 2 | h):
                return False
            self._feed()
            return True
        if qos:
            if not (self._pinging or self._n or self._want):
                self._wt = ticks_ms()
            self._spid[k] = pid
            self._slen[k] = (i - h) << 2 | h
            self._n += 1
            if not self.sock:
                return True  # stored; it goes out when the link is back
        try:
            self._send(buf, h, i - h)
            if not whole:
                self._send(msg, 0, ml)  # a QoS 0 payload larger than the buffer
            if qos and not self.reconnect:
                # Plain mode: return once the PUBACK came, as umqtt.simple does.
                while pid in self._spid:
                    self._step(self._rto)
        except (OSError, MQTTException) as e:
            self._fail(e)
        return True

    def unsubscribe(self, topic):
        self.subscribe(topic, -1, 0xA2)

    def subscribe(self, topic, qos=0, op=0x82, again=False):
        # SUBSCRIBE (op 0x82), or UNSUBSCRIBE (0xA2, from unsubscribe()), then wait for
        # SUBACK / UNSUBACK. Both are remembered until acked, and subscriptions after, to
        # be made again by a reconnect (again=True: that is being done now, and a network
        # error goes to connect()). Offline, only remembered.
        topic = bytes(_bytes(topic))  # a dict key below: bytearray is unhashable
        _check_topic(topic, True)
        if qos > 1:
            raise ValueError("qos")
        if not again:
            self._subs[topic] = qos + 2 if qos >= 0 else -1
        if not self.sock:
            return
        # Flags 0010 (MQTT-3.8.1-1, MQTT-3.10.1-1); one filter per packet here
        # (MQTT-3.8.3-3, MQTT-3.10.3-2), so SUBACK has one code (MQTT-3.9.3-1).
        buf = self._tx
        rl = 4 + len(topic) + (qos >= 0)
        h = _header(buf, op, rl)
        self._pid = pid = self._pid % 65535 + 1
        struct.pack_into("!H", buf, 5, pid)
        i = _str(buf, 7, topic)
        if qos >= 0:
            buf[i] = qos
            i += 1
        op += 0x0E  # the ack: SUBACK 0x90, UNSUBACK 0xB0
        try:
            self._send(buf, h, i - h)
            if not (self._pinging or self._n or self._want):
                self._wt = ticks_ms()  # the reply clock starts
            self._want = op << 16 | pid
            while self._want:
                self._step(self._rto)
        except (OSError, MQTTException) as e:
            if again:
                raise
            return self._fail(e)
        if qos < 0:
            del self._subs[topic]
        else:
            self._subs[topic] = qos
        if op == 0x90 and self._rx[2] == 0x80:  # the SUBACK just read: refused
            if again:  # on a reconnect: said, and publishing goes on
                return self.log("mqtt:", "refused", topic)
            raise MQTTException("refused", topic)

    # -- servicing the link ------------------------------------------------------------

    def poll(self, timeout_ms=0):
        # Services the link: waits up to timeout_ms for packets and handles all that came,
        # sends PINGREQ when due, finds a dead link; with reconnect=True redials when due
        # (the board's net_up hook first) and resends. Returns the last packet type handled.
        op = None
        t = ticks_ms()
        try:
            while True:
                left = timeout_ms - ticks_diff(ticks_ms(), t)
                if not self.sock:
                    if not self.reconnect:
                        raise OSError("offline")
                    # Offline: sleep toward the next attempt rather than spin; after
                    # disconnect() there is no next attempt.
                    if self._clean is None:  # after disconnect(): nothing to redial
                        sleep_ms(max(left, 0))
                        return op
                    wait = self._delay - ticks_diff(ticks_ms(), self._retry_t)
                    if wait > 0:
                        if left <= 0:
                            return op
                        sleep_ms(min(wait, left))
                        continue
                    if self.net_up and not self.net_up():
                        raise OSError("no network")
                    self.reconnects += 1
                    try:
                        self.connect(self._clean)
                    except (MQTTException, ValueError) as e:
                        # A refusal (bad credentials, not authorised, a certificate that
                        # does not verify) does not heal by quick retries: log it, and
                        # wait the longest backoff.
                        self._fail(e)
                        self._delay = self.backoff_max
                    if not self.sock:
                        continue
                r = self._step(left if left > 0 else 0)
                if r is not None:
                    op = r
                    for _ in range(32):  # what has already arrived, boundedly
                        if not self.sock:
                            break
                        r = self._step(0)
                        if r is None:
                            break
                        op = r
                    return op
                if left <= 0:
                    return op
        except (OSError, MQTTException) as e:
            self._fail(e)
        return op

    check_msg = poll  # poll(0): handle what has come, never wait (umqtt.simple's name)

    def wait_msg(self):
        while True:
            op = self.poll(self._rto)
            if op is not None:
                return op
