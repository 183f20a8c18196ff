"""Ceilings on leanmqtt's CPU cycles per operation on the emulated RP2040 (issue 14).

Cycle counts from rp2040js are deterministic (the same firmware and .mpy give the same count
to < 0.1%), so these are counts held under a ceiling, not timings. The loops are
tools/bench_chip_device.py's, read by tools/bench.py's chip_cycles(), the figures `make
bench` prints: topic 13 bytes, payload 32, in-memory streams, no network. Skipped, in one
line, without the firmware (LEANMQTT_SILICON) or the emulator.
"""
import os
import sys

import pytest

from conftest import ROOT
from host import mpy

try:
    from host import chip as chipmod

    _, _, WHY = chipmod.silicon()
except ImportError as e:  # the emulator harness is not in this tree
    WHY = str(e)
if WHY:
    pytest.skip("chip cycle ceilings skipped: " + WHY, allow_module_level=True)

pytestmark = pytest.mark.chip
sys.path.insert(0, ROOT)
from tools import bench  # noqa: E402
from tools.build import mpy_cross  # noqa: E402

# The QoS 0 and QoS 1 publish ceilings are umqtt.simple's own figures on the same firmware
# (27,517 and 49,637, the goal of issue 14: at most umqtt.simple's); the receive ceilings are
# the figures measured at stop 19 (the socket tested with `is None`: 52,772 and 57,648 at
# N = 50) plus 6%. The counts move with changes elsewhere in the module, not by timing: where
# its names fall in MicroPython's map cache, and where the heap's free blocks fall for the
# frames that do not fit the C stack. At stop 20 they measured 54,116 and 59,916: the
# receive path, its code unchanged, measured 51,832-55,469 cycles (QoS 0) in some 40 variants
# that only moved the module's names (a string more or less, a function placed or named
# otherwise), so the QoS 1 figure sits 1.8% under its ceiling.
CEILING = {"cycles_qos0": 27517, "cycles_qos1": 49637, "cycles_recv0": 56000, "cycles_recv1": 61000}


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("chipbench"))
    files = {
        "leanmqtt.mpy": os.path.join(mpy.built("rp2040_ppp"), "leanmqtt.mpy"),
        "bench_chip_device.mpy": mpy_cross(bench.CHIP_SCRIPT, os.path.join(d, "bench_chip_device.mpy")),
    }
    return bench.chip_cycles(chipmod.Chip, files, "leanmqtt", 50)


@pytest.mark.parametrize("what", sorted(CEILING))
def test_cycles_per_operation_stay_under_the_ceiling(figures, what):
    assert 0 < figures[what] <= CEILING[what], figures
