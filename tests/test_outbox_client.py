"""leanmqtt with the outbox (device/outbox.py), on the unix port, against a real Mosquitto,
through the fault proxy: an outage with SIGKILLs, flush(), the heap locked."""
import os
import random
import shutil
import signal
import sys
import time

from conftest import ROOT, lines
from host import mpy
from host.lines import Lines
from host.proxy import DOWN, UP, FaultProxy
from host.subscriber import Recorder

sys.path.insert(0, os.path.join(ROOT, "device"))
import outbox  # noqa: E402

CLIENT = os.path.join(ROOT, "tests", "device", "outbox_client.py")


def held(d, size):
    """The readings an outbox holds, in order, read on the host (CPython) from a copy."""
    cp = d + ".check"
    shutil.rmtree(cp, ignore_errors=True)
    os.makedirs(cp)
    for i in (0, 1):
        shutil.copy(os.path.join(d, "ob.%d" % i), os.path.join(cp, "ob.%d" % i))
    ob = outbox.Outbox(os.path.join(cp, "ob"), size, window=64)
    buf = bytearray(256)
    out = []
    while True:
        sl = ob.take(buf)
        if not sl:
            break
        h, n = sl & 3, sl >> 2
        tl = buf[5] << 8 | buf[6]
        assert bytes(buf[7 : 7 + tl]) == b"lean/ob"
        out.append(int(bytes(buf[9 + tl : h + n])))
        ob.ack()
    assert ob.count == 0
    for i in (0, 1):  # bounded: each file within half the size
        assert os.path.getsize(os.path.join(d, "ob.%d" % i)) <= size // 2
    return out


def accepted_from(out, killed=False):
    # A SIGKILL may cut the last line: it is left out (that reading is in the outbox, and the
    # test checks that everything the outbox ever held arrives).
    if killed:
        out = "\n".join(out.splitlines()[:-1])
    return {int(x) for x in lines(out, "ok")}


def test_outage_of_1000_readings_with_three_sigkills_loses_nothing(broker, tmp_path):
    # 1,000 readings (125x the RAM window of 8) while the link is dead, the device killed
    # with SIGKILL twice in the outage (once in the middle of an outbox write) and once
    # while the link is back and the outbox drains: every reading publish() accepted
    # reaches the host subscriber; the outbox files are whole after every kill.
    size, inflight, total = 80000, 8, 1000
    rng = random.Random(12)
    rec = Recorder(broker.port, "lean/ob").start()
    px = FaultProxy(broker.port)
    px.set("blackhole")
    d = str(tmp_path)
    accepted = set()
    ever_held = set()
    nxt = 0

    def received():
        return {int(m[1]) for m in rec.messages}

    def killed(p, out):
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        accepted.update(accepted_from(out.text(), killed=True))
        have = held(d, size)  # consistent after the kill: whole records, in order
        ever_held.update(have)
        assert have == sorted(set(have)), have
        missing = accepted - set(have) - received()
        assert not missing, sorted(missing)[:10]
        return have

    try:
        for run in range(2):  # in the outage: a kill at random, a kill inside a write
            mid = rng.randint(20, 200) if run == 1 else 0
            p = mpy.start(CLIENT, [px.port, d, nxt, total, 2, inflight, size, mid, 0])
            out = Lines(p)
            if mid:
                out.wait("midwrite", timeout=60)
                time.sleep(rng.uniform(0, 0.05))
            else:
                want = rng.randint(100, 250)  # readings in this run before the kill
                end = time.monotonic() + 60
                while len(lines(out.text(), "ok")) < want and time.monotonic() < end:
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, 0.01))
            have = killed(p, out)
            assert len(set(have) - accepted) <= 2  # the one being published, the cut line
            nxt = max(have) + 1
        # the rest of the 1,000, then the link back, and a kill while the outbox drains
        p = mpy.start(CLIENT, [px.port, d, nxt, total - len(accepted), 2, inflight, size, 0, 60000])
        out = Lines(p)
        out.wait("published", timeout=60)
        accepted |= accepted_from(out.text())
        assert len(accepted) >= total
        base = len(received())
        px.set("pass")
        want = rng.randint(100, 600)
        end = time.monotonic() + 60
        while len(received()) - base < want and time.monotonic() < end:
            time.sleep(0.002)
        left = killed(p, out)
        assert left, "the drain ended before the kill"
        p = mpy.start(CLIENT, [px.port, d, 0, 0, 2, inflight, size, 0, 60000])
        text = Lines(p).finish(timeout=90)
        assert "boot count %d" % len(left) in text and "done pending 0" in text, text[-2000:]
        end = time.monotonic() + 30
        while time.monotonic() < end and not accepted <= received():
            time.sleep(0.1)
        got = [int(m[1]) for m in rec.messages]
        assert accepted <= set(got), sorted(accepted - set(got))[:20]
        assert ever_held <= set(got), sorted(ever_held - set(got))[:20]
        dups = len(got) - len(set(got))
        print("readings accepted", len(accepted), "received", len(set(got)), "duplicates", dups,
              "held at the third kill", len(left))
        assert dups <= 2 * inflight  # at most what may have gone out before the third kill
        # what may have gone out before a reset carries DUP when sent after the boot
        # (MQTT-3.3.1-1): the first 2 x window, at each of the two boots that sent
        dup = [q for q in px.packets(UP, "PUBLISH") if q[0] & 8]
        assert dups <= len(dup) <= 2 * 2 * inflight, (dups, len(dup))
        assert held(d, size) == []
    finally:
        rec.stop()
        px.close()


def flush(d, port, kind, timeout):
    os.makedirs(d, exist_ok=True)
    p = mpy.run(os.path.join(ROOT, "tests", "device", "outbox_flush.py"), [port, d, kind, timeout],
                timeout=60)
    r, ms, _, pending = lines(p.stdout, "flush")[0].split()
    assert lines(p.stdout, "publish") == ["True"] * 5, p.stdout
    return r, int(ms), int(pending), p.stdout


def test_flush_returns_true_once_all_is_acked_and_the_will_stays_quiet(broker, recorder, tmp_path):
    rec = recorder("lean/#")
    for kind in ("outbox", "ram"):
        os.makedirs(str(tmp_path / kind))
        r, ms, pending, out = flush(str(tmp_path / kind), broker.port, kind, 5)
        assert (r, pending) == ("True", 0) and ms < 2000, out
    time.sleep(1.0)
    assert sorted(rec.payloads("lean/flush")) == sorted([b"r%d" % i for i in range(5)] * 2)
    assert rec.payloads("lean/will") == []  # disconnect() after flush(): no will


def test_flush_returns_within_its_timeout_with_the_link_dead(broker, tmp_path):
    px = FaultProxy(broker.port)
    try:
        for kind, want in (("outbox", "True"), ("ram", "False")):
            # The link silent after the connect (no FIN, no RST): the PUBACKs never come,
            # and flush() gives up at its deadline, never later.
            d = str(tmp_path / kind)
            os.makedirs(d)
            px.set("pass")
            p = mpy.start(os.path.join(ROOT, "tests", "device", "outbox_flush.py"),
                          [px.port, d, kind, 1.5, 1000])
            out = Lines(p)
            out.wait("connected True", timeout=30)
            px.set("blackhole")
            text = out.finish(timeout=30)
            r, ms, _, pending = lines(text, "flush")[0].split()
            # True with the outbox: the five are durable there (pending() says so)
            assert (r, pending) == (want, "5"), text
            assert 1400 <= int(ms) <= 1500 + 300, text  # (a reconnect would take 3 s)
            if kind == "outbox":  # and there they are, read on the host
                assert outbox.Outbox(os.path.join(d, "ob"), 8192).count == 5
            # The link down (no CONNACK at the connect): flush() does not redial, since
            # a reconnect could outlast its deadline: it answers at once.
            r, ms, pending, text = flush(str(tmp_path / kind) + "-down", px.port, kind, 1.5)
            assert (r, pending) == (want, 5) and ms <= 50, text
    finally:
        px.close()


def test_publish_through_the_outbox_with_the_heap_locked(broker, device, tmp_path):
    p = device("outbox_heaplock.py", broker.port, str(tmp_path), 150)
    refused, pending, rotations = lines(p.stdout, "ok")[0].split()
    assert (refused, pending) == ("0", "0"), p.stdout
    assert int(rotations) == 0, p.stdout  # (a rotation opens a file again: it allocates)


def test_qos2_goes_through_the_outbox_like_qos1(broker, device, tmp_path):
    rec = Recorder(broker.port, "lean/q2", qos=2).start()
    px = FaultProxy(broker.port)
    try:
        p = device("outbox_qos2.py", px.port, str(tmp_path), 20)
        assert lines(p.stdout, "held") == ["10"] and lines(p.stdout, "done") == ["pending 0 outbox 0"], p.stdout
        msgs = rec.wait_for(lambda m: len(m) >= 20, 10)
    finally:
        rec.stop()
        px.close()
    assert sorted(int(m[1]) for m in msgs) == list(range(20)) and all(m[2] == 2 for m in msgs)
    assert px.count(UP, "PUBREL") == 20 and px.count(DOWN, "PUBCOMP") == 20
