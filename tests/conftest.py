import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "device"))

from host import mpy  # noqa: E402
from host.broker import Mosquitto  # noqa: E402
from host.subscriber import Recorder  # noqa: E402

DEVICE_TESTS = os.path.join(ROOT, "tests", "device")


@pytest.fixture
def broker():
    b = Mosquitto().start()
    yield b
    b.close()


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

    def run(name, *args, heap=None, check=True, timeout=120):
        return mpy.run(script(name), args, heap=heap, check=check, timeout=timeout)

    return run


@pytest.fixture
def device_bg():
    """Starts tests/device/<name> in the background; killed at the end of the test."""
    procs = []

    def start(name, *args, heap=None):
        p = mpy.start(script(name), args, heap=heap)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
