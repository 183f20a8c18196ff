# The unix board: the MicroPython unix port on a PC, for CI and the demo. Deterministic
# simulated sensors, no Wi-Fi to bring up, no LED, no watchdog.
from os import getenv

NAME = "unix"
HAS_WIFI = False
_n = [0]
_fail_every = int(getenv("LEANMQTT_FAIL_EVERY") or 0)  # make hum_pct fail every Nth read
led_on = [False]


def device_id():
    # machine.unique_id() where the port has one (the virtual board does); else "unix0".
    try:
        from machine import unique_id
        from binascii import hexlify
    except ImportError:
        return "unix0"
    return hexlify(unique_id()).decode()


def network_up(ssid, password, timeout_ms=0, feed=None):
    return True


def _cpu_c():
    _n[0] += 1
    return 4000 + _n[0] * 37 % 500  # 40.00 .. 44.99 degC


def _temp_c():
    return 2150 + _n[0] % 50


def _hum_pct():
    if _fail_every and _n[0] % _fail_every == 0:
        raise OSError(5)  # EIO, as a failing I2C read gives
    return 450 + _n[0] % 20


def _hpa():
    return 101325 - _n[0] % 100


def sensors():
    return [("cpu_c", 2, _cpu_c), ("temp_c", 2, _temp_c), ("hum_pct", 1, _hum_pct), ("hpa", 2, _hpa)]


def led(on):
    led_on[0] = on


def watchdog(ms):
    return None


def deepsleep(ms):
    # A board resets when it wakes from a deep sleep; here the process ends, and whoever
    # started it (a test, the virtual board) starts it again after ms.
    print("board: deepsleep", ms)
    raise SystemExit(0)
