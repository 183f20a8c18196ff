"""The device app on the unix board, its sensor math, and its config checks."""
import json
import os
import sys

from conftest import ROOT, app_env, lines

sys.path.insert(0, os.path.join(ROOT, "device"))
from bme280 import BME280  # noqa: E402
from chiptemp import fahrenheit_centi, rp2040_centi  # noqa: E402
from reading import Payload  # noqa: E402

MAIN = os.path.join(ROOT, "device", "main.py")


class Calibrated(BME280):
    def __init__(self):  # no chip: the calibration is set by hand
        pass


def datasheet_bme280():
    # The worked example of Bosch's BMP280 datasheet (BST-BMP280-DS001, section 3.12),
    # whose temperature and pressure compensation the BME280 shares.
    b = Calibrated()
    b.T1, b.T2, b.T3 = 27504, 26435, -1000
    b.P1, b.P = 36477, [-10685, 3024, 2855, 140, -7, 15500, -14600, 6000]
    b.H1, b.H2, b.H3, b.H4, b.H5, b.H6 = 75, 362, 0, 324, 50, 30
    return b


def bme280_pressure_double(b, adc_p):
    # The datasheet's floating-point pressure formula, as an independent check.
    P2, P3, P4, P5, P6, P7, P8, P9 = b.P
    var1 = b.t_fine / 2.0 - 64000.0
    var2 = var1 * var1 * P6 / 32768.0
    var2 = var2 + var1 * P5 * 2.0
    var2 = var2 / 4.0 + P4 * 65536.0
    var1 = (P3 * var1 * var1 / 524288.0 + P2 * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * b.P1
    p = 1048576.0 - adc_p
    p = (p - var2 / 4096.0) * 6250.0 / var1
    var1 = P9 * p * p / 2147483648.0
    var2 = p * P8 / 32768.0
    return p + (var1 + var2 + P7) / 16.0


def test_bme280_matches_the_datasheet_example():
    b = datasheet_bme280()
    assert b.temperature(519888) == 2508  # 25.08 degC, as the datasheet's example
    assert b.t_fine == 128422
    p = b.pressure(415148) / 256  # Pa from Q24.8
    # The example prints 100653.27 Pa, computed with rounded intermediate values.
    double = bme280_pressure_double(b, 415148)
    assert abs(double - 100653.27) < 0.02
    assert abs(p - double) < 0.01  # the integer formula agrees with the double one
    assert int(p) == 100653


def bme280_humidity_double(b, adc_h):
    # The datasheet's floating-point humidity formula (section 8.1), as an independent check.
    var_h = b.t_fine - 76800.0
    var_h = (adc_h - (b.H4 * 64.0 + b.H5 / 16384.0 * var_h)) * (
        b.H2 / 65536.0 * (1.0 + b.H6 / 67108864.0 * var_h * (1.0 + b.H3 / 67108864.0 * var_h)))
    var_h = var_h * (1.0 - b.H1 * var_h / 524288.0)
    return min(max(var_h, 0.0), 100.0)


def test_bme280_humidity_integer_formula_agrees_with_the_double_one():
    b = datasheet_bme280()
    b.temperature(519888)
    for adc in (20000, 25000, 30000, 35000):
        assert abs(b.humidity(adc) / 1024 - bme280_humidity_double(b, adc)) < 0.05


def test_bme280_reads_calibration_and_registers_over_i2c():
    # A fake I2C bus holding the datasheet's calibration, little-endian as on the chip.
    import struct

    regs = {0x88: struct.pack("<HhhHhhhhhhhh", 27504, 26435, -1000, 36477, -10685, 3024,
                              2855, 140, -7, 15500, -14600, 6000) + b"\x00\x4b",
            0xE1: struct.pack("<hB", 362, 0) + bytes([324 >> 4, (324 & 15) | (50 & 15) << 4, 50 >> 4, 30]),
            0xF7: bytes([415148 >> 12, (415148 >> 4) & 255, (415148 & 15) << 4,
                         519888 >> 12, (519888 >> 4) & 255, (519888 & 15) << 4, 30000 >> 8, 30000 & 255])}

    class Bus:
        writes = []

        def readfrom_mem_into(self, addr, reg, buf):
            buf[:] = regs[reg][: len(buf)]

        def writeto_mem(self, addr, reg, data):
            self.writes.append((reg, bytes(data)))

    bus = Bus()
    b = BME280(bus)
    assert (b.H1, b.H2, b.H4, b.H5, b.H6) == (75, 362, 324, 50, 30)
    assert (0xF4, b"\x27") in bus.writes
    assert b.temp_c() == 2508 and b.hpa() == 100653
    assert abs(b.hum_pct() / 10 - bme280_humidity_double(b, 30000)) < 0.15


def test_chip_temperatures():
    for raw in range(12000, 16001, 250):  # the datasheet's formula, in floats
        want = 27 - (raw * 3.3 / 65535 - 0.706) / 0.001721
        assert abs(rp2040_centi(raw) / 100 - want) <= 0.02
    assert abs(rp2040_centi(14020) - 2700) <= 2  # 0.706 V is 27 degC
    assert rp2040_centi(13000) > 2700 > rp2040_centi(15000)  # falls as the voltage rises
    assert fahrenheit_centi(212) == 10000 and fahrenheit_centi(-40) == -4000


def test_payload_is_fixed_length_json():
    p = Payload([("seq", 10, 0), ("t", 8, 2), ("h", 6, 1)])
    n = len(p.buf)
    cases = [((1, 2508, 451), (1, 25.08, 45.1)),
             ((-3, -5, None), (-3, -0.05, None)),
             ((10**10, 0, 99999), (None, 0.0, 9999.9)),
             ((0, -123456, 0), (0, -1234.56, 0.0)),
             ((123456789, -1234567, -10000), (123456789, None, None))]
    for vals, want in cases:
        for i, v in enumerate(vals):
            p.put(i, v)
        assert len(p.buf) == n  # always the same length: the buffer is the message
        d = json.loads(bytes(p.buf))
        assert [d["seq"], d["t"], d["h"]] == list(want), bytes(p.buf)
    p.put(1, 5)
    assert b'"t":    0.05' in p.buf


def test_sensor_math_agrees_on_both_runtimes(device):
    out = device("sensor_math.py").stdout.splitlines()
    b = datasheet_bme280()
    assert out[0] == "T %d %d" % (b.temperature(519888), b.t_fine)
    assert out[1] == "P %d" % b.pressure(415148)
    assert out[2] == "H %d" % b.humidity(30000)
    assert out[3] == "rp2040 %d %d %d" % (rp2040_centi(14022), rp2040_centi(13000), rp2040_centi(0))
    assert out[4] == "F %d %d %d" % (fahrenheit_centi(212), fahrenheit_centi(32), fahrenheit_centi(-40))
    p = Payload([("a", 6, 0), ("b", 7, 2), ("c", 5, 1)])
    for line, vals in zip(out[5:], ((1, 2508, -5), (-99999, 0, 99999), (123456, -1, None))):
        for i in range(3):
            p.put(i, vals[i])
        assert line == "payload " + bytes(p.buf).decode()


def test_app_cycle_runs_with_the_heap_locked(broker, device):
    out = device("app_heaplock.py", 200, env=app_env(broker.port)).stdout
    ok = [ln for ln in out.splitlines() if ln.startswith("ok ")]
    assert ok and ok[0].split()[1:] == ["201", "0", "0"], out


def test_app_publishes_birth_readings_and_goes_on_past_a_failing_sensor(broker, recorder, device):
    rec = recorder("leanmqtt/#")
    out = device(MAIN, env=app_env(broker.port, interval_ms=50, cycles=12, fail_every=4)).stdout
    assert "sensor hum_pct failed" in out and "done 12 readings" in out
    msgs = rec.wait_for(lambda m: sum(1 for x in m if x[0].endswith("/readings")) >= 12)
    status = [m[1] for m in msgs if m[0] == "leanmqtt/unix0/status"]
    assert status[0] == b"online" and status[-1] == b"offline"
    readings = [json.loads(m[1]) for m in msgs if m[0] == "leanmqtt/unix0/readings"]
    assert [r["seq"] for r in readings] == list(range(1, 13))
    assert [r["hum_pct"] is None for r in readings].count(True) == 3  # reads 4, 8, 12
    assert readings[-1]["errors"] == 3
    assert all(40 <= r["cpu_c"] < 45 for r in readings)


def test_app_will_says_offline_when_the_device_dies(broker, recorder, device_bg):
    rec = recorder("leanmqtt/+/status")
    p = device_bg(MAIN, env=app_env(broker.port, interval_ms=100, keepalive=2))
    rec.wait_for(lambda m: [x[1] for x in m] == [b"online"])
    p.kill()  # the process dies with its socket open: no DISCONNECT
    msgs = rec.wait_for(lambda m: len(m) >= 2, timeout=10)
    assert [m[1] for m in msgs] == [b"online", b"offline"]


def test_missing_settings_give_a_clear_message_not_a_traceback(device):
    p = device(MAIN, env={"LEANMQTT_BROKER": "", "LEANMQTT_PORT": "70000"}, check=False)
    assert p.returncode == 0
    assert "config: BROKER is empty" in p.stdout
    assert "config: PORT must be a number from 1 to 65535" in p.stdout
    assert "Traceback" not in p.stdout + p.stderr


def test_git_ignores_the_settings_file_that_holds_secrets():
    import subprocess

    r = subprocess.run(["git", "check-ignore", "-q", "device/settings.py"], cwd=ROOT)
    assert r.returncode == 0, "device/settings.py (Wi-Fi and broker secrets) must be ignored by git"


def test_bme280_sensors_are_offered_only_when_the_chip_answers():
    import bme280

    class NoChip:
        def readfrom_mem_into(self, addr, reg, buf):
            raise OSError(19)  # ENODEV, as an I2C read with no device gives

    assert bme280.sensors(NoChip()) == []


def test_wifi_joins_and_reconnects_stay_within_the_watchdog(device):
    # A join may take 15 s and the watchdog bites after 8: the join feeds it; and the
    # client's two blocking steps of a reconnect (TCP connect, CONNACK) fit in it.
    out = device("wifi_watchdog.py", env=app_env(1)).stdout
    refused, joined = [ln.split() for ln in out.splitlines() if ln.startswith("join")]
    assert refused[1] == "False" and 950 <= int(refused[7]) < 1500, out
    assert "wifi: wrong password" in out
    assert joined[1] == "True" and 550 <= int(joined[7]) < 1000, out
    for r in (refused, joined):
        assert int(r[3]) >= 2 and int(r[5]) <= 400, out  # fed at least every ~200 ms
    assert lines(out, "net_up") == ["True fed 1"]
    timeout_ms, wdt_ms = map(int, lines(out, "timeout_ms")[0].split()[::2])
    assert 2 * timeout_ms < wdt_ms, out


def test_16_an_outage_past_the_store_is_told_and_nothing_promised_is_lost(device_bg):
    # Issue 11, item 16. The app reconnects within 1.5 intervals of the broker's return
    # (its backoff capped at the interval, not 30 s), keeps a refused reading for the next
    # cycle, logs and counts each reading lost, and says how many were resent.
    import signal
    import time

    from host.broker import Mosquitto
    from host.lines import Lines
    from host.subscriber import Recorder

    b = Mosquitto(persistence=True).start()
    try:
        rec = Recorder(b.port, "leanmqtt/+/readings", client_id="host-app", clean=False).start()
        time.sleep(1.2)  # the broker's autosave holds the subscriber's session
        interval, inflight, cycles = 400, 4, 30
        out = Lines(device_bg(MAIN, env=app_env(b.port, interval_ms=interval, inflight=inflight,
                                                keepalive=2, cycles=cycles)))
        out.wait("publishing to")
        time.sleep(1.0)
        b.stop(signal.SIGTERM)
        time.sleep(4.0)  # past what the store covers: (4 - 1) * 0.4 s
        b.start()
        back = time.monotonic()
        t_up, line = out.wait("connected again", timeout=15)
        assert t_up - back < 1.5 * interval / 1000 + 1.0, (t_up - back, line)
        assert "connected again, %d readings resent" % inflight in line, line
        text = out.finish(timeout=60)
        lost = [int(x.split()[0]) for x in lines(text.replace("app: ", ""), "reading")]
        assert lost and "done %d readings, %d lost" % (cycles, len(lost)) in text, text
        deadline = time.monotonic() + 20
        want = set(range(1, cycles + 1)) - set(lost)
        while time.monotonic() < deadline:
            got = {json.loads(m[1])["seq"] for m in rec.messages}
            if got >= want:
                break
            time.sleep(0.2)
        assert got == want and not got & set(lost), (sorted(got), lost)
        rec.stop()
    finally:
        b.close()
