"""QoS 2 both ways (issue 13), on the unix port against Mosquitto, through the fault proxy:
each message exactly once, whichever packet of the exchange the link is cut after, and
with the broker's PUBLISH duplicated. The byte sequences of every flow are checked in
test_conformance.py."""
import time

import pytest

from conftest import lines
from host.lines import Lines
from host.peer import body_of
from host.proxy import DOWN, UP, every_offset
from host.subscriber import Recorder, publish_many

KA = 2


def pid_of(p):
    """The packet id of a QoS 1/2 PUBLISH, or of a PUBACK/PUBREC/PUBREL/PUBCOMP."""
    b = body_of(p)
    if p[0] >> 4 != 3:
        return b[:2]
    tl = b[0] << 8 | b[1]
    return b[2 + tl : 4 + tl]


def connections(px, direction):
    """The packets of one direction, split at each CONNECT (up) or CONNACK (down)."""
    out = []
    first = 1 if direction == UP else 2
    with px.lock:
        for _, d, p in px.log:
            if d != direction:
                continue
            if p[0] >> 4 == first:
                out.append([])
            if out:
                out[-1].append(p)
    return out


def test_qos2_both_ways_plain_mode_each_message_once(broker, recorder, device):
    rec = recorder("lean/q2/#", qos=2)
    out = device("qos2_echo.py", broker.port, 100).stdout
    assert "pending after publish" not in out  # plain publish returns after PUBCOMP
    assert lines(out, "got") == ["100 twice 0"], out  # our own messages back, at QoS 2
    msgs = rec.wait_count(100)
    time.sleep(0.3)
    assert sorted(int(m[1]) for m in rec.messages) == list(range(100))  # each once
    assert {m[2] for m in msgs} == {2}


@pytest.mark.parametrize("direction,name", [(UP, "PUBLISH"), (DOWN, "PUBREC"), (UP, "PUBREL"), (DOWN, "PUBCOMP")])
def test_qos2_publish_link_cut_after_each_packet_each_message_once(broker, proxy, device_bg, direction, name):
    rec = Recorder(broker.port, "lean/seq", qos=2).start()
    proxy.cut_after = (direction, name)  # the first one of its kind passes whole, then the cut
    out = Lines(device_bg("resilient.py", proxy.port, KA, 20, 30, 0, 8, 2))
    text = out.finish(timeout=60)
    assert "published 20" in text and "done pending 0" in text and "reconnects 1" in text, text
    rec.wait_for(lambda m: len(m) >= 20)
    time.sleep(0.5)  # a duplicate would come now
    assert sorted(int(m[1]) for m in rec.messages) == list(range(20)), rec.messages
    rec.stop()
    first, second = connections(proxy, UP)[:2]
    pid = pid_of(first[1])  # the first message's id: the cut was in its exchange
    again = [p[0] for p in second if p[0] >> 4 in (3, 6) and pid_of(p) == pid]
    if name == "PUBLISH":  # no PUBREC came: the PUBLISH again, with DUP, same id
        assert again[:1] == [0x3C], again
    elif name in ("PUBREC", "PUBREL"):  # PUBREC came: its PUBREL, never the PUBLISH
        assert again == [0x62], again
    else:  # PUBCOMP came: that message is done
        assert again == [], again


@pytest.mark.parametrize("direction,name", [(DOWN, "PUBLISH"), (UP, "PUBREC"), (DOWN, "PUBREL"), (UP, "PUBCOMP")])
def test_qos2_receive_link_cut_after_each_packet_callback_sees_each_once(broker, proxy, device_bg, direction, name):
    out = Lines(device_bg("qos2_sub.py", proxy.port, 30))
    out.wait("subscribed True")
    proxy.cut_after = (direction, name)
    publish_many(broker.port, "lean/q2", [b"%d" % i for i in range(30)], qos=2)
    text = out.finish(timeout=90)
    assert "got 30 twice 0 reconnects 1" in text and "missing []" in text, text
    first, second = connections(proxy, DOWN)[:2]
    pid = pid_of(first[1])
    again = [p[0] for p in second if p[0] >> 4 in (3, 6) and pid_of(p) == pid]
    if name == "PUBLISH":  # our PUBREC was lost: the broker sends it again (DUP), we ack, not deliver
        assert again[:1] == [0x3C], again
        assert [pid_of(p) for p in connections(proxy, UP)[1] if p[0] == 0x50][:1] == [pid]
    elif name == "PUBREC":  # its PUBREL was lost: the broker sends PUBREL again
        assert again == [0x62], again


def test_qos2_receive_with_every_publish_duplicated_callback_sees_each_once(broker, proxy, device_bg):
    # MQTT-4.3.3-2: the proxy sends each of the broker's PUBLISHes twice, the copy with DUP
    # set, before the client's PUBREC could reach the broker.
    out = Lines(device_bg("qos2_sub.py", proxy.port, 30))
    out.wait("subscribed True")
    proxy.duplicate = (DOWN, "PUBLISH")
    publish_many(broker.port, "lean/q2", [b"%d" % i for i in range(30)], qos=2)
    text = out.finish(timeout=90)
    assert "got 30 twice 0 reconnects 0" in text and "missing []" in text, text
    assert proxy.count(DOWN, "PUBLISH") >= 30 and proxy.count(UP, "PUBREC") >= 60


def test_qos2_more_waiting_ids_than_qos2_in_drop_the_link_and_lose_nothing(broker, device_bg):
    # The bound pushed: qos2_in=2 and a burst of 20 (Mosquitto sends up to 20 before any
    # PUBREL). Beyond 2 waiting ids, the link drops ('qos2 full'); each reconnect on the
    # kept session drains PUBRELs first; in the end each message was seen once.
    out = Lines(device_bg("qos2_sub.py", broker.port, 20, 2))
    out.wait("subscribed True")
    publish_many(broker.port, "lean/q2", [b"%d" % i for i in range(20)], qos=2)
    text = out.finish(timeout=90)
    assert "got 20 twice 0" in text and "missing []" in text, text
    assert "qos2 full" in text and int(lines(text, "got")[0].split()[-1]) >= 1, text


def test_qos2_will_is_published_at_qos2(broker, recorder, device):
    rec = recorder("lean/will", qos=2)
    device("will.py", broker.port, "abrupt", 2)
    msgs = rec.wait_count(1, timeout=10)
    assert [(m[1], m[2]) for m in msgs] == [(b"gone abrupt", 2)]


@pytest.mark.parametrize("mode", ["plain", "resilient"])
def test_qos2_publish_and_receive_with_the_heap_locked(broker, device, mode):
    out = device("qos2_heaplock.py", broker.port, mode, 100).stdout
    assert lines(out, "ok") == ["0 0 in 0"], out  # 101 echoed back too: PUBREC/PUBREL/PUBCOMP


def test_the_app_publishes_its_readings_at_qos2(broker, recorder, device):
    # config.QOS = 2 (LEANMQTT_QOS on the unix board): each reading once, at QoS 2.
    import json
    import os

    from conftest import ROOT, app_env

    rec = recorder("leanmqtt/+/readings", qos=2)
    main = os.path.join(ROOT, "device", "main.py")
    out = device(main, env=app_env(broker.port, interval_ms=50, cycles=12, qos=2)).stdout
    assert "done 12 readings" in out, out
    msgs = rec.wait_count(12)
    time.sleep(0.3)
    assert [json.loads(m[1])["seq"] for m in rec.messages] == list(range(1, 13))
    assert {m[2] for m in msgs} == {2}


@pytest.mark.parametrize("reconnect", [0, 1])
def test_qos2_packets_split_at_every_offset_with_the_heap_locked(broker, proxy, device_bg, reconnect):
    # The QoS 2 receive path (PUBLISH, PUBREL) and the publish path (PUBREC, PUBCOMP) with
    # each packet from the broker in two pieces, every offset in turn: nothing allocated.
    n = 25  # "lean/q2split" with an 8-byte payload at QoS 2: a 26-byte packet, 25 offsets
    out = Lines(device_bg("qos2_split.py", proxy.port, reconnect, n))
    out.wait("ready")
    proxy.chop, proxy.pause = every_offset(), 0.02
    # Counts are not reset here: the device starts its six publishes as soon as it said
    # "ready", and on a loaded machine a PUBCOMP came before a reset and went uncounted.
    # Before "ready" only the warm-up's exchange passed (one PUBCOMP, no PUBREL down).
    publish_many(broker.port, "lean/q2split", [b"%08d" % i for i in range(n)], qos=2)
    text = out.finish(timeout=60)
    assert "locked 6 pending 0 connected True reconnects 0" in text, text
    assert "MemoryError" not in text and "lost" not in text, text
    ins = [pid_of(p) for p in proxy.packets(DOWN, "PUBLISH")]
    assert len(ins) == n and [pid_of(p) for p in proxy.packets(UP, "PUBREC")] == ins
    assert [pid_of(p) for p in proxy.packets(UP, "PUBCOMP")] == [pid_of(p) for p in proxy.packets(DOWN, "PUBREL")]
    assert len(proxy.packets(DOWN, "PUBREL")) == n and len(proxy.packets(DOWN, "PUBCOMP")) == 1 + 6
