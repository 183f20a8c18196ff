# outbox: a durable, bounded outbox on the board's file system, for leanmqtt (optional: only
# those who import it pay its RAM).
#
#   from outbox import Outbox
#   ob = Outbox("/outbox", size=16384, policy=Outbox.REFUSE, latest=(b"dev/status",))
#   c = MQTTClient(..., reconnect=True, outbox=ob)
#
# Every QoS >= 1 message that publish() accepts is first written here and synced, so a reset
# at any instant after publish() returned True loses nothing; the client's RAM store is only
# the in-flight window, fed from here, in order, as PUBACKs free its slots.
#
# The interface the client uses (back it with RTC memory or an SD card by writing a class
# with the same members):
#   put(buf, sl)  stores the PUBLISH packet buf[h : h + n] (sl = n << 2 | h; its fixed header
#                 ends at offset 5, the topic starts there); True once durable, False when
#                 refused (full, policy REFUSE). Its packet id is a placeholder.
#   take(buf)     copies the oldest message not yet taken into buf, at the offsets it had,
#                 with DUP set when it may have gone out before a reset; returns its sl, or
#                 0 when there is none (or `window` messages are taken and not yet acked).
#   ack()         the oldest taken message was acknowledged: it is done.
#   count         messages held and not yet acknowledged (taken or not).
#   feed(client)  fills the client's free in-flight slots with take(): inherit Queue.
# Also: seq, the number the next message gets (it counts every message ever put; the app
# numbers its readings with it in sleep mode), and dropped / refused (the full policies).
#
# On flash. littlefs (ESP32, RP2040) wear-levels over the whole partition, but a ring that
# rewrote a header block per message would still rewrite a block per message; so this is a
# log, only appended to: message records, ack records, and rotation between two files
# (path.0, path.1, at most size // 2 bytes each, kept open). When the tail reaches the end of
# a file, what is still live is copied into the other one, emptied, behind a segment
# record with a higher generation, and a commit record seals it; a copy cut by a reset has
# no commit and is ignored at boot. Each record carries a CRC-16 and a sequence number that
# must follow on from the one before, so a record cut at any byte (a reset inside a write),
# and whatever an older generation left behind it, are found and ignored; the head (the ack
# records) and the tail (the last whole record) are read again from the log at boot. Acks
# are written without a sync (a lost ack costs a duplicate, never a message); the next put
# syncs them with itself, and at most `window` of them wait.
#
# Record: kind (1), flags (1: qos | h << 2 | latest-topic index << 4), body length (2, LE),
#         seq (4, LE), body, CRC-16/CCITT of the bytes before it (2, LE).
# A message's body is buf[0 : h + n] as put() got it; a segment record's body is the window
# (2 bytes) and the next message's seq (4); ack and commit records have none. seq numbers
# the messages (in segment and commit records it is the generation); it must stay below
# 2**30, a small int on a 32-bit board: 34 years at one message a second.
#
# What may block: put() syncs, and when the file is full copies the live messages to the
# other file (up to size // 2 bytes); take() reads; ack() writes, and syncs every `window`
# acks; the constructor reads both files.
try:
    from micropython import const
    from time import ticks_ms

    _CPY = const(0)
except ImportError:
    from leanmqtt import ticks_ms  # noqa: F401  # CPython: the client's own

    globals()["_CPY"] = 1

_MSG = 0xA5
_ACK = 0xA6
_SEG = 0xA7
_COM = 0xA8
_HDR = 10  # a record's header and CRC
_SEGN = 16  # a segment record: header, window, next seq, CRC

# CRC-16/CCITT (polynomial 0x1021, from 0xFFFF), four bits at a time: a 16-entry table and
# small ints only, so computing it allocates nothing.
_T = (0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
      0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF)


def crc16(b, i, j, c=0xFFFF):
    t = _T
    while i < j:
        c ^= b[i] << 8
        c = (c << 4 & 0xFFFF) ^ t[c >> 12]
        c = (c << 4 & 0xFFFF) ^ t[c >> 12]
        i += 1
    return c


if _CPY:
    import os

    class _File:
        # MicroPython's stream calls, write(buf, off, n) and readinto(buf, n), and a flush
        # that syncs as MicroPython's does, on a CPython file: the host reads the same files.
        def __init__(self, f):
            self.f = f

        def write(self, b, off, n):
            return self.f.write(memoryview(b)[off : off + n])

        def readinto(self, b, n):
            return self.f.readinto(memoryview(b)[:n])

        def seek(self, off, whence=0):
            return self.f.seek(off, whence)

        def flush(self):
            self.f.flush()
            os.fsync(self.f.fileno())

        def close(self):
            self.f.close()


def _open(path, mode):
    try:
        f = open(path, mode)
    except OSError:  # r+b of a file not there yet
        f = open(path, "w+b")
    return _File(f) if _CPY else f


class Queue:
    # What the client calls besides put(), take(), ack() and count: feed(). Inherit it in a
    # backend of your own (RTC memory, an SD card); it lives here, not in leanmqtt.py, so
    # that a client without an outbox pays no RAM for it.

    def feed(self, c):
        # The client's in-flight store takes from here, oldest first, while it has a free
        # slot and the link is up (so a slot only holds what went out); each message gets
        # its packet id now (take() set DUP where it may have gone out before a reset).
        # Its writes wait until the deadline of the client's call it is in.
        try:
            while c.sock and c._n < len(c._slot):
                b = c._slot[c._n]
                sl = self.take(b)
                if not sl:
                    return
                c._pid = pid = c._pid % 65535 + 1
                b[7 + (b[5] << 8 | b[6])] = pid >> 8  # after the topic (MQTT-2.3.1-1)
                b[8 + (b[5] << 8 | b[6])] = pid & 255
                if not (c._n or c._want):
                    c._wt = ticks_ms()  # the reply clock starts
                c._spid[c._n] = pid
                c._slen[c._n] = sl
                c._n += 1
                c._send(b, sl & 3, sl >> 2)
        except OSError as e:  # the link broke: dropped, redialled, resent from the slot
            c._fail(e)


class Outbox(Queue):
    REFUSE = 0  # full: put() (and publish()) return False; counted in .refused
    DROP_OLDEST = 1  # full: the oldest messages not yet sent make room; counted in .dropped

    def __init__(self, path, size=16384, policy=0, latest=(), window=16):
        # size: bytes on the file system, both files together. latest: topics (bytes) of which
        # only the newest message not yet sent is kept (at most 15). window: at most this many
        # messages taken and not yet acked (it bounds the client's in-flight window).
        if len(latest) > 15 or window < 1 or size < 256:
            raise ValueError("outbox")
        self.cap = size // 2
        self.policy = policy
        self.latest = [bytes(t) for t in latest]
        self.window = window
        self.dropped = self.refused = 0
        self.error = None  # the last OSError of the file system, if any
        self._h = bytearray(_HDR)  # one record header (and its CRC) at a time
        self._b = bytearray(64)  # the copy and check buffer
        k = len(latest) + 1
        self._last = [0] * k  # per latest topic: seq of its newest message not taken, size
        self._lastn = [0] * k
        self._fseq = [0] * window  # taken and not acked: seq and size, a ring, oldest first
        self._fn = [0] * window
        self._f0 = self._fk = 0
        self._unsynced = 0  # ack records written since the last sync
        self._names = ["%s.%d" % (path, i) for i in (0, 1)]
        self._fs = [_open(n, "r+b") for n in self._names]
        gen = [self._scan(i) for i in (0, 1)]
        self._cur = cur = 0 if gen[0] > gen[1] else 1
        self._gen = gen[cur]
        if not self._gen:  # nothing there, or nothing committed: a fresh segment
            self.seq = 1
            self._mark = self._dupn = self._win = self._live_bytes = self.count = self._rd = 0
            self.tail = _SEGN
            self._compact(0, 0)
            return
        if not cur:
            self._scan(0)  # again, to leave its state (file 1 was read last)
        self._live_scan()
        if self._win < window:
            # A wider window than the segment says bounds which messages may have gone out
            # before a reset: say so in a new segment.
            self._compact(0, 0)

    # -- reading the log -----------------------------------------------------------------

    def _rec(self, f, off, check):
        # Reads the record header at off into _h (kind, flags, length, seq); returns the
        # record's size, or 0 when there is no whole, checked record there.
        h = self._h
        f.seek(off)
        if f.readinto(h, 8) != 8:
            return 0
        n = h[2] | h[3] << 8
        if not _MSG <= h[0] <= _COM or off + n + _HDR > self.cap:
            return 0
        if check:
            c = crc16(h, 0, 8)
            b = self._b
            m = n
            while m:
                k = f.readinto(b, min(m, 64))
                if not k:
                    return 0
                c = crc16(b, 0, k, c)
                m -= k
            if f.readinto(b, 2) != 2 or b[0] | b[1] << 8 != c:
                return 0
        return n + _HDR

    def _seq(self):
        h = self._h
        return h[4] | h[5] << 8 | h[6] << 16 | h[7] << 24

    def _scan(self, i):
        # Checks file i: returns its generation if it starts with a committed segment, else 0.
        # Leaves the log's state in self: tail, next seq, ack mark, newest per latest topic.
        f = self._fs[i]
        n = self._rec(f, 0, True)
        if n != _SEGN or self._h[0] != _SEG:
            return 0
        gen = self._seq()
        b = self._b
        f.seek(8)
        f.readinto(b, 6)
        self._win = b[0] | b[1] << 8
        nxt = b[2] | b[3] << 8 | b[4] << 16 | b[5] << 24
        self.seq = nxt
        self._mark = 0
        last = self._last
        for k in range(len(last)):
            last[k] = 0
        off = n
        ok = False
        while True:
            n = self._rec(f, off, True)
            if not n:
                break
            h = self._h
            s = self._seq()
            if not ok:  # the copied messages, oldest first, then the commit record
                if h[0] == _COM and s == gen:
                    ok = True
                elif h[0] != _MSG or s >= nxt or s <= self._mark:
                    break
                else:
                    self._mark = s  # (for the order only; reset below)
            elif h[0] == _MSG and s == self.seq:
                self.seq = s + 1
            elif h[0] == _ACK and self._mark < s < self.seq:
                self._mark = s
            else:  # anything else is not ours: an older generation's bytes, or a cut record
                break
            if h[0] == _MSG:
                k = h[1] >> 4
                if k < len(last):
                    last[k] = s
                    self._lastn[k] = n
            if h[0] == _COM:
                self._mark = 0
            off += n
        self.tail = self._pos = off
        return gen if ok else 0

    def _live(self, s, k):
        # Is the message with seq s (latest-topic index k) still to be sent?
        # (an index past the list: the list was shortened since it was written)
        return s > self._mark and (not k or k >= len(self._last) or self._last[k] == s)

    def _live_scan(self):
        # After a boot: the live messages' bytes and count, and where the first one is.
        f = self._fs[self._cur]
        off = _SEGN
        self.count = self._live_bytes = 0
        self._rd = -1
        while off < self.tail:
            n = self._rec(f, off, False)
            h = self._h
            if h[0] == _MSG and self._live(self._seq(), h[1] >> 4):
                self.count += 1
                self._live_bytes += n
                if self._rd < 0:
                    self._rd = off
            off += n
        if self._rd < 0:
            self._rd = self.tail
        self._pos = -1
        for k in range(len(self._last)):
            if self._last[k] <= self._mark:
                self._last[k] = 0
        # What may have gone out before the reset: those taken (at most the window) and
        # those acked by an ack record not yet synced (fewer than the window).
        self._dupn = min(self.count, 2 * self._win)

    # -- writing -------------------------------------------------------------------------

    def _write(self, f, kind, flags, s, buf, n):
        # One record at the file's position: header, body buf[0:n], CRC. Three writes: a
        # reset between them leaves a cut record, which the CRC finds.
        h = self._h
        h[0] = kind
        h[1] = flags
        h[2] = n & 255
        h[3] = n >> 8
        h[4] = s & 255
        h[5] = s >> 8 & 255
        h[6] = s >> 16 & 255
        h[7] = s >> 24
        c = crc16(h, 0, 8)
        f.write(h, 0, 8)
        if n:
            f.write(buf, 0, n)
            c = crc16(buf, 0, n, c)
        h[8] = c & 255
        h[9] = c >> 8
        f.write(h, 8, 2)
        return n + _HDR

    def _compact(self, need, drop):
        # Copies the live messages to the start of the other file behind a new segment
        # record, and seals them with a commit record; until that is synced the old file is
        # the one read at boot. need: the bytes the next record takes; drop (DROP_OLDEST):
        # the oldest messages not yet taken are left out until it fits.
        old = self._cur
        f = self._fs[old]
        # Emptied first: littlefs copies whatever lies behind a write when it syncs, so
        # writing over old bytes would cost the rest of the file at every put. Opening the
        # file again is the one allocation here, once a rotation (MicroPython's files have
        # no truncate()).
        self._fs[1 - old].close()
        g = self._fs[1 - old] = _open(self._names[1 - old], "w+b")
        self._gen += 1
        b = self._b
        w = self.window
        s = self.seq
        b[0] = w & 255
        b[1] = w >> 8
        b[2] = s & 255
        b[3] = s >> 8 & 255
        b[4] = s >> 16 & 255
        b[5] = s >> 24
        off = self._write(g, _SEG, 0, self._gen, b, 6)
        over = off + self._live_bytes + _HDR + need - self.cap
        rd = -1
        live = count = 0
        j = self._f0
        t = self._fk
        src = _SEGN
        while src < self.tail:
            n = self._rec(f, src, False)
            h = self._h
            s = self._seq()
            k = h[1] >> 4
            keep = False
            if h[0] == _MSG:
                if t and s == self._fseq[j]:  # taken, not acked: kept, and first
                    keep = True
                    j = (j + 1) % w
                    t -= 1
                elif src >= self._rd and self._live(s, k):
                    keep = True
                    if drop and over > 0:
                        over -= n
                        self.dropped += 1
                        keep = False
                        if k:
                            self._last[k] = 0
                    elif rd < 0:
                        rd = off
            if keep:  # the record as it is: its CRC does not cover where it lies
                f.seek(src)
                m = n
                while m:
                    i = f.readinto(b, min(m, 64))
                    g.write(b, 0, i)
                    m -= i
                off += n
                live += n
                count += 1
            src += n
        off += self._write(g, _COM, 0, self._gen, b, 0)
        g.flush()  # durable: from here on, boot reads this file
        self._cur = 1 - old
        self.tail = self._pos = off
        self._rd = off - _HDR if rd < 0 else rd
        self._live_bytes = live
        self.count = count
        self._win = w
        self._unsynced = 0

    def put(self, buf, sl):
        hh = sl & 3
        n = (sl >> 2) + hh  # the body: buf[0 : h + length]
        r = n + _HDR
        if _SEGN + r + _HDR > self.cap:
            raise ValueError("too large")
        k = self._tix(buf)
        old = self._lastn[k] if k and self._last[k] else 0  # a latest topic's, not taken
        try:
            return self._put(buf, sl & 3, n, r, k, old)
        except OSError as e:
            # The file system refused (full of other files, or failing): not stored, and
            # said so. A rotation cut here left the old file the one in use.
            self.error = e
            self.refused += 1
            self._pos = -1
            return False

    def _put(self, buf, hh, n, r, k, old):
        f = self._fs[self._cur]
        if self.tail + r > self.cap:
            full = _SEGN + _HDR + self._live_bytes - old + r > self.cap
            tb = 0  # the taken ones stay: are they alone too many?
            for j in range(self._fk):
                tb += self._fn[(self._f0 + j) % self.window]
            if full and (self.policy != Outbox.DROP_OLDEST or _SEGN + _HDR + tb + r > self.cap):
                self.refused += 1
                return False
            if old:  # the message it supersedes is not copied
                self._supersede(k)
                old = 0
            self._compact(r, full)
            f = self._fs[self._cur]
        elif self._pos != self.tail:
            f.seek(self.tail)
        s = self.seq
        self._write(f, _MSG, (buf[hh] >> 1 & 3) | hh << 2 | k << 4, s, buf, n)
        f.flush()  # durable before True: littlefs commits here, the unix port fsyncs
        self._unsynced = 0
        self.seq = s + 1
        self.tail += r
        self._pos = self.tail
        self._live_bytes += r
        self.count += 1
        if old:
            self._supersede(k)
        if k:
            self._last[k] = s
            self._lastn[k] = r
        return True

    def _tix(self, buf):
        # The latest-topic index (1-15) of the PUBLISH packet in buf, or 0.
        tl = buf[5] << 8 | buf[6]
        lt = self.latest
        for k in range(len(lt)):
            t = lt[k]
            if len(t) == tl:
                i = 0
                while i < tl and buf[7 + i] == t[i]:
                    i += 1
                if i == tl:
                    return k + 1
        return 0

    def _supersede(self, k):
        # The older message of latest topic k, not taken, is no longer live.
        self._live_bytes -= self._lastn[k]
        self.count -= 1
        self._last[k] = 0

    def take(self, buf):
        if self._fk == self.window:
            return 0
        f = self._fs[self._cur]
        off = self._rd
        self._pos = -1
        while off < self.tail:
            n = self._rec(f, off, False)
            h = self._h
            s = self._seq()
            k = h[1] >> 4
            off += n
            if h[0] == _MSG and self._live(s, k):
                m = n - _HDR
                if m > len(buf) or f.readinto(buf, m) != m:
                    raise ValueError("bufsize")
                hh = h[1] >> 2 & 3
                if self._dupn:  # it may have gone out before the reset (MQTT-3.3.1-1)
                    self._dupn -= 1
                    buf[hh] |= 8
                if k:
                    self._last[k] = 0  # taken: a newer one no longer supersedes it
                j = (self._f0 + self._fk) % self.window
                self._fseq[j] = s
                self._fn[j] = n
                self._fk += 1
                self._rd = off
                return (m - hh) << 2 | hh
        self._rd = off
        return 0

    def ack(self):
        if not self._fk:
            return
        j = self._f0
        self._f0 = (j + 1) % self.window
        self._fk -= 1
        self._live_bytes -= self._fn[j]
        self.count -= 1
        s = self._mark = self._fseq[j]
        if self.tail + _HDR > self.cap:
            self._compact(0, 0)  # no room for the record: the copy leaves the message out
            return
        f = self._fs[self._cur]
        try:
            if self._pos != self.tail:
                f.seek(self.tail)
            self.tail += self._write(f, _ACK, 0, s, None, 0)
            self._pos = self.tail
            self._unsynced += 1
            if self._unsynced >= self.window:
                f.flush()
                self._unsynced = 0
        except OSError as e:  # the ack is lost: the message may be sent again, no more
            self.error = e
            self._pos = -1

    def close(self):
        for f in self._fs:
            f.flush()
            f.close()
