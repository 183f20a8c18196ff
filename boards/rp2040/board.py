# Raspberry Pi Pico W: Wi-Fi (power saving off, for latency), the RP2040's temperature on
# ADC channel 4, a BME280 on I2C(0) SDA=GP4 SCL=GP5, the LED on the Wi-Fi chip.
# Type-checked against micropython-rp2-rpi-pico-w-stubs; not run here (no hardware).
import binascii
import machine
import wifi
from machine import ADC, Pin, I2C
import bme280
from chiptemp import rp2040_centi

NAME = "rp2040"
HAS_WIFI = True
_led = Pin("LED", Pin.OUT)
_adc = ADC(4)


def device_id():
    return binascii.hexlify(machine.unique_id()).decode()


def network_up(ssid, password, timeout_ms=15000, feed=None):
    # Power management off: the CYW43's "performance" mode, for latency.
    return wifi.join(ssid, password, timeout_ms, pm=0xA11140, feed=feed)


def _cpu_c():
    return rp2040_centi(_adc.read_u16())


def sensors():
    return [("cpu_c", 2, _cpu_c)] + bme280.sensors(I2C(0, sda=Pin(4), scl=Pin(5)))


def led(on):
    _led.value(1 if on else 0)


def watchdog(ms):
    return machine.WDT(timeout=min(ms, 8388))  # the RP2040's longest


def deepsleep(ms):
    # The sleep mode's end of a wake: the board resets when it wakes, and main.py runs again.
    machine.deepsleep(ms)
