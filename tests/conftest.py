import os
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "device"))

from host import mpy  # noqa: E402
from host.broker import Mosquitto  # noqa: E402
from host.proxy import FaultProxy  # noqa: E402
from host.subscriber import Recorder  # noqa: E402

DEVICE_TESTS = os.path.join(ROOT, "tests", "device")


def pytest_collection_modifyitems(config, items):
    # Under pytest-xdist (make test: --dist loadgroup) a group runs in one worker, in order.
    # A file is a group: its module fixtures (a booted chip, a broker of each kind) are made
    # once, and what it builds on disk (Home Assistant's venv, the stubs) by one process.
    # The broker matrix is the longest file: one group per broker.
    for item in items:
        group = os.path.basename(str(item.fspath))
        if group == "test_interop.py" and hasattr(item, "callspec"):
            group += "-" + str(item.callspec.params.get("name"))
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def broker():
    b = Mosquitto().start()
    yield b
    b.close()


@pytest.fixture
def proxy(broker):
    """The fault proxy (host/proxy.py) between the device and the broker."""
    px = FaultProxy(broker.port)
    yield px
    px.close()


def blackhole_until_lost(proxy, out, ka, settle):
    """After `settle` s, the proxy swallows everything (no FIN, no RST: the link just goes
    silent); waits for the client's "mqtt: lost" line on `out` (host.lines.Lines) and checks
    it came within 1.5 keepalives of `ka` s (+0.3 s for the machine). Returns the line."""
    time.sleep(settle)
    proxy.set("blackhole")
    t0 = time.monotonic()
    t_lost, line = out.wait("mqtt: lost", timeout=10)
    assert t_lost - t0 <= 1.5 * ka + 0.3, (t_lost - t0, line)
    return line


def numbers(rec):
    """The reading numbers a Recorder got on lean/seq."""
    return {int(p) for t, p, q, r in rec.messages if t == "lean/seq"}


@pytest.fixture
def recorder(broker):
    started = []

    def make(topic="#", qos=1):
        r = Recorder(broker.port, topic, qos).start()
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()


def script(name):
    return os.path.join(DEVICE_TESTS, name)


@pytest.fixture
def device():
    """device(name, *args, heap=None, check=True): runs tests/device/<name> under the unix port."""

    def run(name, *args, heap=None, check=True, timeout=120, env=None):
        path = name if os.path.isabs(name) else script(name)
        return mpy.run(path, args, heap=heap, check=check, timeout=timeout, extra_env=env)

    return run


@pytest.fixture
def device_bg():
    """Starts tests/device/<name> in the background; killed at the end of the test."""
    procs = []

    def start(name, *args, heap=None, env=None):
        path = name if os.path.isabs(name) else script(name)
        p = mpy.start(path, args, heap=heap, extra_env=env)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def app_env(port, **kw):
    """The LEANMQTT_* settings that point device/main.py on the unix board at a broker."""
    e = {"LEANMQTT_BROKER": "127.0.0.1", "LEANMQTT_PORT": str(port)}
    for k, v in kw.items():
        e["LEANMQTT_" + k.upper()] = str(v)
    return e


def attach(c, a):
    """Hands the CPython client c the socket a as connect() would, without a broker: the
    stream wrapper, the poll object and the clocks connect() sets (tests that feed bytes
    from the other end of a socket pair)."""
    import select

    import leanmqtt

    c.sock = leanmqtt._Stream(a)
    c._p = select.poll()
    c._p.register(c.sock, 1)
    c._tx_t = c._rx_t = c._wt = c._due = leanmqtt.ticks_ms()


def lines(out, key):
    """What follows `key` on each line of out that starts with it."""
    return [ln.split(" ", 1)[1] if " " in ln else "" for ln in out.splitlines() if ln.split(" ")[0] == key]
