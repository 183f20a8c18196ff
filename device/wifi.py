# Joining a WLAN, for the boards that have one (esp32, rp2040): quick when already joined,
# bounded by timeout_ms, and it says why when it fails. feed(), when given, runs every
# 200 ms while it waits: the app's watchdog, which is shorter than a join may take.
import time
import network

_REASONS = (
    ("STAT_IDLE", "idle"),
    ("STAT_CONNECTING", "connecting"),
    ("STAT_WRONG_PASSWORD", "wrong password"),
    ("STAT_NO_AP_FOUND", "no access point with that SSID"),
    ("STAT_CONNECT_FAIL", "connection failed"),
    ("STAT_GOT_IP", "connected"),
)


def reason(status):
    for name, text in _REASONS:
        if getattr(network, name, None) == status:
            return text
    return "status %s" % status


def join(ssid, password, timeout_ms=15000, pm=None, feed=None):
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wlan.isconnected():
        return True
    if pm is not None:
        wlan.config(pm=pm)
    wlan.connect(ssid, password)
    t = time.ticks_ms()
    while not wlan.isconnected():
        if time.ticks_diff(time.ticks_ms(), t) > timeout_ms:
            print("wifi:", reason(wlan.status()))
            return False
        if feed:
            feed()
        time.sleep_ms(200)
    print("wifi: connected as", wlan.ifconfig()[0])
    return True
