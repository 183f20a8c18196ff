"""The outbox on the chip it is for (host/chip.py: real rp2 firmware in rp2040js). rp2040js does
not emulate flash programming, so the outbox's files are on the firmware's littlefs over a
block device in RAM; the client publishes through it over PPP to a real Mosquitto."""
import os

import pytest

from conftest import ROOT, lines
from host import chip as chipmod
from host.broker import Mosquitto
from host.subscriber import Recorder

_, _, WHY = chipmod.silicon()
if WHY:
    pytest.skip("chip tests skipped: " + WHY, allow_module_level=True)

pytestmark = pytest.mark.chip


def test_outbox_on_the_chip_stores_offline_then_delivers_in_order():
    b = Mosquitto().start()
    rec = Recorder(b.port, "chip/ob").start()
    c = chipmod.Chip(files=chipmod.built_files("rp2040_ppp")).start()
    try:
        assert c.ppp_up() == "10.0.2.15"
        with open(os.path.join(ROOT, "tests", "device", "chip", "outbox.py")) as f:
            code = "ARGS = %r\nHOST = %r\n" % ((b.port, 20), chipmod.HOST) + f.read()
        out = c.exec(code, timeout=240)
        msgs = rec.wait_for(lambda m: len({x[1] for x in m}) >= 50, 15)
    finally:
        c.close()
        rec.stop()
        b.close()
    print(out)
    assert lines(out, "held") == ["10"] and lines(out, "pending") == ["0"], out
    got = [int(m[1]) for m in msgs]
    assert sorted(set(got)) == list(range(50)), got
    assert got[:30] == sorted(got[:30])  # the ten stored offline first, then the rest in order
    assert int(lines(out, "import_ram")[0]) <= 6656, out  # 32-bit: the .mpy's import RAM
