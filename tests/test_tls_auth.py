"""TLS against Mosquitto's TLS listener (certificates made now), and authentication."""
import signal
import time

import pytest

from conftest import lines, script
from host import mpy
from host.broker import Mosquitto, free_port
from host.lines import Lines
from host.subscriber import Recorder
from host.tlscerts import tls_broker_config


@pytest.fixture
def tls_broker():
    b = Mosquitto(persistence=True)
    lines, ca, wrong = tls_broker_config(b.dir)
    b.plain_port = free_port()
    # The TLS listener first (the fixture's port), then a plain one for the host's recorder.
    b.extra = lines + "listener %d 127.0.0.1\n" % b.plain_port
    b.start()
    yield b, ca, wrong
    b.close()




def test_tls_verified_connect_publish_subscribe(tls_broker):
    b, ca, _ = tls_broker
    out = mpy.run(script("tls.py"), [b.port, ca, "localhost", "basic"], timeout=30).stdout
    assert lines(out, "connected")[0].startswith("True")
    assert lines(out, "echo") == ["[b'secret hello']"]
    assert "New client connected from 127.0.0.1" in b.log()


@pytest.mark.parametrize("case,host,want", [
    ("wrong CA", "localhost", "The certificate is not correctly signed by the trusted CA"),
    ("wrong host name", "127.0.0.1", "does not match"),
])
def test_tls_refuses_a_server_it_cannot_verify(tls_broker, case, host, want):
    b, ca, wrong = tls_broker
    t = time.monotonic()
    out = mpy.run(script("tls.py"), [b.port, wrong if case == "wrong CA" else ca, host, "basic"],
                  timeout=30).stdout
    assert time.monotonic() - t < 3 + 2  # within the connect timeout (3 s) and start-up
    refused = lines(out, "refused")
    assert refused and refused[0].startswith("ValueError") and want in refused[0], out
    assert lines(out, "connected") == ["False"]


def test_tls_with_reconnect_redoes_the_handshake_and_loses_nothing(tls_broker):
    b, ca, _ = tls_broker
    rec = Recorder(b.plain_port, "lean/seq", client_id="host-rec-tls", clean=False).start()
    time.sleep(1.2)  # the broker's autosave holds the subscriber's session
    p = mpy.start(script("tls.py"), [b.port, ca, "localhost", "resilient"])
    out = Lines(p)
    out.wait("connected True")
    time.sleep(0.3)
    b.restart(signal.SIGTERM, down=0.3)
    text = out.finish(timeout=60)
    assert "published 100 pending 0" in text, text
    assert int(text.split("reconnects ")[1].split()[0]) >= 1
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len({m[1] for m in rec.messages}) < 100:
        time.sleep(0.2)
    assert {int(m[1]) for m in rec.messages} == set(range(100))
    rec.stop()


def test_username_and_password(device):
    b = Mosquitto()
    b.add_user("alice", "right")
    with b:
        assert "accepted" in device("refused.py", b.port, "alice", "right").stdout
        out = device("refused.py", b.port).stdout  # anonymous, on a broker that wants users
        assert "refused 5 not authorized" in out


def test_a_refusal_after_reconnect_is_not_retried_in_a_tight_loop():
    b = Mosquitto()
    b.add_user("alice", "right")
    b.start()
    try:
        p = mpy.start(script("auth_retry.py"), [b.port, "alice", "right", 7])
        out = Lines(p)
        out.wait("connected True")
        b.add_user("alice", "changed")
        b.restart(signal.SIGTERM)  # the broker now refuses our password
        text = out.finish(timeout=30)
        refusals = [ln for ln in text.splitlines() if "mqtt: lost" in ln and "not authorized" in ln]
        attempts = int(lines(text, "reconnects")[0])
        assert refusals, text
        # Backoff 100 ms doubling would make 5 or more attempts in the ~6 s left; a refusal
        # waits the longest backoff (3 s) instead.
        assert 1 <= attempts <= 3, text
    finally:
        b.close()


def test_15_ssl_true_with_ssl_params_as_umqtt_simple_takes_them(tls_broker):
    b, ca, wrong = tls_broker
    out = mpy.run(script("tls_legacy.py"), [b.port, ca], timeout=30).stdout
    assert lines(out, "connected") == ["True"] and lines(out, "echo") == ["[b'legacy hello']"], out
    out = mpy.run(script("tls_legacy.py"), [b.port, wrong], timeout=30).stdout
    assert lines(out, "refused") and not lines(out, "connected"), out  # verified, not blind
