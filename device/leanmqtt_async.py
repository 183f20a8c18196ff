# leanmqtt_async: leanmqtt for asyncio apps, on MicroPython and CPython.
#
# The protocol is leanmqtt.MQTTClient's, with reconnect=True: the same store, resend,
# keepalive, dead-link detection and backoff, in the same code. This module only waits, and
# never by blocking the loop where it can wait instead: one background task services the
# link; it waits for the socket to be readable through asyncio's own I/O queue (on
# MicroPython the queue asyncio.StreamReader waits on, on CPython loop.add_reader), or for
# the next keepalive check, whichever comes first. Nothing polls in a sleep loop while the
# link is up; offline, the task sleeps toward the next redial.
#
#   c = MQTTClient(client_id, server, ...)        # leanmqtt.MQTTClient's arguments
#   await c.connect(clean_session=True)           # -> session present, None if not up yet
#   await c.publish(topic, msg, retain=False, qos=0, ack=False)
#   await c.subscribe(topic, qos=0); await c.unsubscribe(topic)
#   async for topic, msg in c.messages(): ...     # or c.set_callback(f): f(topic, msg)
#   c.up, c.down                                  # asyncio.Event: set while up / down
#   await c.disconnect()
#   c.core                                        # the leanmqtt.MQTTClient underneath
#
# What may block the loop, and for how long (timeout is the constructor's, in seconds):
#   a (re)connect     TCP connect, TLS handshake: up to timeout each; CONNACK and the
#                     re-subscriptions together within timeout (the core's waits)
#   subscribe()       until SUBACK: one round trip, at most timeout (the core's deadline)
#   publish()         the socket write: up to timeout if the socket's buffer is full
#   everything else   nothing: waiting for a free slot, an ack or a message yields
import asyncio
import leanmqtt

try:
    from micropython import const

    _CPY = const(0)  # as in leanmqtt: MicroPython's compiler drops `if _CPY:` blocks
except ImportError:
    globals()["_CPY"] = 1  # CPython
if _CPY:
    def _sleep_ms(ms):  # pyright: ignore
        return asyncio.sleep(ms / 1000)
else:
    # The I/O queue asyncio itself waits on (the stubs do not list it).
    from asyncio import core as _core  # pyright: ignore[reportAttributeAccessIssue]
    from time import ticks_ms, ticks_diff, ticks_add  # pyright: ignore

    _sleep_ms = asyncio.sleep_ms  # pyright: ignore  # no float, nothing allocated

MQTTException = leanmqtt.MQTTException
_TRUE = StopIteration(True)  # what `await` returns: True, False, None
_FALSE = StopIteration(False)
_DONE = StopIteration()


class _Now:
    # An awaitable made once and used again and again (as asyncio's sleep_ms reuses one
    # generator), so that waiting allocates nothing: `await` runs __next__. With a socket
    # in s, the first __next__ queues the task on asyncio's I/O queue and yields (as
    # StreamReader's `yield core._io_queue.queue_read(s)` does); then, or at once without
    # s, its StopIteration ends the await with e's value.
    s = None
    e = _TRUE

    def __iter__(self):
        return self

    __await__ = __iter__

    def __next__(self):
        s = self.s
        if s is not None:
            self.s = None
            _core._io_queue.queue_read(s)
            return None
        e = self.e
        e.__traceback__ = None  # raised again and again: no traceback to grow
        raise e


class MQTTClient:
    def __init__(self, client_id, server, port=0, keepalive=0, timeout=5, inflight=1,
                 queue=8, **kw):
        # queue: messages held for messages() before the link is read no further (the
        # broker then holds the rest: nothing is dropped here).
        self.core = c = leanmqtt.MQTTClient(client_id, server, port, keepalive=keepalive,
                                            timeout=timeout, inflight=inflight,
                                            reconnect=True, **kw)
        c.set_callback(self._deliver)
        self._cap = inflight  # store slots
        self._to = int(timeout * 1000)
        # The core checks its keepalive and reply deadlines every quarter of the reply
        # timeout (half a keepalive, or timeout without one): so does the link task.
        self._tick = (keepalive * 500 or self._to) >> 2
        self._queue = queue
        self._msgs = []  # (topic, msg) for messages()
        self._iter = False  # messages() in use
        self.cb = None
        self.up = asyncio.Event()
        self.down = asyncio.Event()
        self.down.set()
        self._room = asyncio.Event()  # the link task serviced the link: a slot or ack may be free
        self._got = asyncio.Event()  # a message for messages()
        self._taken = asyncio.Event()  # messages() took one: the link may be read again
        self._task = None  # the link task
        self._ev = None  # CPython: set by add_reader, or by _wake
        self._now = _Now()  # publish()'s, when it need not wait
        self._io = _Now()  # the link task's wait on the socket

    def set_callback(self, f):
        self.cb = f  # f(topic, msg), both bytes; called from the link task: do not block

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.core.set_last_will(topic, msg, retain, qos)

    def isconnected(self):
        return self.core.isconnected()

    def pending(self):
        return self.core.pending()

    def _deliver(self, topic, msg):
        if self.cb:
            self.cb(topic, msg)
        if self._iter:
            self._msgs.append((topic, msg))
            self._got.set()

    # -- the calls -----------------------------------------------------------------------

    async def connect(self, clean_session=True):
        # The first connection, then the link task keeps it (a failure here is logged and
        # redialled by the task, as poll() does in the sync client).
        sp = self.core.connect(clean_session)
        self._state()
        if not self._task:
            self._task = asyncio.create_task(self._run())
        return sp

    async def disconnect(self):
        self.core.disconnect()
        for t in (self._task, self._timer):
            if t:
                t.cancel()
        self._task = self._timer = None
        self._state()

    def publish(self, topic, msg, retain=False, qos=0, ack=False):
        # await c.publish(...): True once the message is in the store (QoS 1) or went out
        # (QoS 0); with ack=True (QoS 1) once its PUBACK came. Waits, yielding to other
        # tasks, only while the store is full (and, with ack, for the ack): offline, that is
        # until the link is back and the store's messages are acked. A QoS 0 message that
        # finds the link down is dropped, counted in core.dropped, and False is returned.
        # Not an async def: a coroutine is an allocation (~190 B here). When nothing needs
        # to wait, the message goes now and the awaitable returned is made once.
        if qos and (ack or self.core.pending() >= self._cap):
            return self._publish(topic, msg, retain, qos, ack)
        d = self._now
        d.e = _TRUE if self._put(topic, msg, retain, qos) else _FALSE
        return d

    async def _publish(self, topic, msg, retain, qos, ack):
        c = self.core
        while c.pending() >= self._cap:
            self._room.clear()
            await self._room.wait()
        ok = self._put(topic, msg, retain, qos)
        if ok and ack:
            pid = c._pid  # the id publish() just gave it
            while pid in c._spid:  # the store's ids; 0 once acked
                self._room.clear()
                await self._room.wait()
        return ok

    def _put(self, topic, msg, retain, qos):
        c = self.core
        sock = c.sock
        ok = c.publish(topic, msg, retain, qos)
        if c.sock is not sock:  # the write found the link dead: the task redials
            self._wake()
        return ok

    async def subscribe(self, topic, qos=0):
        # Waits for SUBACK with the loop blocked (the core's wait: one round trip, and no
        # longer than timeout; left unacked, it is made again on the next connection).
        # Offline, it is remembered and made on the next connection.
        self.core.subscribe(topic, qos)
        self._state()

    async def unsubscribe(self, topic):
        self.core.unsubscribe(topic)
        self._state()

    def messages(self):
        # async for topic, msg in c.messages(): each message once, in the order received.
        self._iter = True
        return self

    def __aiter__(self):
        return self

    async def __anext__(self):
        while not self._msgs:
            self._got.clear()
            await self._got.wait()
        m = self._msgs.pop(0)
        self._taken.set()
        return m

    # -- the link task -------------------------------------------------------------------

    def _state(self):
        # up / down follow the link; publishers waiting for room look again.
        if self.core.isconnected():
            if not self.up.is_set():
                self.down.clear()
                self.up.set()
        elif not self.down.is_set():
            self.up.clear()
            self.down.set()
        self._room.set()

    async def _run(self):
        c = self.core
        while self._task:
            if len(self._msgs) >= self._queue:
                # messages() is behind: leave the rest in the socket (and the broker).
                self._taken.clear()
                await self._taken.wait()
                continue
            try:
                c.poll(0)  # what came, PINGREQ when due, a dead link, a redial when due
            except Exception as e:  # from the callback (the message was still acked)
                c.log("mqtt:", "callback", e)
            self._state()
            sock = c.sock
            if sock is None:
                await _sleep_ms(100)  # toward the next redial, which poll() times
            elif _CPY:
                await self._readable_cpy(sock)
            else:
                await self._readable(sock)  # pyright: ignore  # _Now: an iterator, as asyncio awaits

    def _readable(self, sock):
        # Until sock is readable, or failed, or _wake() is called by the timer task.
        self._due = ticks_add(ticks_ms(), self._tick)
        if not self._timer:
            self._timer = asyncio.create_task(self._alarm())
        w = self._io
        w.s = sock
        w.e = _DONE
        return w

    _timer = None
    _due = 0

    async def _alarm(self):
        # Wakes the link task at its deadline if nothing came: the task's own wait is on
        # the I/O queue only, where a task cannot also have a timeout without allocating.
        while self._task:
            d = ticks_diff(self._due, ticks_ms())
            if d > 0:
                await asyncio.sleep_ms(d)
            else:
                self._wake()
                await asyncio.sleep_ms(self._tick)
        self._timer = None

    def _wake(self):
        # Takes the link task off the I/O queue and runs it now (as Task.cancel does).
        t = self._task
        if not _CPY:
            if t and t.data is _core._io_queue:
                _core._io_queue.remove(t)
                _core._task_queue.push(t)
        elif self._ev:
            self._ev.set()

    if _CPY:  # CPython: add_reader; dropped by MicroPython's compiler
        async def _readable_cpy(self, sock):
            loop = asyncio.get_running_loop()  # pyright: ignore  # CPython only
            ev = self._ev = self._ev or asyncio.Event()
            ev.clear()
            fd = sock.fileno()
            loop.add_reader(fd, ev.set)
            try:
                await asyncio.wait_for(ev.wait(), self._tick / 1000)
            except asyncio.TimeoutError:
                pass
            finally:
                loop.remove_reader(fd)
