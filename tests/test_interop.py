"""The broker matrix (tools/interop.py): every scenario against every broker users run,
each started here on a free loopback port. A broker's known limitation is the expected
outcome, with the version it was seen on: a broker that changes, a fix included, fails
its test until KNOWN says what it does now. `make interop` prints the same as a table."""
import pytest

from conftest import ROOT  # noqa: F401  (puts the project on sys.path)
from tools import interop

CASES = [(b, f) for b in interop.MATRIX for f in interop.SCENARIOS]
_running = {}


@pytest.fixture(scope="module")
def brokers():
    """One broker of each kind at a time, started on first use and stopped when the next
    kind is wanted (the cases are ordered by broker): RabbitMQ takes 10 s to start."""

    def get(name):
        if name not in _running:
            for other in list(_running):
                _running.pop(other).close()
            _running[name] = interop.start(name)
        return _running[name]

    yield get
    for other in list(_running):
        _running.pop(other).close()


@pytest.mark.parametrize("name,fn", CASES, ids=["%s-%s" % (b, f.__name__) for b, f in CASES])
def test_broker_matrix(brokers, name, fn):
    b = brokers(name)
    seen = interop.run_one(b, fn)
    problem = interop.check(b, fn.__name__, seen)
    assert problem is None, problem


def test_a_fixed_limitation_or_a_new_version_is_reported():
    # check() must not pass a broker that stopped showing its known limitation, nor one
    # whose version is not the one the limitation was seen on.
    class B:
        name, version = "rabbitmq", "3.10.8"

    assert interop.check(B, "retained_wildcard", "got 0 connected True") is None
    assert "fixed" in interop.check(B, "retained_wildcard", "ok")
    assert "saw" in interop.check(B, "retained_wildcard", "got 2 connected True")
    assert "saw" in interop.check(B, "qos1_out", "got 3")
    B.version = "3.11.0"
    assert "check it again" in interop.check(B, "retained_wildcard", "got 0 connected True")
