"""The outbox (device/outbox.py) alone: its unit tests under the unix port, and the same files
read by the same module on CPython (the host's consistency check in the kill tests)."""
import os
import sys

import pytest

from conftest import ROOT, lines

sys.path.insert(0, os.path.join(ROOT, "device"))
import outbox  # noqa: E402

UNIT = ["order_and_reset", "rotation", "refuse", "drop_oldest", "latest", "torn", "torn_copy",
        "heap_lock", "rotation_heap", "fs_error"]


@pytest.mark.parametrize("name", UNIT)
def test_outbox_unit(name, device, tmp_path):
    p = device("outbox_unit.py", str(tmp_path), name)
    assert lines(p.stdout, "ok") == [name], p.stdout
    if name == "torn":
        assert lines(p.stdout, "torn") == ["cases 84 offsets 28"], p.stdout


def test_crc16_is_ccitt():
    # CRC-16/CCITT-FALSE's check value (and CPython's binascii agrees)
    import binascii

    assert outbox.crc16(b"123456789", 0, 9) == 0x29B1 == binascii.crc_hqx(b"123456789", 0xFFFF)


def packet(topic, msg, qos=1):
    tl = len(topic)
    b = bytearray(3) + bytes([0x30 | qos << 1, 4 + tl + len(msg)]) + bytes([0, tl]) + topic + b"\0\0" + msg
    return b, (len(b) - 3) << 2 | 3


def test_files_written_on_micropython_are_read_on_cpython_and_back(device, tmp_path):
    p = str(tmp_path / "x")
    ob = outbox.Outbox(p, 2048)
    for i in range(40):
        assert ob.put(*packet(b"cpy", b"%d" % i))
    buf = bytearray(64)
    for _ in range(30):  # rotations happen meanwhile
        assert ob.take(buf)
        ob.ack()
    ob.close()
    out = device("outbox_dump.py", p, 2048).stdout
    assert lines(out, "msg") == ["cpy %d" % i for i in range(30, 40)], out
    ob = outbox.Outbox(p, 2048)  # what MicroPython wrote (it acked 5 more), read here
    assert ob.count == 5


def test_flash_written_per_reading_on_littlefs_stays_within_its_ceiling():
    # MicroPython's own littlefs over a counting RAM block device (tools/bench_outbox.py
    # prints the figures): deterministic, so held here with some room. Writing over old
    # bytes instead of an emptied file cost 10.8 KB a reading.
    from host import mpy

    p = mpy.run(os.path.join(ROOT, "tools", "bench_outbox_device.py"), [400], timeout=120)
    r = dict(ln.split(" ", 1) for ln in p.stdout.splitlines())
    assert int(r["acked_prog"]) <= 3500 and int(r["acked_erase_milli"]) <= 1300, r
    assert int(r["stored_prog"]) <= 3500 and int(r["wake_prog"]) <= 6500, r


def test_bench_outbox_runs():
    # the figures come from `make bench-outbox`; here only that it still runs
    import subprocess

    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bench_outbox.py"), "--n", "200",
                        "--wakes", "2"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "| sent and acknowledged (put, take, ack) |" in p.stdout, p.stdout
    assert "wake to PUBACK" in p.stdout, p.stdout
