"""The asyncio API (device/leanmqtt_async.py) under the unix port, against Mosquitto and the
fault proxy: the sync client's resilience scenarios, with a ticker task that must wake every
10 ms throughout, its worst lateness printed by the device script and bounded here."""
import signal
import time

import pytest

from conftest import blackhole_until_lost, numbers, lines
from host.lines import Lines
from host.proxy import DOWN, UP
from host.subscriber import Recorder

KA = 2  # keepalive, seconds
TIMEOUT_MS = 1000  # the client's timeout in async_resilient.py
# The ticker's lateness with the link healthy or failing fast (a refused TCP connect, a
# swallowed ack): the link task never blocks the loop there. Generous for a loaded machine;
# a link task that waited in the core (poll(ms), a full store) would be late by 250+ ms.
LATE_MS = 200


def late(text, key):
    return int(lines(text, key)[0].split()[-1])


def test_the_api_end_to_end(broker, device):
    out = device("async_basic.py", broker.port, timeout=60).stdout
    assert lines(out, "up_before") == ["False True"]
    assert lines(out, "connected") == ["True 0 True False"]
    assert lines(out, "acked") == ["True 0"]  # ack=True: returned after its PUBACK
    assert lines(out, "message") == ["lean/echo/b two", "lean/echo/c three"]
    assert lines(out, "callback") == ["['one', 'two', 'three']"]
    assert lines(out, "tasks8")[0].split()[:3] == ["400", "pending", "0"]
    assert lines(out, "alloc_qos0") == ["0"]  # the awaitable made once
    assert lines(out, "heap_lock") == ["ok 8"]  # 20 QoS 0 and 8 QoS 1, the heap locked
    assert lines(out, "disconnected") == ["False False True"]
    assert lines(out, "offline") == ["False 1 True 1"]
    assert "mqtt: lost" not in out, out


def test_a_silent_link_is_found_and_other_tasks_keep_their_time(proxy, device_bg):
    out = Lines(device_bg("async_resilient.py", proxy.port, KA, 1, 10, 9000))
    out.wait("published 1")
    blackhole_until_lost(proxy, out, KA, 0.7)
    out.wait(" down")
    time.sleep(1.5)  # redials into the blackhole: TCP connects, CONNACK never comes
    proxy.set("pass")
    t1 = time.monotonic()
    t_up, _ = out.wait(" up", timeout=10)
    assert t_up - t1 < 5.0
    text = out.finish(timeout=30)
    assert "done pending 0" in text, text
    # While the link dies, the ticker is on time; the redial into the blackhole is the one
    # wait inside the core (CONNACK, up to timeout): the loop blocks there, and no longer.
    assert late(text, "done") <= TIMEOUT_MS + 400, text
    assert proxy.accepted >= 2


def test_qos1_waiting_on_a_silent_link_is_found(proxy, device_bg):
    out = Lines(device_bg("async_resilient.py", proxy.port, KA, 60, 50, 0))
    out.wait("connected True")
    blackhole_until_lost(proxy, out, KA, 0.5)
    proxy.set("pass")
    text = out.finish(timeout=60)
    assert "published 60" in text and "done pending 0" in text, text


def test_a_swallowed_puback_is_resent_with_dup_and_the_same_packet_id(broker, proxy, device_bg):
    rec = Recorder(broker.port, "lean/seq").start()
    proxy.swallow_next(DOWN, "PUBACK")
    out = Lines(device_bg("async_resilient.py", proxy.port, KA, 5, 100, 0))
    text = out.finish(timeout=60)
    assert "done pending 0" in text, text
    pubs = proxy.packets(UP, "PUBLISH")
    first = pubs[0]
    dups = [p for p in pubs if p[0] & 0x08]
    assert first[0] & 0x08 == 0 and dups, pubs
    assert dups[0][1:] == first[1:]  # the same packet, the same id, but for DUP
    assert numbers(rec.wait_for(lambda m: len(m) >= 5) and rec) == set(range(5))
    assert late(text, "published") <= LATE_MS and late(text, "done") <= LATE_MS, text
    rec.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_broker_restarts_lose_no_qos1_reading_from_8_tasks(sig, device_bg):
    from host.broker import Mosquitto

    b = Mosquitto(persistence=True).start()
    try:
        rec = Recorder(b.port, "lean/seq", client_id="host-rec", clean=False).start()
        time.sleep(1.2)  # the broker's autosave holds the subscriber's session
        out = Lines(device_bg("async_resilient.py", b.port, KA, 400, 100, 0, 8, 8))
        out.wait("connected True")
        for _ in range(2):  # two restarts during the 400 publishes
            time.sleep(1.5)
            b.restart(sig, down=0.3)
        text = out.finish(timeout=90)
        assert "published 400" in text and "done pending 0" in text, text
        assert text.count(" down") >= 2, text
        deadline = time.monotonic() + 30
        while len(numbers(rec)) < 400 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert numbers(rec) == set(range(400)), sorted(set(range(400)) - numbers(rec))[:20]
        assert late(text, "published") <= LATE_MS, text
        rec.stop()
    finally:
        b.close()


def test_the_same_file_runs_on_cpython(broker):
    # add_reader instead of MicroPython's I/O queue; the rest is the same code.
    import asyncio

    import leanmqtt_async

    async def main():
        c = leanmqtt_async.MQTTClient("cpy-async", "127.0.0.1", broker.port, keepalive=2,
                                      timeout=2, inflight=4, log=lambda *a: None)
        await c.connect()
        assert c.up.is_set() and not c.down.is_set()
        await c.subscribe("lean/cpy", 1)
        it = c.messages()
        assert await c.publish("lean/cpy", b"hello", qos=1, ack=True)
        got = await asyncio.wait_for(it.__anext__(), 5)
        assert await c.publish("lean/cpy", b"again")  # QoS 0: the awaitable made once
        assert await asyncio.wait_for(it.__anext__(), 5) == (b"lean/cpy", b"again")
        # Idle past 1.5 keepalives, when the broker drops a silent client: the link task
        # pinged, woken from add_reader's wait by its tick, and the link stayed up.
        await asyncio.sleep(3.6)
        assert c.isconnected() and c.core.reconnects == 0
        await c.disconnect()
        return got

    assert asyncio.run(main()) == (b"lean/cpy", b"hello")
