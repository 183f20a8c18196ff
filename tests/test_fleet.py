"""tools/fleet.py, small: every QoS 1 reading from every device arrives, none lost."""
import os
import sys

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import fleet  # noqa: E402


def test_fleet_loses_no_qos1_reading():
    r = fleet.run(n=12, seconds=3, interval_ms=200)
    assert r["devices_heard"] == 12
    assert r["sent"] >= 12 * 3 * 5 * 0.8  # about 15 readings per device
    assert r["delivered"] == r["sent"] and r["lost"] == 0, r
    assert 0 < r["ram_per_device"] < 4096
