# Settings of the device app. The defaults are here; yours go in settings.py, made from
# settings_template.py (git ignores settings.py: it holds the Wi-Fi and broker secrets).
# On the unix board, LEANMQTT_* environment variables override both (tests, the demo).
WIFI_SSID = ""
WIFI_PASSWORD = ""
BROKER = ""  # host name or IP address of the MQTT broker
PORT = 1883
USER = None
PASSWORD = None
PREFIX = "leanmqtt"  # readings go to PREFIX/<device id>/readings
DEVICE_ID = ""  # empty: machine.unique_id() in hex
INTERVAL_MS = 5000
KEEPALIVE = 60  # s: below your NAT's idle timeout; pings happen only when idle
QOS = 1  # 2: exactly once (each reading costs 4 packets, not 2)
# QoS 1 readings kept in RAM until acked. An outage of the broker or the network of up to
# (INFLIGHT - 1) * INTERVAL_MS loses no reading: the client retries at least once per
# interval (main.py caps its backoff at INTERVAL_MS, plus up to 50% jitter), so it is back
# within 1.5 intervals of the broker; a reading refused meanwhile (the store full) stays in
# its buffer and goes first at the next cycle. Past that, each reading lost is logged
# ("reading N lost") and counted. A reset of the board loses what the store holds.
INFLIGHT = 8
WDT_MS = 8000  # 0: no watchdog
# The outbox (outbox.py): readings not yet acknowledged wait on flash, across outages and
# resets, in OUTBOX bytes (two files OUTBOX_PATH.0 and .1); 0: only the RAM window.
OUTBOX = 32768
OUTBOX_PATH = "outbox"
# Sleep mode, for a battery: wake, read the sensors, publish, flush (up to FLUSH_MS), then
# deep-sleep for INTERVAL_MS; readings not acked by then wait in the outbox for the next wake.
SLEEP = 0
FLUSH_MS = 2000
CYCLES = 0  # 0: run forever
HA_DISCOVERY = 1  # Home Assistant MQTT discovery (device/ha.py); 0: off
HA_PREFIX = "homeassistant"  # Home Assistant's discovery prefix (its default)

try:
    from settings import *  # noqa: F401,F403  # pyright: ignore[reportMissingImports]
except ImportError:
    pass

try:
    from os import getenv  # the unix port has it; boards do not
except ImportError:
    getenv = None

if getenv:
    BROKER = getenv("LEANMQTT_BROKER") or BROKER
    PREFIX = getenv("LEANMQTT_PREFIX") or PREFIX
    DEVICE_ID = getenv("LEANMQTT_DEVICE_ID") or DEVICE_ID
    HA_PREFIX = getenv("LEANMQTT_HA_PREFIX") or HA_PREFIX
    for _name in ("PORT", "INTERVAL_MS", "CYCLES", "KEEPALIVE", "QOS", "INFLIGHT", "HA_DISCOVERY"):
        _v = getenv("LEANMQTT_" + _name)
        if _v:
            globals()[_name] = int(_v)
    # The unix board runs many devices from one folder (tests, the demo): no outbox unless
    # LEANMQTT_OUTBOX gives its size.
    OUTBOX = int(getenv("LEANMQTT_OUTBOX") or 0)
    OUTBOX_PATH = getenv("LEANMQTT_OUTBOX_PATH") or OUTBOX_PATH
    SLEEP = int(getenv("LEANMQTT_SLEEP") or SLEEP)
    FLUSH_MS = int(getenv("LEANMQTT_FLUSH_MS") or FLUSH_MS)


def problems(needs_wifi):
    """What is missing or wrong, as sentences for the console; [] when all is well."""
    out = []
    if needs_wifi and not WIFI_SSID:
        out.append("WIFI_SSID is empty: set it in settings.py (copy settings_template.py)")
    if not BROKER or not isinstance(BROKER, str):
        out.append("BROKER is empty: set BROKER = \"192.168.1.10\" (your broker) in settings.py")
    if not isinstance(PORT, int) or not 0 < PORT < 65536:
        out.append("PORT must be a number from 1 to 65535, not %r" % (PORT,))
    if not isinstance(INTERVAL_MS, int) or INTERVAL_MS < 50:
        out.append("INTERVAL_MS must be a number of milliseconds, at least 50")
    if not isinstance(KEEPALIVE, int) or not 0 <= KEEPALIVE < 65536:
        out.append("KEEPALIVE must be seconds, 0 to 65535")
    if QOS not in (0, 1, 2):
        out.append("QOS must be 0, 1 or 2")
    if not isinstance(INFLIGHT, int) or INFLIGHT < 1:
        out.append("INFLIGHT must be at least 1")
    if OUTBOX and (not isinstance(OUTBOX, int) or OUTBOX < 1024):
        out.append("OUTBOX must be 0 (none) or at least 1024 bytes")
    if SLEEP and not OUTBOX:
        out.append("SLEEP needs an OUTBOX: a deep sleep loses what RAM holds")
    if HA_DISCOVERY and (not HA_PREFIX or "+" in HA_PREFIX or "#" in HA_PREFIX):
        out.append("HA_PREFIX must be a topic without + or #, such as \"homeassistant\"")
    if USER is None and PASSWORD:
        out.append("PASSWORD is set but USER is not")
    return out
