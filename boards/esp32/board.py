# ESP32 DevKit: Wi-Fi, the on-chip temperature, a BME280 on I2C(0) SCL=22 SDA=21, the LED
# on GPIO 2. Type-checked against micropython-esp32-stubs; not run here (no hardware).
import binascii
import esp32
import machine
import wifi
from machine import Pin, I2C
import bme280
from chiptemp import fahrenheit_centi

NAME = "esp32"
HAS_WIFI = True
_led = Pin(2, Pin.OUT)


def device_id():
    return binascii.hexlify(machine.unique_id()).decode()


def network_up(ssid, password, timeout_ms=15000, feed=None):
    return wifi.join(ssid, password, timeout_ms, feed=feed)


def _cpu_c():
    read = getattr(esp32, "mcu_temperature", None)  # ESP32-S2/S3/C3/C6: whole degC
    if read:
        return read() * 100
    return fahrenheit_centi(esp32.raw_temperature())  # the original ESP32: degF


def sensors():
    return [("cpu_c", 2, _cpu_c)] + bme280.sensors(I2C(0, scl=Pin(22), sda=Pin(21)))


def led(on):
    _led.value(1 if on else 0)


def watchdog(ms):
    return machine.WDT(timeout=ms)


def deepsleep(ms):
    # The sleep mode's end of a wake: the board resets when it wakes, and main.py runs again.
    machine.deepsleep(ms)
