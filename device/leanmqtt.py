# leanmqtt: a small MQTT 3.1.1 client for MicroPython, that also runs on CPython.
#
# One module, one class. Packets are assembled in buffers made once in __init__ and leave
# in one socket write, so publish() allocates nothing. With reconnect=True the same class
# keeps the link alive: it pings only when no other traffic proves the link, finds a dead
# link, reconnects with backoff and resends unacknowledged QoS 1 and 2 messages with their
# ids. QoS 2 (exactly once) both ways: see "QoS 2" in MQTTClient.
#
# Every MQTT 3.1.1 rule that this file enforces is named where it is done, and some that it
# relies on: MQTT-x.y.z-n is the normative statement of that number in the OASIS standard.
# tests/CONFORMANCE.md maps all of them to the code and the tests.
#
# What may block, and for how long (timeout is the constructor's, in seconds). Each call
# has one deadline, and every wait inside it (for the socket, a packet, an ack, store room)
# ends by it: never a fresh timeout per read or per step.
#   connect()                  TCP connect, TLS handshake: up to timeout each; then CONNACK
#                              and the re-subscription together within timeout; a server
#                              given by name first waits on DNS, unbounded
#   publish() QoS 0            until the socket takes the packet: up to timeout
#   publish() QoS 1, 2         reconnect=False: until its PUBACK / PUBCOMP, up to timeout
#                              reconnect=True: only while the in-flight store is full, up
#                              to timeout
#   subscribe(), unsubscribe() until SUBACK / UNSUBACK, up to timeout
#   poll(ms), check_msg()      up to ms (0 for check_msg) for packets to come, plus one
#                              reconnect when due; a packet not whole by then is kept, and
#                              the next call goes on with it; an ack or PINGREQ that finds
#                              the socket full may wait up to timeout for room
#   wait_msg()                 until a packet arrives (one message handled)
#   ping()                     until the socket takes it: up to timeout
#   publish() with an outbox   QoS 1, 2: the outbox's write and sync (outbox.py), no ack waited
#   flush(t)                   up to t seconds, never longer; never redials
# Inside the callback nothing waits for an ack, and a QoS 1 publish waits for room in the
# store only while no other message is next in the socket (see _recv).
import socket
import struct
import select

from os import urandom

# MicroPython's parser knows const() without an import (`from micropython import const` would
# make `const` a module global, a place in the module's dict, see below); CPython has no const().
try:
    _CPY = const(0)  # a compile-time 0: MicroPython's compiler drops `if _CPY:` blocks  # pyright: ignore
except NameError:
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


# The builtins this module calls on its hot paths, as module globals: MicroPython finds a
# builtin by a linear search of the firmware's table after a miss in the module's globals,
# about 1,000 CPU cycles a call on a Cortex-M0+; a global is one hash. (Measured on the
# emulated chip: a QoS 0 publish 32,000 cycles without these lines, 26,300 with them.)
# Imported rather than `len = len`: a name imported is numbered among the module's first
# qstrs, below 128, so each use of it in the bytecode takes one byte less (in RAM: each
# function's bytecode is a heap block of its own). OSError and ValueError, raised in 37
# places, and bytearray, for that reason only. (The module's dict holds 23 names now, as
# many as its table has places: one more global would make it 29 places, 96 B.)
from builtins import len, str, bytes, min, OSError, ValueError, bytearray


class MQTTException(Exception):
    # A refused CONNECT (args: the return code 1-5 and its reason), a malformed or
    # unexpected packet from the broker, a refused subscription. Network trouble is OSError.
    pass


def _bytes(s):
    return s.encode() if isinstance(s, str) else s


def _check_topic(t, filter, off, e):
    # 1..65535 bytes (MQTT-4.7.3-1, MQTT-4.7.3-3) of well-formed UTF-8 without surrogates
    # (MQTT-1.5.3-1; for names, filters and the will topic: MQTT-3.3.2-1, MQTT-3.8.3-1,
    # MQTT-3.10.3-1, MQTT-3.1.3-10), no U+0000 (MQTT-1.5.3-2, MQTT-4.7.3-2). A topic name,
    # the will's too, has no wildcards (MQTT-3.3.2-2, MQTT-4.7.1-1). In a filter '#' is
    # last and alone in its level (MQTT-4.7.1-2), '+' fills a whole level (MQTT-4.7.1-3):
    # each comes at the start of a level, and after it nothing, or '/' after '+'.
    # Loops over bytes do not allocate in MicroPython. t[off:e] is checked (an incoming
    # topic in place in the receive buffer: a slice would allocate). Returns t.
    # (The private functions take no default arguments: a function object that holds
    # defaults is one heap block of 32 B more, for the whole run. c >> 7, not c and >> 16
    # below are a byte or two of bytecode shorter than c > 127, c == 0 and > 65535: this
    # function's bytecode is one 32 B block less.)
    if e < 0:
        e = len(t)
    prev = 47  # '/'
    need = 0  # UTF-8 continuation bytes to come, each in lo..hi (Unicode 3-7)
    for i in range(off, e):
        c = t[i]
        if need:
            bad = c < lo or c > hi
            need -= 1
            lo = 0x80
            hi = 0xBF
        elif c >> 7:  # above 127
            # C2-DF lead 2 bytes, E0-EF 3, F0-F4 4; 80-C1 and F5-FF lead nothing. The
            # next byte is in 80..BF, but after E0 and F0 no overlong form (A0.., 90..),
            # after ED no surrogate (..9F), after F4 no more than U+10FFFF (..8F).
            bad = c < 0xC2 or c > 0xF4
            need = 1 + (c > 0xDF) + (c > 0xEF)
            lo = 0x80 + 0x20 * (c == 0xE0) + 0x10 * (c == 0xF0)
            hi = 0xBF - 0x20 * (c == 0xED) - 0x30 * (c == 0xF4)
        else:  # no U+0000; '#' (35) and '+' (43) only in a filter, at the start of a level
            bad = not c or (c == 35 or c == 43) and not (filter and prev == 47)
        if bad or prev == 35 or prev == 43 and c != 47:  # after '#' or '+' (see above)
            break
        prev = c
    else:  # every byte passed: then the sequence is whole, the length 1..65535
        if not (need or e <= off or (e - off) >> 16):  # >> 16: more than 65535
            return t
    raise ValueError("bad topic", t)


def _deadline(c):
    # Sets client c's deadline for the public call under way, for every wait in it (see
    # MQTTClient.__init__): timeout from now. True, for publish()'s `dl`. (A function of the
    # module, not a method: the class's dict is full, and one call here is 14 bytes shorter
    # than the assignment, in publish() four times.)
    c._dl = c._wdl = ticks_add(ticks_ms(), c._to)
    return True


def _header(buf, op, n):
    # Fixed header (MQTT-2.2): the type byte with its flags as table 2.2 sets them
    # (MQTT-2.2.2-1: callers pass 0x10, 0x30|flags, 0x82, 0xA2), then the remaining
    # length n in 1-4 bytes of 7 bits, low first (MQTT-2.2.3). Written to end at offset 5,
    # where the variable header starts; returns where the packet starts.
    if n > 268435455:
        raise ValueError("too large")
    i = 3 - (n > 127) - (n > 16383) - (n > 2097151)  # 1 length byte up to 127, 2 ...
    buf[i] = op
    for j in range(i + 1, 5):
        buf[j] = n & 127 | (j < 4) << 7  # 128: more bytes follow, on all but the last
        n >>= 7
    return i


class MQTTClient:
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
        qos2_in=32,
        reconnect=False,
        net_up=None,
        log=print,
        ssl_params=None,
        outbox=None,
    ):
        # keepalive in seconds, 16 bits (MQTT-3.1.2-23); timeout (s) bounds every call.
        if keepalive >> 16:  # not in 0..65535 (a negative number shifts to -1)
            raise ValueError("keepalive")
        if min(inflight, qos2_in, bufsize - 7, rxsize - 7) < 1:  # buffers of 8: an ack fits, with room
            raise ValueError("size")
        self.client_id = _bytes(client_id)
        self.server = server
        self.port = port or (8883 if ssl else 1883)
        self.user = _bytes(user)
        self.password = _bytes(password)
        self.keepalive = keepalive
        # An SSLContext (its wrap_socket is called); or umqtt.simple's older form, ssl=True
        # with ssl_params for ssl.wrap_socket, kept as that dict.
        self.ssl = (ssl_params or {}) if ssl is True else ssl
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
        # Where a packet comes in two pieces, the later ones are read here and copied to
        # their place in rx: readinto takes no offset, and a memoryview slice allocates.
        self._sc = bytearray(16)
        # The packet being read: its type byte (0 while its fixed header is still coming),
        # remaining length, the bytes of it read so far, and for a PUBLISH where its
        # payload starts << 16 | its packet id. Kept between calls: a packet that is not
        # whole by a call's deadline is finished by the next call, in step with the stream.
        # Every attribute is made here, or has its place here: a new one could grow the
        # instance's table (an allocation, under heap_lock a MemoryError on the first
        # packet), and looking up a name not in a full table searches all of it (the
        # outbox's, a class attribute, cost a QoS 1 publish 6,700 cycles on the chip each
        # time). The 48 made here take the table to 59 places (it grows past 47); four
        # more, read only on a connection, are made by connect(): the socket's poll object
        # _p, _tx_t and _rx_t (when we last sent, last heard) and _due (see _tick). (Made
        # here they cost this function's bytecode a 32 B block more.)
        self._op = self._rl = self._got = self._hp = 0
        self._wt = 0  # the reply clock: since an ack is owed, or the last one came (_tick)
        self._cbing = False  # the callback runs: no other may start (see _recv)
        self._err = None  # what the callback raised, for poll() to raise
        # The deadline of the public call under way (ticks): every wait in it, for a packet
        # or an ack, ends by _dl; for room in the socket, by _wdl (the same; but poll()'s
        # ms bound only the wait for packets, and ping() has none: there _wdl is 0, and
        # the first wait for room sets it, timeout from then). Set where each public call
        # starts, never per read or per step.
        self._dl = self._wdl = 0
        # The QoS 1 store: `inflight` slots of bufsize bytes, each holding a whole PUBLISH
        # packet that can be resent as it is; the first _n slots are in flight, oldest
        # first. It is the client's session state (MQTT-4.1.0-1), kept across reconnects;
        # in RAM, so not across resets.
        self._slot = list(map(bytearray, [bufsize] * inflight))  # a bytearray(bufsize) each
        self._spid = [0] * inflight  # packet id in each slot, 0 once acked
        self._slen = [0] * inflight  # its length << 2 | where it starts (0-3)
        self._n = self._pid = 0
        # -- QoS 2 in: the ids of incoming QoS 2 messages delivered and PUBRECed, kept until
        # their PUBREL (MQTT-4.3.3-2): a PUBLISH resent with one of them is acked again, not
        # delivered again. qos2_in of them can wait at once: Mosquitto's default in-flight
        # window is 20, and after a reconnect its resends and new messages were seen to
        # hold 22. The list is made by the first subscribe(t, 2), so those who never
        # receive QoS 2 pay nothing; 0 marks a free place (ids are never 0).
        self._reln = qos2_in
        self._rel = None
        # topic: qos (0-2) once the broker acked it; qos | 4 for a SUBSCRIBE and -1 for an
        # UNSUBSCRIBE it has not acked yet, made again on the next connection
        self._subs = {}
        self._clean = None  # the clean-session flag wanted; None: no connection wanted
        self._delay = self._retry_t = 0
        self._pinging = False
        self._want = 0  # the ack a blocking call waits for, type << 16 | id; 0 once it came
        self._pc = [None] * 4  # the last bytes topics publish() checked (see there)
        self._rt = None  # the incoming topic last checked
        self.dropped = 0  # QoS 0 messages dropped while offline (reconnect=True)
        self.reconnects = 0
        # Settings an application may change on the client (`c.backoff_max = ...`), made
        # here, as every attribute is: set later, one would grow the table (see above).
        self.backoff_min = 500  # ms before the first reconnect; doubles, with jitter, up to the max
        self.backoff_max = 30000
        self.max_skip = 65536  # an incoming PUBLISH above rxsize is skipped up to this, else refused
        # outbox.py's Outbox, or the like: QoS 1 and 2 messages are stored there before
        # publish() returns, and it feeds the store above (Queue.feed in outbox.py).
        self.outbox = outbox

    def set_callback(self, f):
        self.cb = f  # f(topic, msg), both bytes

    def set_last_will(self, topic, msg, retain=False, qos=0):
        if qos < 0 or qos > 2:  # 3 is not (MQTT-3.1.2-14); a QoS 2 will is the broker's work
            raise ValueError("qos")
        # CONNECT's will flags, QoS and retain bits (MQTT-3.1.2-9, -11, -13, -15), and the
        # will topic and message that follow the client id (MQTT-3.1.3-1)
        self._will = (4 | qos << 3 | retain << 5, _check_topic(_bytes(topic), False, 0, -1), _bytes(msg))

    # -- the connection ----------------------------------------------------------------

    def connect(self, clean_session=True, timeout=None):
        # Returns the session-present flag. A refusal raises MQTTException(code, reason).
        # With reconnect=True network trouble is logged, and poll() retries with backoff.
        if not (self.client_id or clean_session):
            raise ValueError("client_id")  # empty needs clean_session (MQTT-3.1.3-7)
        if self.password and not self.user:
            raise ValueError("password")  # not without a user name (MQTT-3.1.2-22)
        self._clean = clean_session
        self._fail(None)
        timeout = self._to if timeout is None else int(timeout * 1000)  # now in ms
        self.sock = s = socket.socket()
        try:
            # Every write is a whole packet, so Nagle only delays: a QoS 1 PUBLISH right
            # after a QoS 0 one would wait for the broker's delayed ACK (~40 ms). Level 6 is
            # IPPROTO_TCP; TCP_NODELAY differs by port: 1 on Linux and ESP32, 64 on rp2,
            # whose lwIP sockets ignore the level and take a literal 1 as an unknown option
            # (Nagle stayed on, silently). Hence the module's constant where it has one.
            # Its name in two pieces: a string literal over 10 characters is a str object,
            # 64 B of RAM from import on; the short ones are qstrs.
            s.setsockopt(6, getattr(socket, "TCP_" + "NODELAY", 1), 1)
            s.settimeout(timeout / 1000)
            s.connect(socket.getaddrinfo(self.server, self.port)[0][-1])
            ssl = self.ssl
            if ssl.__class__ is dict:  # ssl=True, ssl_params={...} (see __init__)
                s = __import__("ssl").wrap_socket(s, **ssl)  # pyright: ignore
            else:  # (not elif: the compiler ends a last elif with a jump, 2 bytes)
                if ssl:
                    s = ssl.wrap_socket(s, server_hostname=self.server)  # pyright: ignore
            self.sock = s  # closed by _fail() from now on, the TLS layer with it
            s.setblocking(False)
            t = ticks_ms()
            self._dl = self._wdl = ticks_add(t, timeout)
            if _CPY:
                self.sock = s = _Stream(s)
            self._p = select.poll()
            self._p.register(s, 1)  # POLLIN
            self._tx_t = self._rx_t = self._wt = self._due = t  # _pinging: cleared by _fail()
            self._want = 0x20  # CONNACK, and nothing else, may come now (MQTT-3.2.0-1)
            # CONNECT, the first packet on the connection (MQTT-3.1.0-1): protocol name
            # "MQTT" and level 4 (sections 3.1.2.1-2), flags, keepalive, then the payload
            # in the order of MQTT-3.1.3-1, the client id first (MQTT-3.1.3-3). The will
            # topic and message are there exactly when the will flag is (MQTT-3.1.2-9), its
            # QoS and retain only with it (MQTT-3.1.2-11, MQTT-3.1.2-13, MQTT-3.1.2-15); the
            # user name and password exactly when their flags are (MQTT-3.1.2-18,
            # MQTT-3.1.2-19, MQTT-3.1.2-20, MQTT-3.1.2-21).
            f = clean_session << 1
            fields = [self.client_id]
            x = self._will  # (flags, topic, message), see set_last_will
            if x:
                f |= x[0]
                fields += x[1:]
            if self.user:
                f |= 0x80
                fields += [self.user]
            if self.password:
                f |= 0x40
                fields += [self.password]
            # The buffer it needs: header 5, then 10, the fields, and 2 spare (as a string
            # field wants behind it, see subscribe)
            n = 17
            for x in fields:
                n += 2 + len(x)
            buf = self._tx
            if n > len(buf):
                buf = bytearray(n)
            # The protocol name, a string field: length 4, "MQTT" in two 16-bit numbers ("MQ"
            # 0x4D51, "TT" 0x5454; a bytes literal would be a 64 B object in RAM); then the
            # level, flags, keepalive.
            struct.pack_into("!HHHBBH", buf, 5, 4, 0x4D51, 0x5454, 4, f, self.keepalive)
            i = 15
            # Each a string field (MQTT-1.5.3): 2-byte length, then the bytes; buf is long
            # enough for all (n above).
            for x in fields:
                n = len(x)
                struct.pack_into("!H", buf, i, n)
                i += 2 + n
                buf[i - n : i] = x
            h = _header(buf, 0x10, i - 5)
            self._send(buf, h, i - h)
            # CONNACK is due within timeout. _recv() returns None until a packet is whole,
            # and while _want is CONNACK no other is taken (it raises): one that it returns
            # is CONNACK. (The first read is tried before any wait: none needed if it came.)
            while not self._recv():
                if not self._wait(ticks_diff(self._dl, ticks_ms()), 1):
                    raise OSError("no CONNACK")
            # The return code (named e: the first 16 locals take one byte a use, the others
            # two, and the except clause below uses e too)
            e = self._rx[1]
            if e:
                # the return codes of table 3.1
                raise MQTTException(e, (
                    "?|unacceptable protocol version|identifier rejected|server unavailable"
                    "|bad user name or password|not authorized|refused"
                ).split("|")[min(e, 6)])
            self._delay = 0
            sp = self._rx[0]  # session present
            # -- QoS 2 in: a broker without our session will not send the PUBRELs we
            # wait for, and may use those ids again for new messages: forget them. The
            # table is made again, empty, by the re-subscription below of a QoS 2 filter
            # (subscribe), or by the first QoS 2 message (_recv).
            if not sp:
                self._rel = None
            # Resend what was never acked, in order, with the same packet id and DUP set
            # (MQTT-4.4.0-1, MQTT-2.3.1-3, MQTT-3.3.1-1, MQTT-4.6.0-1). A QoS 2 slot that
            # had its PUBREC holds its PUBREL (0x62) instead: that goes again, never the
            # PUBLISH (MQTT-4.3.3-1), in the order of the PUBRECs (MQTT-4.6.0-4). First: a message
            # that arrives during the re-subscription below runs the callback, and what it
            # publishes goes out once, as new.
            for i in range(self._n):
                if self._spid[i]:
                    buf = self._slot[i]
                    n = self._slen[i]  # the packet's length << 2 | where it starts
                    h = n & 3
                    if not buf[h] >> 6:  # below 0x40, a PUBLISH; a QoS 2 slot past PUBREC holds PUBREL
                        buf[h] |= 8
                    self._send(buf, h, n >> 2)
            if self.outbox:
                self.outbox.feed(self)  # then what it holds: at boot, the last run's first
            # What the broker has not acked is made again; when it has no session for us
            # (MQTT-3.2.2-1, -2) it forgot every subscription, and has none to take back.
            # Within what is left of the deadline: a SUBACK later than that leaves its
            # subscription marked unacked, made again on the next connection.
            # (self._subs, not a local: q stays among the first 16 locals, see e above)
            for t in list(self._subs):
                q = self._subs[t]
                if q < 0:  # an UNSUBSCRIBE not acked
                    if sp:
                        self.subscribe(t, -1, 0xA2, True)
                    else:
                        del self._subs[t]
                    continue  # (not elif below: a last elif ends with a jump, 2 bytes)
                if q > 3 or not sp:  # a SUBSCRIBE not acked, or the session lost
                    self.subscribe(t, q & 3, 0x82, True)
            return sp
        except OSError as e:
            self._fail(e)
        except Exception:
            # Refused, a malformed reply (MQTTException), or a certificate that does not
            # verify (ValueError on MicroPython): closed, then raised.
            self._fail(None)
            raise

    def disconnect(self):
        # DISCONNECT, then close at once (MQTT-3.14.4-1, MQTT-3.14.4-2); the broker drops
        # the will (MQTT-3.1.2-10).
        self._clean = None
        _deadline(self)
        try:
            self._send(b"\xc0\0\xe0\0", 2, 2)  # DISCONNECT: see ping(); offline: OSError
        except OSError:
            pass
        self._fail(None)

    def isconnected(self):
        return self.sock is not None

    def pending(self):
        # QoS 1 and 2 messages accepted by publish(), not yet PUBACK/PUBCOMP
        return self.outbox.count if self.outbox else self._n

    def flush(self, timeout):
        # Serves the link until every QoS 1 and 2 message accepted is acknowledged, for
        # timeout seconds at most, never longer: it does not redial (a reconnect could
        # outlast the deadline), so a link that is down, or goes down, ends it. True when
        # all are acked, or when those left are durable in the outbox (pending() says how
        # many); False when RAM alone holds some. Before machine.deepsleep(): then
        # disconnect(), and the will stays quiet.
        self._dl = self._wdl = ticks_add(ticks_ms(), int(timeout * 1000))
        try:
            while self.sock is not None and self.pending() and ticks_diff(self._dl, ticks_ms()) > 0:
                self._step()
        except (OSError, MQTTException) as e:
            self._fail(e)
        return not self.pending() or self.outbox is not None

    def _fail(self, e):
        # Closes the socket, and forgets a packet half read from it and a PINGREQ not
        # answered (connect() starts here, and counts on both). With an error, the
        # link broke and is closed (MQTT-4.8.0-2): re-raised in plain mode; with
        # reconnect=True logged, and poll() redials after a backoff with jitter.
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self._op = self._got = 0
        self._pinging = False
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

    # -- deadlines, bytes in and out ---------------------------------------------------

    def _send(self, buf, off, n):
        # Writes n bytes, in one write unless the socket is full; then waits for room until
        # the call's deadline. A packet half written cannot be taken back: "stalled", and
        # the caller drops the link.
        s = self.sock
        if s is None:
            raise OSError("offline")
        while n:
            # The stream write of the firmware takes (buf, offset, length) (py/stream.c);
            # the stubs list (buf) only.
            w = s.write(buf, off, n)  # pyright: ignore[reportCallIssue]
            if w is None:
                if not self._wdl:  # 0: timeout from this first wait for room (see __init__)
                    self._wdl = ticks_add(ticks_ms(), self._to)
                if not self._wait(ticks_diff(self._wdl, ticks_ms()), 4):  # POLLOUT
                    raise OSError("stalled")
            else:
                off += w
                n -= w
        self._tx_t = ticks_ms()

    def _wait(self, timeout, event):
        # Waits up to timeout ms for the socket to be readable (event 1, POLLIN), writable
        # (event 4, POLLOUT) or failed; True if it is. A negative timeout would wait forever.
        p = self._p
        if self.sock is None:  # closed under a wait loop
            raise OSError("offline")
        p.modify(self.sock, event)  # pyright: ignore[reportOptionalMemberAccess]
        if _CPY:
            return bool(p.poll(max(timeout, 0)))  # pyright: ignore[reportOptionalMemberAccess]
        for _ in p.ipoll(max(timeout, 0)):  # pyright: ignore[reportOptionalMemberAccess]
            return True
        return False

    def _recv(self):
        # Reads what has come of the packet under way, never waiting, and acts on it once
        # it is whole; returns its type byte, or None while it is not whole: what was read
        # stays (_op, _rl, _got count it) and the next call goes on from there, so a packet
        # in pieces never desynchronises the stream, and check_msg() never waits for one.
        # Whatever the broker may not send, or sends malformed, raises MQTTException: the
        # caller drops the link. A packet's first read lands in rx; later pieces come
        # through _sc and are copied to their place (readinto takes no offset, and a
        # memoryview slice allocates). Bytes past rxsize (a message too large, skipped)
        # pass through rx, its packet id picked out on the way. The common case, a packet
        # that has come whole, is two reads.
        # (`is None`, not a truth test: the truth of an object of a class written in Python,
        # a stream wrapper say, is a search for __bool__ and __len__: on the chip the bench's
        # in-memory stream took 1,700 cycles a test.)
        s = self.sock
        if s is None:  # closed under a loop, by a callback say
            raise OSError("offline")
        rx = self._rx
        m = len(rx)
        op = self._op
        g = self._got
        if op:
            rl = self._rl
        else:
            # The fixed header (MQTT-2.2): the type byte, then the remaining length in 1-4
            # bytes of 7 bits, low first (MQTT-2.2.3); the first two in one read.
            while g < 2 or rx[g - 1] >> 7:  # the last one read has a byte behind it
                if g > 4:  # at most four length bytes
                    raise MQTTException("bad packet", rx[0])
                if g:
                    r = s.readinto(self._sc, 1)  # pyright: ignore[reportOptionalMemberAccess]
                    if r:
                        rx[g] = self._sc[0]
                else:
                    r = s.readinto(rx, 2)  # pyright: ignore[reportOptionalMemberAccess]
                if not r:
                    self._got = g
                    if r is None:
                        return None
                    raise OSError("closed")
                g += r
            op = rx[0]
            rl = 0
            while g > 1:
                g -= 1
                rl = rl << 7 | rx[g] & 127
            g = 0
            self._rx_t = ticks_ms()
        pub = op >> 4 == 3  # a PUBLISH: type 3, any flags
        # What the fixed header says is checked before the rest is read (again when a
        # packet goes on: the same answer). CONNACK comes first (MQTT-3.2.0-1), once: a
        # second one is a protocol error; no broker sends types 0 or 1 (CONNECT); QoS 3 is
        # malformed (MQTT-3.3.1-4); no packet but PUBLISH is longer than 3.
        if (op == 0x20) != (self._want == 0x20) or op < 0x20 or (op & 6 > 4 if pub else rl > 3):
            raise MQTTException("bad packet", op)
        if rl > m and rl > self.max_skip:  # refused before reading: nothing allocated
            raise MQTTException("too large", op)
        # Not while the callback runs: a PUBLISH's body waits in the socket (see below).
        r = None if pub and self._cbing else 1
        k = rl if rl < m else m  # what is kept in rx
        while r and g < k:
            if g:
                r = s.readinto(self._sc, min(k - g, 16))  # pyright: ignore[reportOptionalMemberAccess]
                if r:
                    for j in range(r):
                        rx[g + j] = self._sc[j]
            else:
                r = s.readinto(rx, k)  # pyright: ignore[reportOptionalMemberAccess]
            g += r or 0
        if r and pub:
            if g == k:
                # where the payload starts: after the topic, and at QoS 1 and 2 a packet id
                at = 2 + (rx[0] << 8 | rx[1]) + (op & 6 and 2)
                if at > rl:  # also when rl < 2: at is 2 at least
                    raise MQTTException("bad packet", op)
                # The packet id (QoS 1 and 2; for QoS 0 this is unused), when it is in rx.
                # Past it, the loop below picks it out: each of its bytes pushes the one
                # before it up and the older one out, so rx's last byte here is its high
                # byte when the id straddles the end, and gone by the low one otherwise.
                # (named pid: a local among the first 16 is one byte a use, the others two)
                pid = rx[at - 2] << 8 | rx[at - 1] if at <= m else rx[m - 1]
                self._hp = at << 16 | pid
            while r and g < rl:  # past rxsize: skipped, through rx
                r = s.readinto(rx, min(rl - g, m))  # pyright: ignore[reportOptionalMemberAccess]
                if r:
                    at = self._hp >> 16  # the packet id is the 2 bytes before
                    for j in range(max(at - 2, g), min(at, g + r)):
                        self._hp = at << 16 | (self._hp & 255) << 8 | rx[j - g]
                    g += r
        if not r:
            self._op = op
            self._rl = rl
            self._got = g
            if r == 0:
                raise OSError("closed")
            return None
        self._op = self._got = 0  # whole; rx is free again once a message is copied out
        ack = 0  # the ack to send back (its type byte), written in b with pid
        b = self._tx
        if pub:
            # The message goes to the callback, then its PUBACK out. The callback is a
            # guest: none starts while one runs, so none nests in another (a PUBLISH that
            # comes meanwhile waits in the socket, above), PUBACKs leave in the order their
            # messages came (MQTT-4.6.0-2), and the stack stays flat however many wait.
            # What it raises is kept for poll() to raise once the client's state is whole
            # again: an OSError of its own (I2C, a file) is not taken for a network failure,
            # and the link stays up. Inside it, a publish or a subscribe does not wait for
            # its ack, which is read after the callback returns.
            # The topic, by the rules of _check_topic (MQTT-4.7.3-1, -2, ...), in place: once
            # per distinct topic, as one equal to the last one handed on (compared in C, no
            # copy) was checked when it first came. A topic longer than rx is skipped
            # with its message, unread: its packet id was picked out on the way (_hp). One
            # that fits was read whole in this call, so `at` and pid are still here.
            t = self._rt
            if rl > m:
                pid = self._hp & 65535
            else:
                # where the topic ends (j, the copy loops' index above: a local among the
                # first 16 is a byte a use, and e is the except clause's below)
                j = at - (op & 6 and 2)
                if not (t and len(t) == j - 2 and rx.startswith(t, 2)):
                    try:
                        _check_topic(rx, False, 2, j)
                    except ValueError:
                        raise MQTTException("bad topic")
                    t = None
            # -- QoS 2 in (MQTT-4.3.3-2): an id still waiting for its PUBREL is a message
            # already delivered: it is acked again, not delivered again. A new one needs a
            # free place in the table, or it could not be told from its resend: without
            # one it is neither delivered nor acked, and the link is dropped (logged in
            # resilient mode); the broker sends it again on the next connection, after
            # the PUBRELs that free places (MQTT-4.4.0-1). Its id is never 0 (MQTT-2.3.1-1).
            # The id is taken before the callback runs: whatever the callback does, the
            # message was delivered once.
            dup = False
            if op & 4:  # QoS 2
                rel = self._rel
                if not rel:  # a kept session brought QoS 2 before any subscribe(t, 2)
                    rel = self._rel = [0] * self._reln
                dup = pid in rel
                if not pid or not (dup or 0 in rel):
                    raise MQTTException("qos2 full" if pid else "bad packet", pid)
                if not dup:
                    rel[rel.index(0)] = pid
            if rl > m:
                self.log("mqtt:", "too large", rl)
            elif self.cb and not dup:
                # The topic handed on is the last one's bytes object again, or a copy of
                # this new one, remembered instead: one reference of RAM, at most rxsize.
                if t is None:
                    t = self._rt = bytes(rx[2:j])
                msg = bytes(rx[at:rl])
                dl = self._dl  # the caller's deadline, after the callback's
                wdl = self._wdl
                self._cbing = True
                try:
                    self.cb(t, msg)
                except BaseException as e:  # Ctrl-C too: raised by poll() all the same
                    self._err = e
                self._cbing = False
                self._dl = dl
                self._wdl = wdl
            # PUBACK with its id (MQTT-2.3.1-6), after delivery (MQTT-3.3.4-1,
            # MQTT-4.3.2-2), in the order received (MQTT-4.6.0-2), also for a message that
            # was skipped (MQTT-4.5.0-2), and when the callback raised: an unacked message
            # would hold one of the broker's in-flight places for us until a reconnect, and
            # a few (Mosquitto: 20) stop all QoS 1 delivery to us. QoS 2: PUBREC instead
            # (MQTT-4.3.3-2), the same way, in the same order (MQTT-4.6.0-3).
            ack = op & 6 and 0x30 + (op & 6) * 8
        else:
            pid = rx[0] << 8 | rx[1]
            # The type byte is compared whole, so wrong flags are refused (MQTT-2.2.2-2); any
            # protocol violation closes the connection (MQTT-4.8.0-1), done by the caller.
            if (op == 0x40 or op == 0x50 or op == 0x70) and rl == 2:
                # PUBACK, PUBREC, PUBCOMP. Free slots hold 0, so a match is in flight (ids are
                # never 0). A slot's first byte says which ack it waits for: a QoS 1 PUBLISH
                # its PUBACK, a QoS 2 one its PUBREC, a PUBREL (0x62) its PUBCOMP; another ack
                # for it is a protocol violation (MQTT-4.8.0-1), and one for an id not in the
                # store is stale (a resent PUBREC or PUBCOMP): PUBACK and PUBCOMP are ignored.
                ids = self._spid
                if pid in ids:
                    k = ids.index(pid)
                    b = self._slot[k]
                    # its type byte, then the type of the ack it waits for (t, as a PUBLISH's
                    # topic is: a local among the first 16 is a byte a use)
                    t = b[self._slen[k] & 3]
                    t = 0x70 if t == 0x62 else 0x30 + (t & 6) * 8
                    if t != op and not (op == 0x50 and t == 0x70):  # PUBREC again: PUBREL again
                        raise MQTTException("bad packet", op)
                    self._wt = self._rx_t  # progress: the clock of what is owed starts again
                    if op == 0x50:
                        self._slen[k] = 4 << 2  # the slot holds its PUBREL from now on
                    else:  # PUBACK or PUBCOMP: its message is done
                        ids[k] = 0
                # -- QoS 2 out: after a PUBREC, PUBREL goes now (in the order of the PUBRECs,
                # MQTT-4.6.0-4), written into the slot, where it stays to go again on each
                # reconnect until PUBCOMP (MQTT-4.3.3-1): its PUBLISH is gone for good. For an
                # id not in the store (the broker kept it from an earlier run) PUBREL goes
                # from the transmit buffer all the same, or the broker would hold that message
                # for us. Plain publish() returns after PUBCOMP (pid stays in ids). After a
                # PUBACK or PUBCOMP, no ack: 0. (A product, not an if: a byte shorter.)
                ack = (op == 0x50) * 0x62
                # Acks come in order; while the oldest is acked, its slot moves to the back,
                # free. One out of order waits for those before it. pop(0) and append reuse
                # the lists' room. (k: how many are in flight, as in publish(); a local
                # among the first 16 is a byte a use shorter.)
                k = self._n
                while k and not ids[0]:
                    k -= 1
                    if k:  # none left in flight: no order to keep
                        ids.append(ids.pop(0))
                        self._slot.append(self._slot.pop(0))
                        self._slen.append(self._slen.pop(0))
                    if self.outbox:
                        self.outbox.ack()
                self._n = k
                if self.outbox:
                    self.outbox.feed(self)
            elif op == 0x62 and rl == 2:
                # -- QoS 2 in: PUBREL (flags 0010, MQTT-3.6.1-1: 0x60 is refused below). The
                # message is done: its id is free, and PUBCOMP goes back, also for an id we
                # do not hold (a PUBREL resent after our PUBCOMP was lost).
                rel = self._rel
                if rel and pid in rel:
                    rel[rel.index(pid)] = 0
                ack = 0x70
            elif op == 0xD0 and rl == 0:  # PINGRESP
                self._pinging = False
            elif op == 0x90 and rl == 3 or op == 0xB0 and rl == 2:  # SUBACK, UNSUBACK
                if self._want == op << 16 | pid:
                    # the ack that subscribe() or unsubscribe() waits for; -1: refused
                    self._want = -(op == 0x90 and rx[2] == 0x80)
            elif op == 0x20 and rl == 2 and rx[0] < 2:
                self._want = 0  # CONNACK, in connect(); its other flags are reserved (3.2.2.1)
            else:
                raise MQTTException("bad packet", op)
        if ack:
            # The ack's 4 bytes, then one write (_send waits for room when the socket is
            # full). Written into b also without a link: a PUBREL stays in its slot.
            b[0] = ack
            b[1] = 2
            b[2] = pid >> 8
            b[3] = pid & 255
            s = self.sock
            if s is not None:
                # r: what the write took (None: no room), the reads being done
                r = s.write(b, 0, 4) or 0  # pyright: ignore[reportCallIssue]
                if r == 4:
                    self._tx_t = self._rx_t
                else:
                    self._send(b, r, 4 - r)
        return op

    # -- keepalive and waiting for replies ---------------------------------------------

    def ping(self):
        # PINGREQ; _pinging holds when it left (odd, so never 0) until PINGRESP. Its write
        # may wait up to timeout for room (from _tick too).
        self._pinging = ticks_ms() | 1
        self._wdl = 0
        # PINGREQ (MQTT-3.12); DISCONNECT shares the constant: each costs 64 B of RAM
        self._send(b"\xc0\0\xe0\0", 0, 2)

    def _step(self):
        # Handles a packet that has come, or waits for one until the call's deadline (K/8
        # at most) and handles it; then the keepalive's work, when due. Returns the packet
        # type handled, or None.
        op = self._recv()
        if op is None:
            if self._wait(min(ticks_diff(self._dl, ticks_ms()), self._rto >> 2), 1):
                op = self._recv()
            t = ticks_ms()
        else:
            t = self._rx_t  # when its header came: no need of the time to the ms
        if self.sock is not None and ticks_diff(t, self._due) >= 0:
            self._tick()
        return op

    def _tick(self):
        # The keepalive. The broker wants a packet from us within each keepalive
        # (MQTT-3.1.2-23), or drops us after one and a half (MQTT-3.1.2-24); we want proof
        # that the link lives: any packet from the broker is proof, so PINGREQ goes out
        # only after a keepalive with nothing sent or nothing heard. While QoS 1 flows and
        # is acked, no PINGREQ at all. An ack K/2 late, with nothing heard meanwhile, is
        # not yet proof of a dead link (a slow broker, a loaded cluster node): it sends a
        # PINGREQ, and only a PINGRESP K/2 late, with nothing else heard, drops the link.
        # A silent link is found within 1.5 K idle (K of quiet, PINGREQ, K/2), within K
        # with QoS 1 in flight. An ack that the broker, answering pings, still owes after
        # 4 K (a lost PUBACK) drops the link too: only a reconnect makes it resend what it
        # holds, and us what we hold (MQTT-4.4.0-1).
        now = ticks_ms()
        r = self._rto
        k = self.keepalive * 1000
        p = self._pinging
        heard = ticks_diff(now, self._rx_t)
        owed = (self._n or self._want) and ticks_diff(now, self._wt)  # since the last ack
        # The owed ack is checked whether a PINGREQ is out or not: a caller that services
        # the link only when the socket is readable (leanmqtt_async) never sees the short
        # moment between PINGREQ and PINGRESP.
        if owed > 8 * r or p and heard > r and ticks_diff(now, p) > r:
            raise OSError("no reply")
        sent = ticks_diff(now, self._tx_t)
        if not p and (heard > r and owed > r or k and (sent >= k or heard >= k)):
            self.ping()  # then the next step comes here again, and finds it sent
        # Nothing above can hold before r after the last packet heard, k after the last
        # one sent, or r after the ack owed was due: until the first of these, _step does
        # not come here (the clocks only move on, and an ack owed from later is due later).
        # Past one of them (a quiet link), every step comes. (Nothing owed: owed is 0.)
        self._due = ticks_add(now, min(r - heard, r - owed, k - sent if k else r))

    # -- messages ----------------------------------------------------------------------

    def publish(self, topic, msg, retain=False, qos=0):
        # True when the message went out (QoS 0) or is in the store (QoS 1; plain mode:
        # and its PUBACK came). With reconnect=True, False when a QoS 0 message finds the
        # link down or its write fails (counted in .dropped) or the QoS 1 store stays full
        # until the deadline: nothing is dropped silently.
        # On a board the CPU is the cost: this path is written for the cycle counter (see
        # the README's chip figures), with no call it can do without.
        # A topic is checked once: the last four bytes topics checked are kept (references
        # in a list made in __init__, so keeping one allocates nothing), and one equal to
        # any of them (compared in C: the same object at once, else by content) is known
        # good. A bytearray or memoryview is compared but never kept: it may change. A str
        # is encoded first (that allocates: a bytes topic does not).
        if topic is not self._pc[0]:  # the last one: no more to do
            if topic.__class__ is str:
                topic = topic.encode()
            if topic not in self._pc:
                _check_topic(topic, False, 0, -1)
                if topic.__class__ is bytes:
                    self._pc.pop()
                    self._pc.insert(0, topic)
        if msg.__class__ is str:
            msg = msg.encode()
        tl = len(topic)  # pyright: ignore[reportArgumentType] (None fails here: TypeError)
        ml = len(msg)
        buf = self._tx
        m = len(buf)  # bufsize: the store's slots are as long
        s = self.sock
        dl = False  # the call's deadline is set (see below)
        if qos < 0 or qos > 2:  # QoS 2 takes a store slot like QoS 1, until PUBCOMP
            raise ValueError("qos")
        # The store keeps whole packets, to resend them; a QoS 0 payload may go on past the
        # buffer, but the header, the topic and 2 bytes more must fit in it (as subscribe():
        # storing past the end would grow it, that is, allocate).
        if 9 + tl + (qos and ml) > m:
            raise ValueError("bufsize")
        if s is None and not self.reconnect:
            raise OSError("offline")
        if not qos:
            if s is None:
                self.dropped += 1
                return False
        else:
            if not self.outbox:  # with one: built in _tx, stored there, then to a slot
                # The first free slot; while all are taken, service the link until a
                # PUBACK frees one, or the deadline; in the callback only while no message
                # is next. The call's deadline, for each wait in it, is set before the
                # first one: a publish that does not wait needs none.
                while self._n == len(self._slot):
                    if not dl:
                        dl = _deadline(self)
                    if not self.sock or ticks_diff(self._dl, ticks_ms()) <= 0 or self._cbing and self._op >> 4 == 3:
                        if self.reconnect:
                            return False
                        raise OSError("store full")
                    try:
                        self._step()
                    except (OSError, MQTTException) as e:
                        self._fail(e)
                    s = self.sock
                k = self._n
                buf = self._slot[k]
        # The header ends at offset 5; then topic, packet id, payload. QoS and retain are
        # header flags; DUP is 0 on a first delivery (MQTT-3.3.1-2, MQTT-4.3.1-1,
        # MQTT-4.3.2-1), and a QoS 0 PUBLISH has no packet id (MQTT-2.3.1-5). The fixed
        # header of _header() and the topic's string field, written here: the calls cost more
        # than the work.
        # (i is first the remaining length, then where the next field goes: one name, so
        # that its many uses below are one byte each; see _recv.)
        i = 2 + tl + (qos and 2) + ml
        buf[3] = 0x30 | qos << 1 | retain  # the type byte's place when the length takes 1 byte
        if i < 128:
            h = 3
            buf[4] = i
        else:
            h = _header(buf, buf[3], i)  # the type byte, moved to its place
        i = 7 + tl
        buf[5] = tl >> 8
        buf[6] = tl & 255
        buf[7:i] = topic  # pyright: ignore[reportCallIssue, reportArgumentType]
        if qos:
            # Never 0 (MQTT-2.3.1-1); unused, as the store holds fewer than 65535 (MQTT-2.3.1-2)
            self._pid = pid = self._pid % 65535 + 1
            buf[i] = pid >> 8
            buf[i + 1] = pid & 255
            i += 2
        if i + ml <= m:
            buf[i : i + ml] = msg
            i += ml
            ml = 0  # all in buf
        n = i - h  # the packet's length in buf
        if qos:
            if self.outbox:
                # Durable before True (False: the outbox is full and refuses), then sent
                # when the store has room.
                if not self.outbox.put(buf, n << 2 | h):
                    return False
                _deadline(self)  # for feed()'s writes
                self.outbox.feed(self)
                return True
            if not (self._n or self._want):
                self._wt = ticks_ms()
            self._spid[k] = pid
            self._slen[k] = n << 2 | h
            self._n += 1
            if s is None:
                return True  # stored; it goes out when the link is back
        try:
            # One write takes the packet but when the socket is full: then the rest waits
            # for room, by this call's deadline (set only now: no wait, no deadline).
            w = s.write(buf, h, n) or 0  # pyright: ignore[reportCallIssue, reportOptionalMemberAccess] (None: no room)
            if w == n and not ml:
                self._tx_t = ticks_ms()
            else:
                if not dl:
                    dl = _deadline(self)
                self._send(buf, h + w, n - w)
                if ml:
                    self._send(msg, 0, ml)  # a QoS 0 payload larger than the buffer
            if qos and not (self.reconnect or self._cbing):
                # Plain mode: return once the PUBACK (QoS 2: PUBCOMP) came, as
                # umqtt.simple does. QoS 1: when no packet is half read and the next one
                # is this PUBACK (the common case), it is read and acted on here, as
                # _recv() would: two reads, no call. Anything else is left where _recv()
                # goes on with it: what was read counted in _op, _rl and _got.
                rx = self._rx
                if qos == 1 and self._n == 1 and not (self._op or self._got):
                    r = s.readinto(rx, 2)  # pyright: ignore[reportCallIssue, reportOptionalMemberAccess]
                    if r == 2 and rx[0] == 0x40 and rx[1] == 2:  # PUBACK (MQTT-3.4)
                        self._rx_t = ticks_ms()
                        r = s.readinto(rx, 2)  # pyright: ignore[reportCallIssue, reportOptionalMemberAccess]
                        if r == 2 and rx[0] << 8 | rx[1] == pid:  # its message: done
                            self._n = self._spid[0] = 0
                            return True
                        self._op = 0x40
                        self._rl = 2
                    self._got = r or 0  # None: nothing came yet; 0: _recv() finds it closed
                while pid in self._spid:
                    if self._recv() is None:  # the ack came: then no deadline is needed
                        if not dl:
                            dl = _deadline(self)
                        if ticks_diff(self._dl, ticks_ms()) <= 0:
                            raise OSError("no reply")
                        self._step()
        except (OSError, MQTTException) as e:
            self._fail(e)
            if not qos:  # resilient mode: the message did not go out
                self.dropped += 1
                return False
        return True

    def unsubscribe(self, topic):
        self.subscribe(topic, -1, 0xA2)

    def subscribe(self, topic, qos=0, op=0x82, again=False):
        # SUBSCRIBE (op 0x82), or UNSUBSCRIBE (0xA2, from unsubscribe()), then wait for
        # SUBACK / UNSUBACK. Both are remembered until acked, and subscriptions after, to
        # be made again by a reconnect (again=True: that is being done now, within
        # connect()'s deadline, and a network error goes to connect()). Offline, only
        # remembered. The packet is made first: one that does not fit raises ValueError
        # before anything is remembered or sent.
        topic = _check_topic(bytes(_bytes(topic)), True, 0, -1)  # a dict key below: bytearray is unhashable
        # In a SUBSCRIBE (0x82; bit 0x20 marks UNSUBSCRIBE, 0xA2) qos is 0, 1 or 2: the only
        # integers that % 3 leaves as they are. (Two bytes shorter than qos < 0 or qos > 2.)
        if qos % 3 != qos and not op & 0x20:
            raise ValueError("qos")
        if qos == 2 and not self._rel:  # QoS 2 in: its table, made once (see __init__)
            self._rel = [0] * self._reln
        # Flags 0010 (MQTT-3.8.1-1, MQTT-3.10.1-1); one filter per packet here
        # (MQTT-3.8.3-3, MQTT-3.10.3-2), so SUBACK has one code (MQTT-3.9.3-1).
        buf = self._tx
        self._pid = pid = self._pid % 65535 + 1
        # The packet id, then the filter, a string field (MQTT-1.5.3): 2-byte length, then
        # the bytes. 2 bytes must stay free behind it (the QoS byte): assigning past the
        # end would grow the buffer, that is, allocate.
        n = len(topic)
        i = 9 + n
        if i + 2 > len(buf):
            raise ValueError("bufsize")
        struct.pack_into("!HH", buf, 5, pid, n)  # one call for both
        buf[9:i] = topic
        # The QoS byte, written in any case (2 bytes stay free, above) and counted only in a
        # SUBSCRIBE: an UNSUBSCRIBE (qos -1) ends with its filter.
        buf[i] = qos & 3
        i += qos >= 0
        h = _header(buf, op, i - 5)  # the body is in place: the header ends at 5
        subs = self._subs
        if not again:  # (again: connect()'s deadline)
            subs[topic] = qos | 4  # an UNSUBSCRIBE stays -1 (-1 | 4 is -1)
            _deadline(self)
        mark = subs.get(topic)
        if not self.sock:
            return
        try:
            self._send(buf, h, i - h)
            if self._cbing:
                return  # in the callback: not waited for; remembered as unacked
            if not (self._n or self._want):
                self._wt = ticks_ms()  # the reply clock starts
            self._want = op + 0x0E << 16 | pid  # the ack: SUBACK 0x90, UNSUBACK 0xB0
            while self._want > 0:
                if ticks_diff(self._dl, ticks_ms()) <= 0:
                    if again or self.reconnect:
                        # Left unacked: made again on the next connection; a broker that
                        # never acks it is found by _step.
                        return
                    raise OSError("no reply")
                self._step()
        except (OSError, MQTTException) as e:
            if again:
                raise
            return self._fail(e)
        if subs.get(topic) == mark:  # a callback meanwhile may have changed it
            subs[topic] = qos  # acked; an UNSUBSCRIBE's topic is forgotten
            if qos < 0:
                del subs[topic]
        if self._want:  # -1: the SUBACK's return code was 0x80 (else the ack left it 0)
            self._want = 0
            if again:  # on a reconnect: said, and publishing goes on
                return self.log("mqtt:", "refused", topic)
            raise MQTTException("refused", topic)

    # -- servicing the link ------------------------------------------------------------

    def poll(self, timeout_ms=0, most=33):
        # Services the link: waits up to timeout_ms for packets and handles what came, up
        # to `most`; sends PINGREQ when due, finds a dead link; with reconnect=True redials
        # when due (the board's net_up hook first) and resends. Returns the last packet
        # type handled. Raises what the callback raised, once the client is whole again.
        op = None
        end = ticks_add(ticks_ms(), timeout_ms)
        self._wdl = 0
        try:
            while True:
                if self.sock is None and self.reconnect:  # (plain mode: _step raises "offline")
                    left = ticks_diff(end, ticks_ms())
                    # Offline: sleep toward the next attempt rather than spin; after
                    # disconnect() there is no next attempt.
                    if self._clean is None:  # after disconnect(): nothing to redial
                        if left > 0:
                            sleep_ms(left)
                        break
                    wait = self._delay - ticks_diff(ticks_ms(), self._retry_t)
                    if wait > 0:
                        if left <= 0:
                            break
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
                self._dl = end
                r = self._step()
                if r is None:
                    if op is not None or ticks_diff(end, ticks_ms()) <= 0:
                        break
                else:
                    op = r
                    most -= 1
                    if most < 1 or self._err or self.sock is None:
                        break
                    end = ticks_ms()  # then only what has already come
        except (OSError, MQTTException) as e:
            self._fail(e)
        e = self._err
        if e:
            self._err = None
            raise e
        return op

    check_msg = poll  # poll(0): handle what has come, never wait (umqtt.simple's name)

    def wait_msg(self):
        # Waits until a packet arrives and handles that one, as umqtt.simple does.
        while True:
            op = self.poll(self._rto, 1)
            if op is not None:
                return op
