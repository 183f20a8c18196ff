"""The client's bytes against MQTT 3.1.1's rules, checked packet by packet on CPython (the
same file the device runs), with a recording peer on loopback. tests/CONFORMANCE.md maps
each rule to these and the other tests."""
import os
import re
import time

import pytest

import leanmqtt
from conftest import ROOT
from host.peer import RecordingPeer as Peer, packet


def client(peer, **kw):
    c = leanmqtt.MQTTClient(kw.pop("client_id", "conf"), "127.0.0.1", peer.port, **kw)
    c.set_callback(lambda t, m: None)
    return c


def connect_packet(**kw):
    peer = Peer()
    c = client(peer, **kw.pop("client", {}))
    for k, v in kw.items():
        getattr(c, k)(*v)
    c.connect()
    c.disconnect()
    peer.closed.wait(5)
    return peer.packets[0]


def test_first_packet_is_connect_mqtt_level_4():  # MQTT-3.1.0-1, 3.1.2.1-2
    op, body = connect_packet()
    assert op == 0x10
    assert body[:7] == b"\x00\x04MQTT\x04"


def test_connect_flags_and_payload_order():  # MQTT-3.1.2-9, -11, -13, -15, -18..-22, MQTT-3.1.3-1, -3
    op, body = connect_packet(client={"client_id": "cid", "user": "u", "password": "p"},
                              set_last_will=(b"w/t", b"bye", True, 1))
    flags = body[7]
    assert flags & 0x01 == 0  # reserved
    assert flags & 0x04 and (flags >> 3) & 3 == 1 and flags & 0x20  # will, its QoS, retain
    assert flags & 0x80 and flags & 0x40  # user name, password
    assert body[10:] == b"\x00\x03cid\x00\x03w/t\x00\x03bye\x00\x01u\x00\x01p"

    op, body = connect_packet(client={"client_id": "cid"})
    assert body[7] & 0xFC == 0  # no will: will QoS and retain 0; no user, no password
    assert body[10:] == b"\x00\x03cid"


def test_password_without_user_and_empty_id_without_clean_session_are_refused():
    # MQTT-3.1.2-22, MQTT-3.1.3-7: nothing is sent, not even a TCP connection.
    c = leanmqtt.MQTTClient("x", "127.0.0.1", 1, password="p")
    with pytest.raises(ValueError):
        c.connect()
    with pytest.raises(ValueError):
        leanmqtt.MQTTClient("", "127.0.0.1", 1).connect(clean_session=False)


def test_publish_ids_flags_and_order():
    # MQTT-2.3.1-1, -2, -5, MQTT-3.3.1-2, MQTT-4.3.1-1, MQTT-4.3.2-1
    peer = Peer()
    c = client(peer, reconnect=True, inflight=4)
    c.connect()
    c.publish(b"t", b"q0")
    for i in range(6):
        c.publish(b"t", b"q1-%d" % i, qos=1)
    for _ in range(50):
        c.poll(20)
        if not c.pending():
            break
    pubs = [(op, body) for op, body in peer.packets if op & 0xF0 == 0x30]
    op, body = pubs[0]
    assert op == 0x30 and body == b"\x00\x01tq0"  # QoS 0: DUP 0, no packet id
    ids = []
    for op, body in pubs[1:]:
        assert op == 0x32  # QoS 1, DUP 0, retain 0
        ids.append(body[3] << 8 | body[4])
    assert 0 not in ids and len(set(ids)) == len(ids) == 6  # non-zero, each unused
    assert [b[5:] for _, b in pubs[1:]] == [b"q1-%d" % i for i in range(6)]  # in order
    c.disconnect()


def test_subscribe_and_unsubscribe_packets():
    # MQTT-3.8.1-1, MQTT-3.8.3-1, -3, MQTT-3.10.1-1, MQTT-3.10.3-1, -2, MQTT-2.3.1-7
    peer = Peer()
    c = client(peer)
    c.connect()
    c.subscribe("a/+/c", 1)
    c.unsubscribe("a/+/c")
    sub = [b for op, b in peer.packets if op == 0x82][0]
    unsub = [b for op, b in peer.packets if op == 0xA2][0]
    assert sub[2:] == b"\x00\x05a/+/c\x01" and sub[:2] != b"\x00\x00"
    assert unsub[2:] == b"\x00\x05a/+/c"
    c.disconnect()


def test_incoming_qos1_acked_with_its_id_in_order_even_when_skipped():
    # MQTT-3.3.4-1, MQTT-4.3.2-2, MQTT-4.5.0-2, MQTT-4.6.0-2
    peer = Peer()
    got = []
    c = client(peer, rxsize=64)
    c.set_callback(lambda t, m: got.append(m))
    c.connect()
    while peer.conn is None:
        time.sleep(0.01)
    big = b"x" * 200  # larger than rxsize: skipped, but acked
    for pid, msg in ((7, b"one"), (8, big), (9, b"three")):
        peer.conn.sendall(packet(0x32, b"\x00\x01t" + bytes([0, pid]) + msg))
    for _ in range(50):
        c.poll(20)
        if len([1 for op, _ in peer.packets if op == 0x40]) == 3:
            break
    acks = [b for op, b in peer.packets if op == 0x40]
    assert acks == [b"\x00\x07", b"\x00\x08", b"\x00\x09"]
    assert got == [b"one", b"three"]
    c.disconnect()


def test_a_callback_that_publishes_leaves_the_puback_intact():
    # With bufsize == rxsize (the default) one buffer serves both ways: the callback's
    # reply is written over the message just read, and the PUBACK after it over the reply.
    peer = Peer()
    c = client(peer)
    reply = bytes(range(100))
    c.set_callback(lambda t, m: c.publish(b"re/" + t, reply + m))
    c.connect()
    while peer.conn is None:
        time.sleep(0.01)
    for pid in (0x1234, 0x0102):
        peer.conn.sendall(packet(0x32, b"\x00\x03cmd" + pid.to_bytes(2, "big") + b"go"))
    for _ in range(50):
        c.poll(20)
        if len([1 for op, _ in peer.packets if op == 0x40]) == 2:
            break
    sent = [(op, b) for op, b in peer.packets if op in (0x30, 0x40)]
    one = (0x30, b"\x00\x06re/cmd" + reply + b"go")
    assert sent == [one, (0x40, b"\x12\x34"), one, (0x40, b"\x01\x02")]
    c.disconnect()


def test_nothing_after_disconnect_and_the_connection_closes():  # MQTT-3.14.4-1, -2
    peer = Peer()
    c = client(peer)
    c.connect()
    c.disconnect()
    assert peer.closed.wait(5)
    assert peer.types()[-1] == 0xE0
    with pytest.raises(OSError):
        c.publish(b"t", b"x")


def test_resend_after_reconnect_keeps_ids_sets_dup_in_order():
    # MQTT-4.4.0-1, MQTT-2.3.1-3, MQTT-3.3.1-1, MQTT-4.6.0-1: the packets kept in the store
    # go out again on the next connection, unchanged but for DUP.
    c = leanmqtt.MQTTClient("conf", "127.0.0.1", 1, reconnect=True, inflight=4)
    for i in range(3):
        assert c.publish(b"t", b"m%d" % i, qos=1)  # offline: stored
    peer = Peer(session_present=1)
    c.port = peer.port
    c.connect(clean_session=False)
    for _ in range(50):
        c.poll(20)
        if not c.pending():
            break
    pubs = [(op, b) for op, b in peer.packets if op & 0xF0 == 0x30]
    assert [op for op, _ in pubs] == [0x3A, 0x3A, 0x3A]  # DUP, QoS 1
    assert [b[3:] for _, b in pubs] == [b"\x00\x01m0", b"\x00\x02m1", b"\x00\x03m2"]
    c.disconnect()


# -- the matrix itself -------------------------------------------------------------------

MATRIX = os.path.join(ROOT, "tests", "CONFORMANCE.md")


def matrix_rows():
    rows = []
    for line in open(MATRIX):
        m = re.match(r"\| (MQTT-[\d.]+-\d+) \| (.*?) \| (enforced|relied on|n/a) \| (.*?) \| (.*?) \|", line)
        if m:
            rows.append(m.groups())
    return rows


def test_matrix_covers_sections_1_to_4_and_its_references_exist():
    rows = matrix_rows()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) and len(ids) >= 100
    code = open(os.path.join(ROOT, "device", "leanmqtt.py")).read()
    cited = set(re.findall(r"MQTT-\d\.\d+\.\d+-\d+", code))
    assert cited <= set(ids), cited - set(ids)  # every rule the code names is in the matrix
    tests = ""
    for f in os.listdir(os.path.join(ROOT, "tests")):
        if f.endswith(".py"):
            tests += open(os.path.join(ROOT, "tests", f)).read()
    for rid, _, status, where, test in rows:
        if status == "enforced":
            assert rid in code, "%s is enforced but not named in leanmqtt.py" % rid
        for name in re.findall(r"`(test_\w+)`", test):
            assert "def %s(" % name in tests, "%s: no test %s" % (rid, name)
        if status != "n/a":
            assert test.strip() and test.strip() != "-", "%s has no test or reason" % rid


def test_a_link_lost_inside_the_callback_is_handled_once():
    # The callback's own reply can find the link dead (resilient mode: publish() closes it,
    # logs, returns False). poll() must then neither trip over the closed socket nor count
    # the loss twice; the message that was being delivered is not acked on a dead link.
    peer = Peer()
    logs = []
    c = client(peer, reconnect=True, keepalive=1, log=lambda *a: logs.append(a))
    c.backoff_min = 60000  # no redial during the test

    def reply(topic, msg):
        c._fail(OSError("cut"))  # what a failed write inside publish() does
        assert c.publish(b"re", msg) is False

    c.set_callback(reply)
    c.connect()
    while peer.conn is None:
        time.sleep(0.01)
    peer.conn.sendall(packet(0x32, b"\x00\x03cmd\x00\x07go") + packet(0x30, b"\x00\x03cmd" + b"more"))
    time.sleep(1.1)  # a PINGREQ is due too: it must not go out on the closed link
    assert c.poll(100) == 0x32
    assert not c.isconnected() and c.dropped == 1
    assert [a[1] for a in logs] == ["lost"], logs
    assert 0x40 not in peer.types()
    c.disconnect()


def test_a_link_lost_inside_the_callback_during_subscribe_is_network_trouble():
    # subscribe() waits for its SUBACK; a message delivered meanwhile whose callback loses
    # the link ends that wait as network trouble (resilient: logged, no exception), with the
    # subscription kept for the next connection.
    peer = Peer()
    logs = []
    c = client(peer, reconnect=True, log=lambda *a: logs.append(a))
    c.backoff_min = 60000
    c.set_callback(lambda t, m: c._fail(OSError("cut")))
    c.connect()
    while peer.conn is None:
        time.sleep(0.01)
    peer.conn.sendall(packet(0x30, b"\x00\x03cmd" + b"go"))
    time.sleep(0.1)
    assert c.subscribe(b"a/b", 1) is None
    assert not c.isconnected() and c._subs == {b"a/b": 1 | 4}  # not acked: made again
    assert logs and logs[0][2].args == ("cut",), logs
    c.disconnect()


def test_subscriptions_not_acked_are_made_again_even_when_the_session_was_kept():
    # A SUBSCRIBE or UNSUBSCRIBE made offline, or lost with the link before its ack, is
    # made again on the next connection: with the session kept (session present 1), only
    # those; with it lost, every subscription, and no unsubscription.
    peer = Peer()
    c = client(peer, reconnect=True, log=lambda *a: None)
    c.connect(clean_session=False)
    c.subscribe(b"a/1", 1)
    c.subscribe(b"a/2", 0)
    c._fail(OSError("cut"))
    c.subscribe(b"a/3", 1)  # offline: remembered
    c.unsubscribe(b"a/2")
    sent = []
    for sp in (1, 0):
        peer = Peer(session_present=sp)
        c.port = peer.port
        c.connect(clean_session=False)
        c.disconnect()
        peer.closed.wait(5)
        sent.append(sorted((op, body[2:]) for op, body in peer.packets if op in (0x82, 0xA2)))
    assert sent[0] == [(0x82, b"\x00\x03a/3\x01"), (0xA2, b"\x00\x03a/2")]
    assert sent[1] == [(0x82, b"\x00\x03a/1\x01"), (0x82, b"\x00\x03a/3\x01")]


# -- QoS 2 (issue 13): every flow, byte by byte ------------------------------------------


def q2_until(pred, c=None, n=100):
    """Polls the client (if any) until pred() holds; bounded."""
    for _ in range(n):
        if pred():
            return True
        if c is not None:
            c.poll(20)
        else:
            time.sleep(0.02)
    return pred()


def q2_connect(c, peer, clean=True):
    c.port = peer.port
    sp = c.connect(clean_session=clean)
    assert q2_until(lambda: peer.conn is not None)
    return sp


def test_qos2_publish_flow_publish_pubrec_pubrel_pubcomp():
    # MQTT-4.3.3-1, MQTT-3.6.1-1, MQTT-2.3.1-1, -6: PUBLISH QoS 2 with a new id and DUP 0;
    # on PUBREC, PUBREL 0x62 with the same id; the message stays in the store until
    # PUBCOMP; nothing else goes out.
    peer = Peer(acks=False)
    c = client(peer, reconnect=True, inflight=2)
    q2_connect(c, peer)
    assert c.publish(b"t", b"m", qos=2) is True
    assert q2_until(lambda: 0x34 in peer.types(), c)
    op, body = [(op, b) for op, b in peer.packets if op & 0xF0 == 0x30][0]
    assert op == 0x34 and body[:3] == b"\x00\x01t" and body[5:] == b"m"  # QoS 2, DUP 0
    pid = body[3:5]
    assert pid != b"\x00\x00" and c.pending() == 1
    peer.conn.sendall(b"\x50\x02" + pid)  # PUBREC
    assert q2_until(lambda: 0x62 in peer.types(), c)
    assert peer.packets[-1] == (0x62, pid) and c.pending() == 1  # PUBREL, still held
    peer.conn.sendall(b"\x70\x02" + pid)  # PUBCOMP
    assert q2_until(lambda: c.pending() == 0, c)
    assert [op for op, _ in peer.packets] == [0x10, 0x34, 0x62]
    c.disconnect()


def test_qos2_plain_publish_returns_after_pubcomp():
    # Plain mode returns once the whole exchange is done: PUBREL was sent, PUBCOMP came.
    peer = Peer()
    c = client(peer)
    c.connect()
    assert c.publish(b"t", b"m", qos=2) is True
    assert c.pending() == 0 and peer.types()[-2:] == [0x34, 0x62]
    c.disconnect()
    # A broker that never sends PUBCOMP: publish() raises, it does not hang.
    peer = Peer(acks=False)
    c = client(peer, keepalive=1, timeout=1)
    c.connect()
    assert q2_until(lambda: peer.conn is not None)

    def pubrec_only():
        while 0x34 not in peer.types():
            time.sleep(0.01)
        pid = [b for op, b in peer.packets if op == 0x34][0][3:5]
        peer.conn.sendall(b"\x50\x02" + pid)

    import threading

    threading.Thread(target=pubrec_only, daemon=True).start()
    t = time.monotonic()
    with pytest.raises(OSError):
        c.publish(b"t", b"m", qos=2)
    assert time.monotonic() - t < 5 and 0x62 in peer.types()
    assert c.pending() == 1  # kept: a later connect() sends its PUBREL again


def test_qos2_resend_after_reconnect_pubrel_once_pubrec_came_else_publish_with_dup():
    # MQTT-4.4.0-1, MQTT-4.3.3-1, MQTT-2.3.1-3, MQTT-3.3.1-1, MQTT-4.6.0-1, MQTT-4.6.0-4:
    # three QoS 2 messages in flight, the first had its PUBREC: after the reconnect its
    # PUBREL goes again, never its PUBLISH; the others go again as PUBLISH with DUP and the
    # same ids, in the original order.
    c = leanmqtt.MQTTClient("conf", "127.0.0.1", 1, reconnect=True, inflight=4, log=lambda *a: None)
    for i in range(3):
        assert c.publish(b"t", b"m%d" % i, qos=2)  # offline: stored
    peer = Peer(acks=False)
    q2_connect(c, peer, clean=False)
    assert q2_until(lambda: len(peer.packets) == 4, c)
    pubs = [b for op, b in peer.packets if op & 0xF0 == 0x30]
    ids = [b[3:5] for b in pubs]
    peer.conn.sendall(b"\x50\x02" + ids[0])
    assert q2_until(lambda: 0x62 in peer.types(), c)
    c._fail(OSError("cut"))
    for _ in range(2):  # twice: a resent PUBREL is itself resent until PUBCOMP
        peer = Peer(session_present=1, acks=False)
        q2_connect(c, peer, clean=False)
        assert q2_until(lambda: len(peer.packets) == 4, c)
        assert peer.packets[1:] == [(0x62, ids[0]), (0x3C, pubs[1]), (0x3C, pubs[2])]
        c._fail(OSError("cut"))
    peer = Peer(session_present=1)  # answers: all three complete
    q2_connect(c, peer, clean=False)
    assert q2_until(lambda: c.pending() == 0, c)
    assert [op for op, _ in peer.packets] == [0x10, 0x62, 0x3C, 0x3C, 0x62, 0x62]
    c.disconnect()


def test_qos2_receive_delivered_once_pubrec_until_pubrel_then_pubcomp():
    # MQTT-4.3.3-2, MQTT-3.3.4-1, MQTT-2.3.1-6, MQTT-4.6.0-3: delivered once, PUBREC with
    # its id; the same id again before PUBREL (DUP=1) is PUBRECed again, not delivered
    # again; PUBREL gets PUBCOMP and frees the id: a later message may use it again.
    peer = Peer()
    got = []
    c = client(peer)
    c.set_callback(lambda t, m: got.append(m))
    c.connect()
    c.subscribe(b"t", 2)
    sub = [b for op, b in peer.packets if op == 0x82][0]
    assert sub[2:] == b"\x00\x01t\x02"  # SUBSCRIBE at QoS 2
    pub = b"\x00\x01t\x00\x07"
    n = len(peer.packets)
    peer.conn.sendall(packet(0x34, pub + b"one") + packet(0x3C, pub + b"one"))
    assert q2_until(lambda: len(peer.packets) == n + 2, c)
    assert peer.packets[n:] == [(0x50, b"\x00\x07"), (0x50, b"\x00\x07")] and got == [b"one"]
    peer.conn.sendall(b"\x62\x02\x00\x07")  # PUBREL
    assert q2_until(lambda: len(peer.packets) == n + 3, c)
    assert peer.packets[-1] == (0x70, b"\x00\x07")  # PUBCOMP
    peer.conn.sendall(packet(0x34, pub + b"two"))  # id 7 again, a new message
    assert q2_until(lambda: len(peer.packets) == n + 4, c)
    assert got == [b"one", b"two"] and peer.packets[-1] == (0x50, b"\x00\x07")
    # The order of PUBRECs is the order of the PUBLISHes (MQTT-4.6.0-3).
    peer.conn.sendall(b"".join(packet(0x34, b"\x00\x01t" + bytes([0, i]) + b"x") for i in (9, 8, 10)))
    assert q2_until(lambda: len(peer.packets) == n + 7, c)
    assert [b for _, b in peer.packets[-3:]] == [b"\x00\x09", b"\x00\x08", b"\x00\x0a"]
    c.disconnect()


def test_qos2_stale_and_unknown_acks_get_what_the_spec_wants():
    # PUBREL for an id not held (its PUBCOMP was lost): PUBCOMP all the same (MQTT-4.3.3-2).
    # PUBREC for an id not in the store: PUBREL, or the broker would hold it. PUBCOMP and
    # PUBACK for unknown ids: ignored. The link stays up through all of it.
    peer = Peer()
    c = client(peer)
    c.connect()
    assert q2_until(lambda: peer.conn is not None)
    peer.conn.sendall(b"\x62\x02\x01\x09" + b"\x50\x02\x00\x05" + b"\x70\x02\x00\x06" + b"\x40\x02\x00\x04")
    assert q2_until(lambda: len(peer.packets) == 3, c)
    assert peer.packets[1:] == [(0x70, b"\x01\x09"), (0x62, b"\x00\x05")]
    c.poll(100)
    assert c.isconnected() and len(peer.packets) == 3
    assert c.publish(b"t", b"x", qos=2) and c.pending() == 0  # and the client goes on
    c.disconnect()


@pytest.mark.parametrize("qos,ack,why", [
    (2, b"\x40\x02", "PUBACK for a QoS 2 message"),
    (2, b"\x70\x02", "PUBCOMP before its PUBREC"),
    (1, b"\x50\x02", "PUBREC for a QoS 1 message"),
    (1, b"\x70\x02", "PUBCOMP for a QoS 1 message"),
])
def test_qos2_an_ack_of_the_wrong_kind_closes_and_the_slot_is_not_wedged(qos, ack, why):
    # A protocol violation closes the connection (MQTT-4.8.0-1) with MQTTException; the
    # message stays in the store and completes on the next connection.
    peer = Peer(acks=False)
    c = client(peer, reconnect=True, log=lambda *a: None)
    c.backoff_min = 60000
    q2_connect(c, peer, clean=False)
    c.publish(b"t", b"m", qos=qos)
    assert q2_until(lambda: len(peer.packets) == 2, c)
    pid = peer.packets[1][1][3:5]
    peer.conn.sendall(ack + pid)
    assert q2_until(lambda: not c.isconnected(), c), why
    assert c.pending() == 1
    peer = Peer(session_present=1)
    q2_connect(c, peer, clean=False)
    assert q2_until(lambda: c.pending() == 0, c), why
    assert peer.packets[1] == (0x3A if qos == 1 else 0x3C, peer.packets[1][1])
    c.disconnect()


def test_qos2_ids_waiting_for_pubrel_are_kept_with_the_session_and_dropped_without():
    # MQTT-4.3.3-2 across a reconnect: with the session kept (session present 1), a
    # resent PUBLISH of an id still waiting for PUBREL is acked, not delivered; with a new
    # session (session present 0) the broker forgot it, and the same id is a new message.
    got = []
    c = leanmqtt.MQTTClient("conf", "127.0.0.1", 1, reconnect=True, log=lambda *a: None)
    c.set_callback(lambda t, m: got.append(m))
    pub = packet(0x34, b"\x00\x01t\x00\x07one")
    peer = Peer()
    q2_connect(c, peer, clean=False)
    c.subscribe(b"t", 2)
    peer.conn.sendall(pub)
    assert q2_until(lambda: peer.types()[-1] == 0x50, c)
    c._fail(OSError("cut"))  # before PUBREL
    peer = Peer(session_present=1)
    q2_connect(c, peer, clean=False)
    peer.conn.sendall(bytes([pub[0] | 8]) + pub[1:])  # the broker's resend, DUP=1
    assert q2_until(lambda: peer.types()[-1:] == [0x50], c)
    assert got == [b"one"]
    c._fail(OSError("cut"))
    peer = Peer(session_present=0)
    q2_connect(c, peer, clean=False)
    peer.conn.sendall(pub)
    assert q2_until(lambda: peer.types()[-1:] == [0x50], c)
    assert got == [b"one", b"one"]  # a new session: a new message
    c.disconnect()


def test_qos2_more_ids_waiting_than_qos2_in_is_refused_not_lost_nor_doubled():
    # qos2_in=2: a third message while two wait for PUBREL cannot be told from a resend
    # later, so it is neither delivered nor PUBRECed and the link drops with
    # MQTTException('qos2 full', id) (plain mode); a broker keeping the session sends it
    # again after the PUBRELs.
    peer = Peer()
    got = []
    c = client(peer, qos2_in=2)
    c.set_callback(lambda t, m: got.append(m))
    c.connect(clean_session=False)
    c.subscribe(b"t", 2)
    peer.conn.sendall(b"".join(packet(0x34, b"\x00\x01t" + bytes([0, i]) + b"m%d" % i) for i in (1, 2, 3)))
    with pytest.raises(leanmqtt.MQTTException) as e:
        for _ in range(20):
            c.poll(50)
    assert e.value.args == ("qos2 full", 3)
    assert got == [b"m1", b"m2"] and not c.isconnected()
    assert peer.closed.wait(5)  # all the client sent is recorded
    assert [b for op, b in peer.packets if op == 0x50] == [b"\x00\x01", b"\x00\x02"]
    peer = Peer(session_present=1)
    c.port = peer.port
    c.connect(clean_session=False)
    assert q2_until(lambda: peer.conn is not None)
    peer.conn.sendall(b"\x62\x02\x00\x01\x62\x02\x00\x02" + packet(0x3C, b"\x00\x01t\x00\x03m3"))
    assert q2_until(lambda: len(peer.packets) == 4, c)
    assert got == [b"m1", b"m2", b"m3"]
    assert peer.packets[1:] == [(0x70, b"\x00\x01"), (0x70, b"\x00\x02"), (0x50, b"\x00\x03")]
    c.disconnect()


def test_qos2_will_and_malformed_flags():
    # MQTT-3.1.2-14: will QoS 2 in the CONNECT flags; 3 is refused. MQTT-3.6.1-1,
    # MQTT-2.2.2-2: a PUBREL with flags 0000 is malformed: the connection closes.
    op, body = connect_packet(set_last_will=(b"w/t", b"bye", False, 2))
    assert body[7] >> 3 & 3 == 2 and body[7] & 0x04
    with pytest.raises(ValueError):
        leanmqtt.MQTTClient("x", "127.0.0.1", 1).set_last_will(b"w", b"x", False, 3)
    peer = Peer()
    c = client(peer)
    c.connect()
    assert q2_until(lambda: peer.conn is not None)
    peer.conn.sendall(b"\x60\x02\x00\x01")
    with pytest.raises(leanmqtt.MQTTException) as e:
        for _ in range(20):
            c.poll(50)
    assert e.value.args == ("bad packet", 0x60) and not c.isconnected()
    assert 0x70 not in peer.types()
