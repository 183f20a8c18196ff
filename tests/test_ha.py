"""Home Assistant discovery (device/ha.py) proved by a live Home Assistant core
(host/homeassistant.py) on the same Mosquitto as the app: it must discover the sensors,
show their states with HA's own parsing, mark them unavailable by the will, and get the
configs again after its birth message."""
import json
import os
import signal
import time

import pytest

from conftest import ROOT, app_env, lines
from host.subscriber import Recorder, publish

MAIN = os.path.join(ROOT, "device", "main.py")
FIELDS = {  # what the unix board reads, as Home Assistant must show it
    "cpu_c": ("°C", "temperature", "measurement"),
    "temp_c": ("°C", "temperature", "measurement"),
    "hum_pct": ("%", "humidity", "measurement"),
    "hpa": ("hPa", "atmospheric_pressure", "measurement"),
    "errors": (None, None, "total_increasing"),
}
ENTITY = "sensor.leanmqtt_unix0_"


def wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError("no %s in %ds" % (what, timeout))


@pytest.fixture
def home_assistant(broker):
    from host.homeassistant import HomeAssistant

    ha = HomeAssistant(broker.port).start()
    yield ha
    ha.close()


def test_home_assistant_discovers_the_sensors_shows_their_states_and_availability(
        broker, home_assistant, device_bg):
    ha = home_assistant
    rec = Recorder(broker.port, "leanmqtt/unix0/readings").start()
    p = device_bg(MAIN, env=app_env(broker.port, interval_ms=300, keepalive=2))

    def all_numeric():
        s = ha.states()
        want = [ENTITY + f for f in FIELDS]
        if all(e in s and s[e]["state"] not in ("unknown", "unavailable") for e in want):
            return s

    states = wait(all_numeric, 30, "state for every sensor")
    for f, (unit, dc, sc) in FIELDS.items():
        a = states[ENTITY + f]["attributes"]
        assert a.get("unit_of_measurement") == unit and a.get("device_class") == dc, a
        assert a["state_class"] == sc, a
        float(states[ENTITY + f]["state"])  # a number, parsed by HA from the JSON field
    # The values are the readings' fields (HA rounds nothing here: same text).
    last = [json.loads(m[1]) for m in rec.messages]
    assert any(float(states[ENTITY + "hpa"]["state"]) == r["hpa"] for r in last), last[-3:]
    # The device block: one device, named, with model and version.
    for attr, want in (("name", "leanmqtt unix0"), ("model", "unix"), ("sw_version", "0.1.0"),
                       ("manufacturer", "leanmqtt")):
        assert ha.template("{{ device_attr('%stemp_c', '%s') }}" % (ENTITY, attr)) == want
    assert ha.template("{{ device_entities(device_id('%stemp_c')) | count }}" % ENTITY) == "5"

    # Home Assistant restarted with an empty broker (configs gone): its birth message
    # brings them back.
    for f in FIELDS:
        publish(broker.port, "homeassistant/sensor/leanmqtt_unix0/%s/config" % f, b"", retain=True)
    wait(lambda: not ha.states(), 20, "removal of the entities")
    publish(broker.port, "homeassistant/status", b"online")
    wait(lambda: len(ha.states()) == 5, 20, "entities after HA's birth message")

    # The device dies: its will says offline, and HA shows every sensor unavailable.
    p.send_signal(signal.SIGKILL)
    wait(lambda: all(s["state"] == "unavailable" for s in ha.states().values()), 20,
         "unavailable after the will")
    rec.stop()


def test_discovery_is_retained_and_off_by_a_setting(broker, device):
    def configs(topic="homeassistant/#", **kw):
        rec = Recorder(broker.port, topic).start()
        device(MAIN, env=app_env(broker.port, interval_ms=50, cycles=3, **kw))
        time.sleep(0.3)
        rec.stop()
        return [(t, p, r) for t, p, q, r in rec.messages]

    on = configs()
    assert sorted(t for t, p, r in on) == sorted(
        "homeassistant/sensor/leanmqtt_unix0/%s/config" % f for f in FIELDS)
    assert all(r == 0 for t, p, r in on)  # live, not from the store: sent at connect
    later = Recorder(broker.port, "homeassistant/#").start()  # retained: a late HA gets them
    later.wait_count(5)
    assert all(r for t, p, q, r in later.messages)
    later.stop()
    for f in FIELDS:
        publish(broker.port, "homeassistant/sensor/leanmqtt_unix0/%s/config" % f, b"", retain=True)
    assert configs(ha_discovery=0) == []
    assert {t.split("/")[0] for t, p, r in configs("ha-test/#", ha_prefix="ha-test")} == {"ha-test"}


def test_configs_are_built_once_and_sent_with_the_heap_locked(broker, device):
    out = device("ha_heaplock.py", env=app_env(broker.port)).stdout
    seq, n, biggest, buf, due = lines(out, "ok")[0].split()
    assert n == "5" and due == "False", out
    assert int(biggest) > int(buf)  # larger than the buffer: the payload goes from its bytes
