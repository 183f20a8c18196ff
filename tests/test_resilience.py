"""Resilient mode under faults, through a fault proxy in front of a real Mosquitto."""
import signal
import time

import pytest

from conftest import blackhole_until_lost, numbers, lines
from host.lines import Lines
from host.proxy import DOWN, UP
from host.subscriber import Recorder

KA = 2  # keepalive, seconds: short, to keep the suite fast


def test_silent_link_found_within_one_and_a_half_keepalives_when_idle(proxy, device_bg):
    out = Lines(device_bg("resilient.py", proxy.port, KA, 1, 10, 12000))
    out.wait("published 1")
    blackhole_until_lost(proxy, out, KA, 0.7)
    proxy.set("pass")
    t1 = time.monotonic()
    t_up, _ = out.wait(" up", timeout=10)
    assert t_up - t1 < 5.0
    assert "done pending 0" in out.finish()


def test_silent_link_found_while_qos1_waits(proxy, device_bg):
    out = Lines(device_bg("resilient.py", proxy.port, KA, 60, 50, 0))
    out.wait("connected True")
    blackhole_until_lost(proxy, out, KA, 0.5)
    proxy.set("pass")
    text = out.finish()
    assert "published 60" in text and "done pending 0" in text


def test_swallowed_puback_is_resent_with_dup_and_the_same_packet_id(broker, proxy, device_bg):
    rec = Recorder(broker.port, "lean/seq").start()
    proxy.swallow_next(DOWN, "PUBACK")
    out = Lines(device_bg("resilient.py", proxy.port, KA, 5, 100, 0))
    text = out.finish(timeout=60)
    assert "done pending 0" in text, text
    pubs = proxy.packets(UP, "PUBLISH")
    first = pubs[0]
    dups = [p for p in pubs if p[0] & 0x08]
    assert first[0] & 0x08 == 0
    assert dups, "no PUBLISH with DUP=1 went out"
    pid = lambda p: p[4 + (p[2] << 8 | p[3]) : 6 + (p[2] << 8 | p[3])]  # noqa: E731
    assert pid(dups[0]) == pid(first)  # the same packet id (MQTT-4.4.0-1)
    assert dups[0][1:] == first[1:]  # and the same packet, but for DUP
    assert numbers(rec.wait_for(lambda m: len(m) >= 5) and rec) == set(range(5))
    rec.stop()


def test_no_pingreq_while_qos1_flows_and_about_one_per_keepalive_idle(proxy, device_bg):
    ka = 1
    out = Lines(device_bg("resilient.py", proxy.port, ka, 40, 100, 4000))
    text = out.finish(timeout=60)
    assert "done pending 0" in text
    last_pub = max(t for t, d, p in proxy.log if d == UP and p[0] >> 4 == 3)
    pings = [t for t, d, p in proxy.log if d == UP and p[0] >> 4 == 12]
    busy = [t for t in pings if t <= last_pub]
    idle = [t for t in pings if t > last_pub]
    assert busy == []  # 4 s of QoS 1, acked: the PUBACKs are proof enough
    assert 3 <= len(idle) <= 5, idle  # 4 s idle at keepalive 1 s


def test_qos0_only_pings_at_most_once_per_keepalive(proxy, device_bg):
    ka = 1
    out = Lines(device_bg("resilient.py", proxy.port, ka, 40, 100, 0, 8, 0))
    assert "done pending 0" in out.finish(timeout=60)
    pings = proxy.count(UP, "PINGREQ")
    assert 2 <= pings <= 5, pings  # 4 s of QoS 0: no proof from the broker, so ~1 per s


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_broker_restarts_lose_no_qos1_reading(sig, device_bg):
    from host.broker import Mosquitto

    b = Mosquitto(persistence=True).start()
    try:
        rec = Recorder(b.port, "lean/seq", client_id="host-rec", clean=False).start()
        time.sleep(1.2)  # the broker's autosave holds the subscriber's session
        out = Lines(device_bg("resilient.py", b.port, KA, 400, 15, 0))
        out.wait("connected True")
        for _ in range(2):  # two restarts during the 400 publishes
            time.sleep(1.5)
            b.restart(sig, down=0.3)
        text = out.finish(timeout=90)
        assert "published 400" in text and "done pending 0" in text, text
        got = numbers(rec) if len(numbers(rec)) == 400 else None
        deadline = time.monotonic() + 30
        while got is None and time.monotonic() < deadline:
            time.sleep(0.2)
            if len(numbers(rec)) == 400:
                got = numbers(rec)
        assert numbers(rec) == set(range(400)), sorted(set(range(400)) - numbers(rec))[:20]
        rec.stop()
    finally:
        b.close()


def test_soak_20000_publishes_with_link_cuts_heap_flat_nothing_lost(broker, proxy, device_bg):
    rec = Recorder(broker.port, "lean/seq").start()
    p = device_bg("resilient.py", proxy.port, KA, 20000, 0, 0, 8)
    out = Lines(p)
    cuts = 0
    while p.poll() is None and cuts < 200:
        time.sleep(0.25)
        proxy.set("reset" if cuts % 2 else "close")
        cuts += 1
    text = out.finish(timeout=180)
    assert "published 20000" in text and "done pending 0" in text, text[-2000:]
    heap = [int(ln.split()[2]) for ln in text.splitlines() if ln.startswith("heap ")]
    assert len(heap) >= 5
    # After gc.collect() the live heap does not grow across cuts and reconnects.
    assert max(heap[1:]) <= heap[0] + 256, heap
    assert cuts >= 5 and proxy.accepted >= 6, (cuts, proxy.accepted)
    deadline = time.monotonic() + 60
    while len(numbers(rec)) < 20000 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert numbers(rec) == set(range(20000)), len(numbers(rec))
    rec.stop()


def test_subscriptions_are_made_again_when_the_broker_lost_the_session(broker, device_bg):
    from host.subscriber import publish

    out = Lines(device_bg("resubscribe.py", broker.port))
    out.wait("subscribed")
    broker.restart(signal.SIGTERM, down=0.3)  # no persistence: the session is gone
    out.wait("link up", timeout=15)
    time.sleep(0.5)  # the SUBSCRIBE that follows the CONNACK
    publish(broker.port, "lean/cmd", b"after", qos=1)
    text = out.finish(timeout=30)
    assert "got [b'after']" in text, text
    assert "Received SUBSCRIBE from dev-resub" in broker.log()  # on the new broker process


def test_a_subscribe_lost_with_the_link_is_made_again_on_a_kept_session(broker, proxy, device_bg):
    # The SUBSCRIBE never reaches the broker; its SUBACK does not come, the link is dropped,
    # and the reconnect finds the session kept (clean_session=False): the subscription is
    # made again all the same.
    from host.subscriber import publish

    proxy.swallow_next(UP, "SUBSCRIBE")
    out = Lines(device_bg("resubscribe.py", proxy.port))
    out.wait("link up", timeout=15)
    time.sleep(0.3)
    publish(broker.port, "lean/cmd", b"after", qos=1)
    text = out.finish(timeout=30)
    assert "got [b'after']" in text, text
    assert proxy.count(UP, "SUBSCRIBE") == 2 and proxy.count(DOWN, "CONNACK") == 2
    assert [p[2] for _, d, p in proxy.log if d == DOWN and p[0] == 0x20] == [0, 1]  # session present


def test_a_packet_cut_in_half_then_closed_is_recovered_from(broker, proxy, device_bg):
    rec = Recorder(broker.port, "lean/seq").start()
    proxy.cut_next = (DOWN, "PUBACK")  # half a PUBACK reaches the client, then the link dies
    out = Lines(device_bg("resilient.py", proxy.port, KA, 20, 50, 0))
    text = out.finish(timeout=60)
    assert "done pending 0" in text and "reconnects 1" in text, text
    rec.wait_for(lambda m: len(numbers_of(m)) >= 20)
    assert numbers(rec) == set(range(20))
    rec.stop()


def numbers_of(msgs):
    return {int(p) for t, p, q, r in msgs if t == "lean/seq"}


def test_backoff_across_the_ticks_wrap(device):
    lo, hi = map(int, lines(device("ticks_wrap.py").stdout, "waits")[0].split())
    assert 20000 <= lo <= hi <= 30000, (lo, hi)
