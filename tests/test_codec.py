"""The codec: the same answers from CPython and from the MicroPython unix port."""
import pytest
from hypothesis import given, strategies as st

import leanmqtt
from host.peer import RecordingPeer
from leanmqtt import _check_topic, _header


def decode_length(b):
    # An independent reading of MQTT-2.2.3's remaining length, for checking ours.
    n, mult = 0, 1
    for i, x in enumerate(b):
        n += (x & 127) * mult
        mult *= 128
        if not x & 128:
            return n, i + 1
    raise ValueError


@given(st.integers(min_value=0, max_value=268435455))
def test_remaining_length_round_trips(rl):
    buf = bytearray(8)
    i = _header(buf, 0x30, rl)
    assert buf[i] == 0x30
    n, used = decode_length(buf[i + 1 : 5])
    assert (n, used) == (rl, 4 - i)  # it ends at offset 5, in the fewest bytes
    assert used == (1 if rl < 128 else 2 if rl < 16384 else 3 if rl < 2097152 else 4)


def test_remaining_length_above_the_maximum_is_refused():
    with pytest.raises(ValueError):
        _header(bytearray(8), 0x30, 268435456)


def cpython_codec_lines():
    out = []
    buf = bytearray(16)
    for rl in (0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455):
        i = _header(buf, 0x30, rl)
        out.append("hdr %d %s" % (rl, bytes(buf[i:5]).hex()))
    out.append("hdr-too-large ValueError")
    cases = [(b"a/b", 0), (b"a/+", 0), (b"a/#", 0), (b"", 0), (b"a\x00b", 0),
             (b"a/+", 1), (b"a/#", 1), (b"#", 1), (b"+", 1), (b"a+/b", 1), (b"a/#/b", 1), (b"a/b#", 1),
             (b"+/+/#", 1), (b"a/+b", 1), (b"/", 1)]
    for t, f in cases:
        try:
            _check_topic(t, f, 0, -1)
            r = "ok"
        except ValueError:
            r = "ValueError"
        out.append("topic %s %d %s" % (t.hex(), f, r))
    return out


def test_codec_agrees_on_both_runtimes(device):
    assert device("codec.py").stdout.splitlines() == cpython_codec_lines()


def test_known_encodings():
    lines = cpython_codec_lines()
    assert "hdr 0 3000" in lines
    assert "hdr 128 30" + "8001" in lines
    assert "hdr 268435455 30ffffff7f" in lines
    ok = {ln.split()[1]: ln.split()[3] for ln in lines if ln.startswith("topic") and ln.split()[2] == "1"}
    assert ok[b"+/+/#".hex()] == "ok" and ok[b"a+/b".hex()] == "ValueError" and ok[b"a/#/b".hex()] == "ValueError"


def test_each_packet_leaves_in_one_write(monkeypatch):
    # CPython runs the same file; count the writes its stream layer makes.
    writes = []
    real = leanmqtt._Stream.write

    def counting(self, b, off, n):
        writes.append(n)
        return real(self, b, off, n)

    monkeypatch.setattr(leanmqtt._Stream, "write", counting)
    srv = RecordingPeer()
    c = leanmqtt.MQTTClient("cpy", "127.0.0.1", srv.port, keepalive=30)
    c.connect()
    assert len(writes) == 1  # CONNECT
    del writes[:]
    c.publish(b"a/b", b"x" * 32)
    c.publish("a/b", "y" * 32, qos=1)
    assert writes == [2 + 3 + 2 + 32, 2 + 3 + 2 + 2 + 32]
    del writes[:]
    c.publish(b"a/b", b"z" * 300)  # larger than the 128-byte buffer: header, then payload
    assert writes == [3 + 2 + 3, 300]  # 2-byte remaining length: header is 3 bytes
    c.disconnect()
