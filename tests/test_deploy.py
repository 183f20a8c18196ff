"""Deployment on a virtual board: make deploy over a pty, mpremote ls, a reset runs main.py."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, app_env
from host.lines import Lines

MPREMOTE = [sys.executable, "-m", "mpremote", "connect"]


@pytest.fixture
def vboard(broker, tmp_path):
    fs = tmp_path / "fs"
    env = dict(os.environ, **app_env(broker.port, interval_ms=100, cycles=5))
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "vboard.py"), "--fs", str(fs)],
                         stdout=subprocess.PIPE, text=True, env=env)
    out = Lines(p)
    _, path = out.wait("/dev/pts/", timeout=10)
    yield path.strip(), fs
    p.terminate()
    p.wait(10)


def mpremote(port, *args, timeout=60):
    return subprocess.run(MPREMOTE + [port] + list(args), capture_output=True, text=True, timeout=timeout)


def test_make_deploy_then_reset_runs_main_which_publishes(broker, recorder, vboard):
    port, fs = vboard
    rec = recorder("leanmqtt/#")
    d = subprocess.run(["make", "-s", "deploy", "BOARD=unix", "PORT=" + port], cwd=ROOT,
                       capture_output=True, text=True, timeout=180)
    assert d.returncode == 0, d.stdout + d.stderr
    assert "files on the unix board" in d.stdout
    ls = mpremote(port, "ls", ":")
    assert ls.returncode == 0, ls.stderr
    listed = set(ls.stdout.split())
    for name in ("leanmqtt.mpy", "main.py", "board.mpy", "config.mpy", "reading.mpy", "bme280.mpy"):
        assert name in listed, ls.stdout
    assert (fs / "leanmqtt.mpy").read_bytes()[:1] == b"M"  # an .mpy, not the source
    assert not (fs / "leanmqtt.py").exists()
    r = mpremote(port, "reset")
    assert r.returncode == 0, r.stderr
    msgs = rec.wait_for(lambda m: sum(1 for x in m if x[0].endswith("/readings")) >= 5, timeout=30)
    readings = [json.loads(m[1]) for m in msgs if m[0].endswith("/readings")]
    assert [x["seq"] for x in readings] == [1, 2, 3, 4, 5]
    # The id comes from machine.unique_id(), as on a board: the virtual board's is "vboard".
    assert {m[0] for m in msgs} == {"leanmqtt/76626f617264/readings", "leanmqtt/76626f617264/status"}


def test_mip_installs_the_single_module_from_package_json(vboard):
    port, fs = vboard
    # On a board mip finds /lib on sys.path; the unix port has none, so it is named.
    r = mpremote(port, "mip", "install", "--target", "lib", os.path.join(ROOT, "package.json"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert (fs / "lib" / "leanmqtt.py").read_bytes() == open(os.path.join(ROOT, "device", "leanmqtt.py"), "rb").read()
