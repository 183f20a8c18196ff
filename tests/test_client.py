"""The client core under the MicroPython unix port, against a real Mosquitto."""
import time

from conftest import lines
from host.lines import Lines
from host.subscriber import publish, publish_many




def test_every_packet_type(broker, recorder, device):
    rec = recorder("lean/out/#")
    publish(broker.port, "lean/in/host", b"from host", qos=1, retain=True)
    out = device("basic.py", broker.port).stdout
    assert lines(out, "connack") == ["0"]
    assert lines(out, "puback") == [""]
    assert lines(out, "pingresp") == ["True"]
    # QoS 1 in both directions: the host's retained message and our own echo came in.
    assert lines(out, "msg") == ["lean/in/echo loop", "lean/in/host from host"]
    assert lines(out, "after_unsub") == ["2"], out
    assert "done" in out
    msgs = rec.wait_count(3)
    by_topic = {m[0]: m for m in msgs}
    assert by_topic["lean/out/q0"][1] == b"zero"
    assert by_topic["lean/out/q1"][1:3] == (b"one", 1)
    assert by_topic["lean/out/retained"][1] == b"kept"
    # The broker's log saw each packet type from the client.
    log = broker.log()
    assert "New client connected from 127.0.0.1" in log and "as dev-basic (p2, c1, k30)" in log
    for kind in ("SUBSCRIBE", "PUBLISH", "PINGREQ", "UNSUBSCRIBE", "DISCONNECT", "PUBACK"):
        assert "Received %s from dev-basic" % kind in log, kind


def test_retained_message_reaches_a_later_subscriber(broker, recorder, device):
    device("basic.py", broker.port)
    rec = recorder("lean/out/retained")
    msgs = rec.wait_count(1)
    assert msgs[0][1] == b"kept" and msgs[0][3] is True


def test_will_fires_on_abrupt_close(broker, recorder, device):
    rec = recorder("lean/will")
    device("will.py", broker.port, "abrupt")
    msgs = rec.wait_count(1, timeout=10)
    assert [m[1] for m in msgs] == [b"gone abrupt"]


def test_will_not_sent_after_disconnect(broker, recorder, device):
    rec = recorder("lean/#")
    device("will.py", broker.port, "clean")
    msgs = rec.wait_for(lambda m: any(x[0] == "lean/status" for x in m), timeout=10)
    assert [m[1] for m in msgs if m[0] == "lean/status"] == [b"up clean"]
    time.sleep(1.0)
    assert not [m for m in rec.messages if m[0] == "lean/will"]


def test_session_present_on_resume(broker, device):
    out = device("session.py", broker.port).stdout
    assert lines(out, "first") == ["0"]
    assert lines(out, "fresh") == ["0"]
    assert lines(out, "resumed") == ["1"]
    assert lines(out, "clean") == ["0"]


def test_refused_connack_raises_with_code_and_reason(device):
    from host.broker import Mosquitto

    b = Mosquitto()
    b.add_user("alice", "right")
    with b:
        out = device("refused.py", b.port, "alice", "wrong").stdout
        code, reason = lines(out, "refused")[0].split(" ", 1)
        assert code in ("4", "5")
        assert reason in ("bad user name or password", "not authorized")
        assert lines(out, "connected") == ["False"]
        assert lines(device("refused.py", b.port, "alice", "right").stdout, "refused") == []


def test_publish_and_poll_do_not_touch_the_heap(broker, device):
    for mode in ("plain", "resilient"):
        out = device("heaplock.py", broker.port, mode, 300).stdout
        assert lines(out, "ok")[0].split()[0] == "0", out  # nothing left unacked


def test_a_callback_that_raises_does_not_stall_qos1_delivery(broker, device_bg):
    # Each failed message is still acked: unacked, 20 of them would fill the broker's
    # in-flight window for this client and hold every later QoS 1 message back.
    out = Lines(device_bg("poison.py", broker.port, 5))
    out.wait("ready")
    publish_many(broker.port, "lean/cmd", [b"bad"] * 25 + [b"good %d" % i for i in range(5)], qos=1)
    assert "errors 25 good 5 reconnects 0" in out.finish(timeout=30)
