"""The client on the chip it is for: real MicroPython rp2 firmware on an emulated RP2040
(host/chip.py), its network PPP over UART0 through slirp to a real Mosquitto on 127.0.0.1.

Runs when LEANMQTT_SILICON names a folder with the firmware and the bootrom (.ci/run points
it at ../shared/silicon); otherwise the whole module is skipped with the reason, in one line.
The emulator runs ~1100x slower than the unix port: device time is kept to seconds, and one
boot serves a module's tests where it can.
"""
import os
import time

import pytest

from conftest import ROOT, lines
from host import chip as chipmod
from host.broker import Mosquitto
from host.subscriber import Recorder, publish

_, _, WHY = chipmod.silicon()
if WHY:
    pytest.skip("chip tests skipped: " + WHY, allow_module_level=True)

pytestmark = pytest.mark.chip
SCRIPTS = os.path.join(ROOT, "tests", "device", "chip")


def script(name, *args):
    """A device script from tests/device/chip, with ARGS and HOST set before it."""
    with open(os.path.join(SCRIPTS, name)) as f:
        return "ARGS = %r\nHOST = %r\n" % (args, chipmod.HOST) + f.read()


@pytest.fixture(scope="module")
def chip():
    """One emulated RP2040 for the module: the built .mpy files and the board, PPP up."""
    c = chipmod.Chip(files=chipmod.built_files("rp2040_ppp"), pins=[22]).start()
    try:
        assert c.ppp_up() == "10.0.2.15"
        yield c
    finally:
        c.close()
    assert not c.watchdog_fired()


@pytest.fixture(scope="module")
def mbroker():
    b = Mosquitto().start()
    yield b
    b.close()


def test_connect_publish_subscribe_through_ppp(chip, mbroker):
    rec = Recorder(mbroker.port, "chip/#").start()
    publish(mbroker.port, "chip/in", b"from host", qos=1, retain=True)
    try:
        out = chip.exec(script("pubsub.py", mbroker.port), timeout=60)
        assert lines(out, "connack") == ["0"], out  # clean session: no session present
        msgs = rec.wait_for(lambda m: len([x for x in m if x[0] != "chip/in"]) >= 10, 10)
        msgs = [m for m in msgs if m[0] != "chip/in"]
    finally:
        rec.stop()
    assert [m[1] for m in msgs if m[0] == "chip/q0"] == [b"zero %d" % i for i in range(5)]
    assert [(m[1], m[2]) for m in msgs if m[0] == "chip/q1"] == [(b"one %d" % i, 1) for i in range(5)]
    # The host's retained message and our own QoS 1 echo came in.
    assert sorted(lines(out, "msg")) == ["chip/in echo", "chip/in from host"], out
    assert lines(out, "pending") == ["0"]
    log = mbroker.log()
    assert "as chip-pubsub" in log and "Received SUBSCRIBE from chip-pubsub" in log


def test_publish_and_poll_with_the_heap_locked(chip, mbroker):
    out = chip.exec(script("heaplock.py", mbroker.port, 20), timeout=90)
    assert lines(out, "ok") == ["0 0"], out  # nothing left unacked, no heap used
