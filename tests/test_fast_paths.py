"""The shortcuts that make a message cheap on the chip (issue 14) keep every check and lose
nothing: a topic is checked once per distinct topic object but a new or changed one is
checked again; an incoming topic is compared in place but a bad one is still refused; the
QoS 1 PUBACK read inside publish() hands anything else over to the packet reader intact.
The CPython client over a socketpair, as in test_hostile.py."""
import os
import socket
import threading

import pytest

import leanmqtt
from conftest import attach


def pair(**kw):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.settimeout(5)
    c = leanmqtt.MQTTClient("fast", "127.0.0.1", **kw)
    attach(c, a)
    return c, b


def publish_packet(topic, payload, qos=0, pid=7):
    body = len(topic).to_bytes(2, "big") + topic + (pid.to_bytes(2, "big") if qos else b"") + payload
    return bytes([0x30 | qos << 1, len(body)]) + body


def drain(b):
    b.settimeout(0.2)
    out = b""
    try:
        while True:
            d = b.recv(4096)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    b.settimeout(5)
    return out


def test_a_new_topic_is_checked_after_a_remembered_one():
    c, b = pair()
    c.publish(b"ok/t", b"1")
    c.publish(b"ok/t", b"2")
    for bad in (b"bad/#", b"bad/+/x", b"", b"a\x00b", "caf\udce9", b"\xc0\xaf"):
        with pytest.raises(ValueError):
            c.publish(bad, b"x")
    c.publish("ok/t", b"3")  # the same name as a str: its own object, checked, fine
    assert drain(b) == publish_packet(b"ok/t", b"1") + publish_packet(b"ok/t", b"2") + publish_packet(b"ok/t", b"3")


def test_a_bytearray_topic_is_checked_every_time():
    # A bytearray may change between two publishes: it is never taken as checked before.
    c, b = pair()
    t = bytearray(b"a/b")
    c.publish(t, b"1")
    t[2] = ord("#")
    with pytest.raises(ValueError):
        c.publish(t, b"2")
    m = memoryview(bytearray(b"a/+"))
    with pytest.raises(ValueError):
        c.publish(m, b"3")
    assert drain(b) == publish_packet(b"a/b", b"1")  # nothing of the bad ones went out


def test_a_str_payload_goes_out_as_utf8():
    c, b = pair()
    c.publish(b"t", "é")
    assert drain(b) == publish_packet(b"t", "é".encode())


def test_an_incoming_topic_is_compared_in_place_and_a_bad_one_still_refused():
    c, b = pair()
    got = []
    c.set_callback(lambda t, m: got.append((t, m)))
    b.sendall(publish_packet(b"a/b", b"1") + publish_packet(b"a/b", b"2") + publish_packet(b"a/c", b"3"))
    for _ in range(3):
        c._recv()
    assert got == [(b"a/b", b"1"), (b"a/b", b"2"), (b"a/c", b"3")]
    assert all(type(t) is bytes for t, _ in got)
    b.sendall(publish_packet(b"a/+", b"4"))  # a wildcard in a topic name (MQTT-3.3.2-2)
    with pytest.raises(leanmqtt.MQTTException):
        c._recv()
    assert len(got) == 3
    c2, b2 = pair()
    c2.set_callback(lambda t, m: got.append((t, m)))
    b2.sendall(publish_packet(b"a/b", b"5") + publish_packet(b"a/b\x00", b"6"))  # one byte longer, bad
    c2._recv()
    with pytest.raises(leanmqtt.MQTTException):
        c2._recv()
    assert got[-1] == (b"a/b", b"5")


def test_qos1_puback_read_in_publish_hands_other_packets_over_intact():
    # Plain mode: publish() reads its PUBACK itself when it is next; a PUBLISH, a PUBACK
    # for another id or a PUBACK that comes in pieces goes the general way, nothing lost.
    c, b = pair()
    got = []
    c.set_callback(lambda t, m: got.append((t, m)))
    # A message from the broker first, then the PUBACK of id 1.
    b.sendall(publish_packet(b"in/x", b"hi", qos=1, pid=9) + b"\x40\x02\x00\x01")
    assert c.publish(b"out/x", b"1", qos=1) is True
    assert got == [(b"in/x", b"hi")] and c.pending() == 0
    out = drain(b)
    assert out == publish_packet(b"out/x", b"1", qos=1, pid=1) + b"\x40\x02\x00\x09"
    # A stale PUBACK (id 1 again), then the one for id 2.
    b.sendall(b"\x40\x02\x00\x01" + b"\x40\x02\x00\x02")
    assert c.publish(b"out/x", b"2", qos=1) is True and c.pending() == 0
    # A PUBACK in pieces, the later ones after publish() began waiting: its fixed header
    # whole, then each byte of its id; then one byte at a time from the start.
    for pid, first, later in ((3, b"\x40\x02", (b"\x00", b"\x03")), (4, b"\x40", (b"\x02", b"\x00\x04"))):
        b.sendall(first)

        def rest():
            import time

            for piece in later:
                time.sleep(0.1)
                b.sendall(piece)

        th = threading.Thread(target=rest)
        th.start()
        assert c.publish(b"out/x", b"3", qos=1) is True and c.pending() == 0
        th.join()
    drain(b)
    # Then a PINGRESP and the PUBACK of id 4: both read, in order.
    c._pinging = True
    b.sendall(b"\xd0\x00" + b"\x40\x02\x00\x05")
    assert c.publish(b"out/x", b"4", qos=1) is True and c.pending() == 0 and not c._pinging


def test_publish_allocates_nothing_for_a_remembered_or_a_bytearray_topic(tmp_path):
    # The unix port, over bench_chip_device.py's in-memory stream: with the heap locked, a
    # QoS 0 and a QoS 1 publish to a topic checked before, and to a bytearray topic (never
    # remembered, so checked in place each time), go out; a new bytes topic may allocate
    # its remembered copy once, so it is published before the lock.
    from conftest import ROOT
    from host import mpy

    script = tmp_path / "locked.py"
    script.write_text(
        "import sys, micropython\n"
        "sys.path.insert(0, %r)\n"
        "import bench_chip_device as b, leanmqtt\n"
        "net = leanmqtt.socket = b.Net()\n"
        "c = leanmqtt.MQTTClient(b'lock', 'x', 1883)\n"
        "net.s = s = b.Mem(b.CONNACK + b.puback(1) + b.puback(2) + b.puback(3), 4096)\n"
        "c.connect()\n"
        "T, B, P = b'a/b', bytearray(b'a/c'), b'0123456789abcdef'\n"
        "c.publish(T, P, qos=1)\n"
        "micropython.heap_lock()\n"
        "c.publish(T, P)\n"
        "c.publish(T, P, qos=1)\n"
        "c.publish(B, P)\n"
        "c.publish(B, P, qos=1)\n"
        "micropython.heap_unlock()\n"
        # Four topics in turn (an app's readings, its status...): each kept when it was
        # first checked, before the lock; then none allocates, whatever the order.
        "TS = (b'a/0', b'a/1', b'a/2', b'a/3')\n"
        "for k in range(12):\n"
        "    if k == 4: micropython.heap_lock()\n"
        "    c.publish(TS[k * 3 %% 4], P)\n"
        "c.publish(b'a/4', P)\n"  # a fifth: checked, and kept in the place of the oldest
        "micropython.heap_unlock()\n"
        "print('sent', s.o.tell(), c.pending())\n" % os.path.join(ROOT, "tools")
    )
    p = mpy.run(str(script), [], only=mpy.built(), timeout=30)
    # CONNECT of 18 B; each PUBLISH 2 + 2 + 3 + 16 B, QoS 1 with 2 more: all went out, acked
    assert p.stdout.split() == ["sent", str(18 + 3 * 25 + 2 * 23 + 13 * 23), "0"], p.stdout
