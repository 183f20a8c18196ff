# An RP2040 whose network is PPP over UART0 (GP0 TX, GP1 RX, 115200 baud): a cellular modem
# (SIM7600, SIM800...) once it is dialled in, or slirp on the emulated chip the tests boot
# (host/chip.py). The RP2040's temperature on ADC channel 4, a BME280 on I2C(0) SDA=GP4
# SCL=GP5, the LED on GP25. Runs on the emulated RP2040 in the chip tests.
import binascii
import time
import machine
import network
from machine import ADC, Pin, I2C
import bme280
from chiptemp import rp2040_centi

NAME = "rp2040_ppp"
HAS_WIFI = False  # no SSID to set: the link is the UART
UART_ID, BAUD = 0, 115200
_led = Pin(25, Pin.OUT)
_adc = ADC(4)
_ppp = []  # the one network.PPP, made on first use

# network.PPP.status(): 0 inactive, 1 active, 3 connecting, 4 connected; after a failure
# minus lwIP's PPPERR_* code, which says why.
_WHY = {
    -1: "invalid parameter", -2: "cannot open the UART", -3: "invalid I/O device",
    -4: "out of memory", -5: "closed by us", -6: "connection lost (no carrier)",
    -7: "authentication failed (user/key)", -8: "PPP protocol error",
    -9: "peer dead (no answer to LCP echo)", -10: "idle timeout", -11: "maximum connect time",
    -12: "loopback: the UART hears its own bytes",
    0: "PPP not started", 1: "no answer from the peer (is the modem dialled in? wiring? baud?)",
    3: "no answer from the peer (is the modem dialled in? wiring? baud?)",
}


def device_id():
    return binascii.hexlify(machine.unique_id()).decode()


def ppp():
    if not _ppp:
        _ppp.append(network.PPP(machine.UART(UART_ID, BAUD)))
    return _ppp[0]


def reason(status):
    return _WHY.get(status, "status %s" % status)


def network_up(ssid="", password="", timeout_ms=15000, feed=None):
    """Brings PPP up, or says why not: True once it has an address, False after timeout_ms
    (the reason printed). ssid and password are unused: the link is the UART. feed(), when
    given, runs every 50 ms while it waits (the app's watchdog)."""
    p = ppp()
    if p.isconnected():
        return True
    if p.status() != 3:  # not already negotiating: (re)start it
        p.connect()
    t = time.ticks_ms()
    while not p.isconnected():
        if time.ticks_diff(time.ticks_ms(), t) > timeout_ms:
            print("ppp: no link after %d ms: %s" % (timeout_ms, reason(p.status())))
            return False
        if p.status() < 0:  # failed: say why, try once more while time is left
            print("ppp:", reason(p.status()), "- trying again")
            p.connect()
        if feed:
            feed()
        time.sleep_ms(50)
    print("ppp: connected as", ip())
    return True


def ip():
    return ppp().ifconfig()[0]


def _cpu_c():
    return rp2040_centi(_adc.read_u16())


def sensors():
    return [("cpu_c", 2, _cpu_c)] + bme280.sensors(I2C(0, sda=Pin(4), scl=Pin(5)))


def led(on):
    _led.value(1 if on else 0)


def watchdog(ms):
    return machine.WDT(timeout=min(ms, 8388))  # the RP2040's longest
