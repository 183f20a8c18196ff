"""The benchmark's own device scripts still run against the client (the figures themselves
come from `make bench`, not from tests), and the module's import RAM (.mpy) stays under
its ceiling (issue 2's 10 KB once; see IMPORT_RAM_CEILING): a guard on RAM, not on time."""
import os

from conftest import ROOT, lines
from host import mpy

WORKLOAD = os.path.join(ROOT, "tools", "bench_workload.py")
DEVICE = os.path.join(ROOT, "tools", "bench_device.py")


# Issue 2's 10 KB no longer holds: QoS 2, the outbox hooks, the asyncio API's needs and issue
# 14's fast paths took the module to 11,680 B (2026-12-02, unix port); the receive path's
# rework and the diet of stop 18 brought it to 11,232 B, stop 19's to 10,720 B (10,816 B in
# the bench's run: the figure moves with the names interned before it, as MicroPython's qstr
# pools double when full and the text goes in 128 B chunks); stop 20's to 10,720 B here and
# 10,752 B in the bench's run. The ceiling is that plus 256 B, so that growth still fails here.
IMPORT_RAM_CEILING = 10720 + 256


def test_import_ram_of_the_mpy_stays_under_its_ceiling(broker):
    p = mpy.run(WORKLOAD, ["leanmqtt", broker.port, "import"], only=mpy.built(), timeout=30)
    ram = int(lines(p.stdout, "import_ram")[0])
    assert 4096 < ram <= IMPORT_RAM_CEILING, ram


# The smallest heap the workload ran in, bisected in 256 B steps: 17,920 B (2026-12-02, after
# the diet; 18,688 B before it, 16,896 B before issue 14's fast paths and the instance's
# attribute table made whole, 59 places, in __init__: see README). 1 KB more leaves room for
# the qstr pool's moods, and a client that grew by 1 KB would fail here first.
HEAP_CEILING = 17920 + 1024


def test_the_workload_runs_within_its_heap_ceiling(broker):
    p = mpy.run(WORKLOAD, ["leanmqtt", broker.port, "workload"], heap=str(HEAP_CEILING),
                only=mpy.built(), timeout=30, check=False)
    assert p.returncode == 0 and "ok" in p.stdout.split(), p.stderr


def test_the_alloc_measurement_sees_no_allocation(broker):
    p = mpy.run(DEVICE, ["leanmqtt", broker.port, "alloc"], only=mpy.built(), timeout=60)
    got = [lines(p.stdout, k) for k in ("alloc_qos0", "alloc_qos1", "alloc_qos2", "heap_lock")]
    assert got == [["0"], ["0"], ["0"], ["ok"]], p.stdout


def test_the_chip_bench_script_runs_its_loops_on_the_unix_port():
    # bench_chip_device.py's in-memory streams: each timed loop must read all it was given
    # (the script checks it and raises), so a loop that did nothing cannot pass for fast.
    script = os.path.join(ROOT, "tools", "bench_chip_device.py")
    p = mpy.run(script, ["leanmqtt", "cycles", 40], only=mpy.built(), timeout=30)
    assert lines(p.stdout, "done") == ["40"], p.stdout
    assert 4096 < int(lines(p.stdout, "import_ram")[0]) and int(lines(p.stdout, "client_ram")[0]) > 0
    p = mpy.run(script, ["leanmqtt", "workload"], only=mpy.built(), timeout=30)
    assert "ok" in p.stdout.split() and int(lines(p.stdout, "free")[0]) > 0, p.stdout


def floor_dir(tmp_path):
    # tools/bench_floor.py as the module `floor`, alone, as the bench runs it
    d = tmp_path / "floor"
    d.mkdir()
    with open(os.path.join(ROOT, "tools", "bench_floor.py")) as f:
        (d / "floor.py").write_text(f.read())
    return str(d)


def test_the_floor_runs_the_chip_bench_loops_on_the_unix_port(tmp_path):
    # The same loops as the clients': the script raises if a receive loop delivered fewer
    # messages than it was given, or left bytes unread, so a floor that skipped work fails.
    script = os.path.join(ROOT, "tools", "bench_chip_device.py")
    p = mpy.run(script, ["floor", "cycles", 40], only=floor_dir(tmp_path), timeout=30)
    assert lines(p.stdout, "done") == ["40"], p.stdout


def test_the_floor_publishes_to_a_real_broker_and_reads_its_pubacks(broker, tmp_path):
    # bench_device.py's rates with the floor: Mosquitto accepts its CONNECT (else "refused")
    # and acks its QoS 1 packets (else the raw ping-pong after it reads a PUBLISH ack that
    # is not a PUBACK, or waits: the timeout fails it).
    p = mpy.run(DEVICE, ["floor", broker.port, "rates", 400], only=floor_dir(tmp_path), timeout=60)
    for k in ("qos0_rate", "qos0_raw_rate", "qos1_rate", "qos1_raw_rate"):
        assert int(lines(p.stdout, k)[0]) > 0, p.stdout


def test_the_import_ram_moves_with_the_names_made_before_it():
    # bench_import.py: the names it makes first are real qstrs, so the qstr pools' doubling
    # shows: over 0-248 names the figures differ (by a pool, KBs), and none is a failed run.
    script = os.path.join(ROOT, "tools", "bench_import.py")
    got = []
    for k in range(0, 256, 8):
        p = mpy.run(script, ["leanmqtt", k], only=mpy.built(), timeout=30)
        got += [int(v) for v in lines(p.stdout, "import_ram")]
    assert len(got) == 32 and min(got) > 4096, got
    assert max(got) - min(got) > 1024, got  # the same .mpy, up to a pool apart
