# ESP32 DevKit: Wi-Fi, the on-chip temperature, a BME280 on I2C(0) SCL=22 SDA=21, the LED
# on GPIO 2. Type-checked against micropython-esp32-stubs; not run here (no hardware).
import time
import binascii
import esp32
import machine
import network
from machine import Pin, I2C
from bme280 import BME280
from chiptemp import fahrenheit_centi

NAME = "esp32"
HAS_WIFI = True
_led = Pin(2, Pin.OUT)
_STATUS = {
    network.STAT_IDLE: "idle",
    network.STAT_CONNECTING: "connecting",
    network.STAT_WRONG_PASSWORD: "wrong password",
    network.STAT_NO_AP_FOUND: "no access point with that SSID",
    network.STAT_GOT_IP: "connected",
}


def device_id():
    return binascii.hexlify(machine.unique_id()).decode()


def network_up(ssid, password, timeout_ms=15000):
    # Joins the WLAN, or says why not within timeout_ms; quick when already joined.
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wlan.isconnected():
        return True
    wlan.connect(ssid, password)
    t = time.ticks_ms()
    while not wlan.isconnected():
        if time.ticks_diff(time.ticks_ms(), t) > timeout_ms:
            print("wifi:", _STATUS.get(wlan.status(), wlan.status()))
            return False
        time.sleep_ms(200)
    print("wifi: connected as", wlan.ifconfig()[0])
    return True


def _cpu_c():
    read = getattr(esp32, "mcu_temperature", None)  # ESP32-S2/S3/C3/C6: whole degC
    if read:
        return read() * 100
    return fahrenheit_centi(esp32.raw_temperature())  # the original ESP32: degF


def sensors():
    out = [("cpu_c", 2, _cpu_c)]
    try:
        bme = BME280(I2C(0, scl=Pin(22), sda=Pin(21)))
    except OSError as e:
        print("board: no BME280 on I2C(0) at 0x76:", e)
    else:
        out += [("temp_c", 2, bme.temp_c), ("hum_pct", 1, bme.hum_pct), ("hpa", 2, bme.hpa)]
    return out


def led(on):
    _led.value(1 if on else 0)


def watchdog(ms):
    return machine.WDT(timeout=ms)
