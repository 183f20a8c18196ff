# The codec on the unix port: prints what the host compares with CPython's answers.
from leanmqtt import _header, _check_topic

buf = bytearray(16)
for rl in (0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455):
    i = _header(buf, 0x30, rl)
    print("hdr", rl, bytes(buf[i:5]).hex())
try:
    _header(buf, 0x30, 268435456)
    print("hdr-too-large", "accepted")
except ValueError:
    print("hdr-too-large", "ValueError")
for t, f in (
    (b"a/b", 0), (b"a/+", 0), (b"a/#", 0), (b"", 0), (b"a\x00b", 0),
    (b"a/+", 1), (b"a/#", 1), (b"#", 1), (b"+", 1), (b"a+/b", 1), (b"a/#/b", 1), (b"a/b#", 1),
    (b"+/+/#", 1), (b"a/+b", 1), (b"/", 1),
):
    try:
        _check_topic(t, f, 0, -1)
        print("topic", t.hex(), f, "ok")
    except ValueError:
        print("topic", t.hex(), f, "ValueError")
