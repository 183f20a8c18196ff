# Home Assistant MQTT discovery for the app: one retained config per sensor, so that the
# device and its sensors appear in Home Assistant by themselves, with availability.
#
#   <prefix>/sensor/<node>/<field>/config   (prefix "homeassistant", HA's default)
#
# Each config names the readings topic and a value_template for its field of the JSON
# reading, unit, device_class, state_class, a unique_id, the device block, and the status
# topic (retained "online", the will's "offline") as availability. Key names are Home
# Assistant's documented abbreviations (stat_t for state_topic...): a third shorter.
#
# Memory: every config is built once, here, as bytes (about 400 B each; the unix board's
# five, 2 KB), and publish() sends them as they are: nothing is allocated afterwards. They
# are larger than the client's buffer, so they go at QoS 0: the client writes the header
# and topic from its buffer and the payload straight from these bytes (a QoS 1 message
# must fit a store slot whole). A config lost with the link costs nothing: they are sent
# again after every (re)connect, and whenever Home Assistant says `online` on
# <prefix>/status (its birth message, after a restart).

# Field name -> (name shown, unit, device_class, state_class). Fields not listed get a
# name only (state_class measurement); HA's rules: a device_class wants one of its units.
KINDS = {
    "cpu_c": ("CPU temperature", "°C", "temperature", "measurement"),
    "temp_c": ("Temperature", "°C", "temperature", "measurement"),
    "hum_pct": ("Humidity", "%", "humidity", "measurement"),
    "hpa": ("Pressure", "hPa", "atmospheric_pressure", "measurement"),
    "errors": ("Sensor errors", None, None, "total_increasing"),
}
VERSION = "0.1.0"  # sw_version in the device block (package.json's)


def _s(x):
    # A JSON string; names here are plain ASCII and '°': nothing to escape but quotes.
    return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Discovery:
    def __init__(self, prefix, device_id, model, readings, status, fields):
        # readings, status: the app's topics (str); fields: the reading's field names.
        self.prefix = prefix
        self.birth = (prefix + "/status").encode()  # where Home Assistant says online
        self.due = True  # configs to send: at the next chance
        node = "leanmqtt_" + device_id
        dev = '{"ids":[%s],"name":%s,"mdl":%s,"sw":%s,"mf":"leanmqtt"}' % (
            _s(node), _s("leanmqtt " + device_id), _s(model), _s(VERSION))
        self.configs = []  # (topic, payload), bytes, made once
        self.room = 0  # the client buffer that the longest topic needs (its header too)
        for f in fields:
            name, unit, dc, sc = KINDS.get(f, (f, None, None, "measurement"))
            p = '{"name":%s,"uniq_id":%s,"obj_id":%s,"stat_t":%s,"val_tpl":%s' % (
                _s(name), _s(node + "_" + f), _s(node + "_" + f), _s(readings),
                _s("{{ value_json.%s }}" % f))
            if unit:
                p += ',"unit_of_meas":' + _s(unit)
            if dc:
                p += ',"dev_cla":' + _s(dc)
            p += ',"stat_cla":%s,"avty_t":%s,"pl_avail":"online","pl_not_avail":"offline"' % (
                _s(sc), _s(status))
            if f == "errors":
                p += ',"ent_cat":"diagnostic"'
            p += ',"dev":' + dev + "}"
            t = ("%s/sensor/%s/%s/config" % (prefix, node, f)).encode()
            self.room = max(self.room, len(t) + 9)
            self.configs.append((t, p.encode()))

    def subscribe(self, client):
        # Home Assistant's birth message; the client makes it again after a lost session.
        client.subscribe(self.birth)

    def message(self, topic, msg):
        # From the client's callback: send the configs again when Home Assistant restarted.
        if topic == self.birth and msg == b"online":
            self.due = True

    def publish(self, client):
        # All configs, retained; True when each went out (else they are due again).
        ok = True
        for t, p in self.configs:
            ok = client.publish(t, p, True) and ok
        self.due = not ok
        return ok
