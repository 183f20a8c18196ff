# Wi-Fi joins and reconnects within the watchdog. device/wifi.py against a stand-in for
# the boards' network module (the unix port has none): an access point that refuses the
# password, then one that answers after 0.6 s. Then the app: its net_up hook hands the
# watchdog to the join, and a reconnect's two blocking steps fit in the watchdog's time.
import sys
import time


class network:
    STA_IF = 0
    STAT_WRONG_PASSWORD = -3
    up_ms = None  # the join completes this long after connect(); None: never

    class WLAN:
        def __init__(self, interface):
            self.t = None

        def active(self, on=None):
            return True

        def isconnected(self):
            up = network.up_ms
            return self.t is not None and up is not None and time.ticks_diff(time.ticks_ms(), self.t) >= up

        def connect(self, ssid, password):
            self.t = time.ticks_ms()

        def config(self, **kw):
            pass

        def status(self):
            return network.STAT_WRONG_PASSWORD

        def ifconfig(self):
            return ("10.0.0.2", "255.255.255.0", "10.0.0.1", "10.0.0.1")


sys.modules["network"] = network
import wifi  # noqa: E402

for up_ms in (None, 600):
    network.up_ms = up_ms
    feeds = []
    t = time.ticks_ms()
    ok = wifi.join("ssid", "pw", 1000, feed=lambda: feeds.append(time.ticks_ms()))
    gaps = [time.ticks_diff(b, a) for a, b in zip([t] + feeds, feeds)]
    print("join", ok, "feeds", len(feeds), "longest_gap", max(gaps) if gaps else -1,
          "ms", time.ticks_diff(time.ticks_ms(), t))


class WDT:
    fed = 0

    def feed(self):
        WDT.fed += 1


import board  # noqa: E402
import config  # noqa: E402

board.watchdog = lambda ms: WDT()
board.network_up = lambda ssid, password, feed=None: feed() or True
import main  # noqa: E402

app = main.App()
print("net_up", app.net_up(), "fed", WDT.fed)
print("timeout_ms", app.client._to, "wdt_ms", config.WDT_MS)
