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
from host.proxy import FaultProxy
from host.subscriber import Recorder, publish
from host.tlscerts import tls_broker_config

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


def test_tcp_nodelay_is_really_set_on_lwip(chip, mbroker):
    # A QoS 0 then a QoS 1 PUBLISH back to back: with Nagle on, the second waits for the
    # peer's delayed ACK. connect() must switch Nagle off by the module's constant (64 on
    # rp2); the literal 1 it used to pass is ignored by lwIP.
    out = chip.exec(script("nodelay.py", mbroker.port, 8), timeout=60)
    assert lines(out, "TCP_NODELAY") == ["64"]
    fast = int(lines(out, "as_connected")[0])
    nagle = int(lines(out, "nagle_on")[0])
    old = int(lines(out, "old_option")[0])
    assert lines(out, "pending") == ["0 reconnects 0"], out
    # Device us per round. Nagle on costs a delayed ACK per round (tens of ms); the old
    # option does not switch it off.
    assert nagle > 2 * fast and old > 2 * fast, out


def test_dead_link_found_and_recovered_with_nothing_lost(chip, mbroker):
    proxy = FaultProxy(mbroker.port)
    rec = Recorder(mbroker.port, "chip/seq").start()
    ka, count = 2, 40
    try:
        chip.spawn(script("deadlink.py", proxy.port, ka, count, 100))
        chip.expect("connected True", 20)
        time.sleep(1.0)
        proxy.set("blackhole")  # no FIN, no RST: the link goes silent
        t0 = time.monotonic()
        chip.expect("mqtt: lost", 3 * ka + 5)
        found = time.monotonic() - t0
        proxy.set("pass")
        out = chip.finish(90)
        msgs = rec.wait_for(lambda m: len({x[1] for x in m}) >= count, 15)
    finally:
        rec.stop()
        proxy.close()
    # Found by the keepalive: within 1.5 keepalives of device time, which runs at about
    # wall speed here (margin for the emulator's load).
    assert found < 1.5 * ka + 3, found
    assert lines(out, "published") and lines(out, "published")[0].startswith("%d " % count), out
    assert lines(out, "done") == ["pending 0 reconnects %s" % lines(out, "done")[0].split()[-1]]
    assert int(lines(out, "done")[0].split()[-1]) >= 1, out  # it redialled
    got = {int(m[1]) for m in msgs}
    assert got == set(range(count)), sorted(set(range(count)) - got)  # nothing lost


@pytest.fixture(scope="module")
def tls_broker():
    b = Mosquitto()
    conf, ca, wrong = tls_broker_config(b.dir, ip=chipmod.HOST)
    b.extra = conf
    b.start()
    with open(ca, "rb") as f, open(wrong, "rb") as g:
        yield b, f.read(), g.read()
    b.close()


def rtc_now():
    t = time.gmtime()
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_wday, t.tm_hour, t.tm_min, t.tm_sec, 0)


def test_tls_verified_and_a_wrong_ca_refused(chip, tls_broker):
    b, ca, wrong = tls_broker
    out = chip.exec(script("tls.py", b.port, ca, rtc_now()), timeout=120)
    assert lines(out, "connected")[0].startswith("True"), out
    assert lines(out, "echo") == ["[b'secret hello']"], out
    out = chip.exec(script("tls.py", b.port, wrong, rtc_now()), timeout=120)
    refused = lines(out, "refused")
    assert refused and "not correctly signed by the trusted CA" in refused[0], out
    assert lines(out, "connected") == ["False"]


def test_a_watchdog_firing_is_reported(chip):
    # The harness's side of "the watchdog never fired": a WDT left unfed is seen, and the
    # chip boots again, as a real one would.
    m = chip.mark()
    chip.spawn("import machine, time\nw = machine.WDT(timeout=300)\nprint('armed')\ntime.sleep(2)")
    chip.expect("armed", 10)
    r = chip.rebooted(m, 20)
    assert r["ev"] == "watchdog" and chip.watchdog_fired()
    chip.events = [e for e in chip.events if e["ev"] != "watchdog"]  # seen: not a failure
    assert chip.ppp_up() == "10.0.2.15"


def test_will_after_a_reset(chip, mbroker):
    # Last in the module: the chip resets (machine.reset(), the watchdog's forced reboot),
    # with no DISCONNECT; the broker publishes the will, and the chip boots again.
    rec = Recorder(mbroker.port, "chip/status").start()
    try:
        m = chip.mark()
        chip.spawn(script("will.py", mbroker.port))
        chip.expect("resetting", 30)
        assert chip.rebooted(m, 30)["ev"] == "reset"
        msgs = rec.wait_for(lambda m: [x[1] for x in m][-1:] == [b"offline"], 10)
        assert [x[1] for x in msgs] == [b"online", b"offline"], msgs
        assert "Received DISCONNECT from chip-will" not in mbroker.log()
        # The chip is back: PPP up again, and the broker reachable again.
        assert chip.ppp_up() == "10.0.2.15"
        out = chip.exec("from leanmqtt import MQTTClient\nc = MQTTClient('chip-back', %r, %d)\n"
                        "print(c.connect())\nc.disconnect()" % (chipmod.HOST, mbroker.port), 30)
        assert out.split() == ["0"] or out.split() == ["False"], out
    finally:
        rec.stop()
