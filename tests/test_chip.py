"""The client on the chip it is for: real MicroPython rp2 firmware on an emulated RP2040
(host/chip.py), its network PPP over UART0 through slirp to a real Mosquitto on 127.0.0.1.

Runs when LEANMQTT_SILICON names a folder with the firmware and the bootrom (.ci/run points
it at ../shared/silicon); otherwise the whole module is skipped with the reason, in one line.
The emulator runs ~1100x slower than the unix port: device time is kept to seconds, and one
boot serves a module's tests where it can.
"""
import json
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
    assert not c.watchdog_fired(getattr(c, "fired_on_purpose", 0))


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
    chip.fired_on_purpose = chip.mark()  # the module's check looks past this one
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
        assert out.split() == ["0"], out
    finally:
        rec.stop()


# ---- device/main.py with boards/rp2040_ppp, from boot, as a user runs it

ADC_RAW = (876, 850)  # 12-bit readings of the temperature channel: 0.706 V (27 degC), then 2.7 K warmer
BME_RAW = ((415148, 519888, 30000), (400000, 530000, 35000))  # (adc_P, adc_T, adc_H)


def expected(adc12, p, t, h):
    """What a reading must say, from the datasheets' floating-point formulas."""
    from test_app import bme280_humidity_double, bme280_pressure_double, datasheet_bme280

    b = datasheet_bme280()
    b.temperature(t)  # sets t_fine, which the double formulas use
    u16 = adc12 << 4 | adc12 >> 8  # read_u16() scales the 12-bit result
    return {"cpu_c": 27 - (u16 * 3.3 / 65535 - 0.706) / 0.001721,
            "temp_c": b.t_fine / 5120.0, "hpa": bme280_pressure_double(b, p) / 100,
            "hum_pct": bme280_humidity_double(b, h)}


def close_to(reading, want):
    tol = {"cpu_c": 0.02, "temp_c": 0.011, "hpa": 0.011, "hum_pct": 0.15}
    return all(abs(reading[k] - want[k]) <= tol[k] for k in tol)


def test_the_app_reads_the_emulated_sensors_and_outlives_a_broker_restart():
    b = Mosquitto(persistence=True).start()
    rec = Recorder(b.port, "leanmqtt/chip/#", client_id="host-rec-chip", clean=False).start()
    time.sleep(1.2)  # the broker's autosave holds the recorder's session over the restart
    settings = ("BROKER = %r\nPORT = %d\nDEVICE_ID = 'chip'\nINTERVAL_MS = 400\nKEEPALIVE = 4\n"
                "QOS = 1\nINFLIGHT = 16\nWDT_MS = 6000\n" % (chipmod.HOST, b.port)).encode()
    files = dict(chipmod.built_files("rp2040_ppp", main=True), **{"settings.py": settings})
    chip = chipmod.Chip(files=files)
    readings = lambda m: [json.loads(x[1]) for x in m if x[0].endswith("/readings")]  # noqa: E731
    try:
        chip.start(repl=False)  # main.py runs from boot
        chip.command(cmd="adc", ch=4, v=ADC_RAW[0])
        msgs = rec.wait_for(lambda m: len(readings(m)) >= 3, 30)
        first = readings(msgs)
        assert first, chip.console.decode(errors="replace")
        assert all(close_to(r, expected(ADC_RAW[0], *BME_RAW[0])) for r in first), first
        assert b"online" in [x[1] for x in msgs if x[0].endswith("/status")]
        # New values on the emulated parts: the readings follow them.
        chip.command(cmd="adc", ch=4, v=ADC_RAW[1])
        chip.command(cmd="bme280", p=BME_RAW[1][0], t=BME_RAW[1][1], h=BME_RAW[1][2])
        want = expected(ADC_RAW[1], *BME_RAW[1])
        msgs = rec.wait_for(lambda m: sum(close_to(r, want) for r in readings(m)) >= 2, 20)
        assert sum(close_to(r, want) for r in readings(msgs)) >= 2, readings(msgs)[-3:]
        # Mosquitto restarts: the app redials within its watchdog (6 s; each blocking step
        # of a redial is bounded by 2 s), which never fires; the readings made meanwhile
        # wait in the QoS 1 store.
        n = len(readings(msgs))
        b.restart(down=1.5)
        msgs = rec.wait_for(lambda m: len(readings(m)) >= n + 10, 40)
        seqs = [r["seq"] for r in readings(msgs)]
        assert len(seqs) >= n + 10, chip.console.decode(errors="replace")[-2000:]
        assert sorted(set(seqs)) == list(range(min(seqs), max(seqs) + 1)), seqs  # none lost
        assert not chip.watchdog_fired(), chip.watchdog_fired()
        assert not chip.reports("reset")
        console = chip.console.decode(errors="replace")
        assert "ppp: connected as 10.0.2.15" in console and "app: device chip" in console
        assert "app: connected again" in console, console  # it did lose the broker
        assert any(v == 1 for v, _, _ in chip.edges(25))  # the LED came on
    finally:
        chip.close()
        rec.stop()
        b.close()


def test_ppp_that_never_comes_up_is_bounded_and_says_why():
    # No peer on the UART (no slirp): network_up() gives up after its timeout, and says why.
    chip = chipmod.Chip(files=chipmod.built_files("rp2040_ppp"), net=False).start()
    try:
        t = time.monotonic()
        out = chip.exec("import board, time\nt = time.ticks_ms()\nprint(board.network_up('', '', 1500))\n"
                        "print('ms', time.ticks_diff(time.ticks_ms(), t))", 30)
        wall = time.monotonic() - t
    finally:
        chip.close()
    assert "ppp: no link after 1500 ms: no answer from the peer" in out, out
    assert out.split()[-3] == "False", out
    ms = int(lines(out, "ms")[0])
    assert 1500 <= ms < 1800 and wall < 15, (ms, wall)
