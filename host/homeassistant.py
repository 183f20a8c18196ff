"""A real Home Assistant core (2024.3, the last for Python 3.11) on a free 127.0.0.1 port,
its MQTT integration pointed at a broker, read through its REST API.

It lives in its own venv, .venv-ha, made on first use from tools/homeassistant-requirements.txt
(every package pinned; 2-3 minutes on 2 cores). Home Assistant is started as it ships, but for
its default integrations (frontend, backup, person...), which the test does not need and
which would want packages of their own: the MQTT integration, its discovery and the sensor
platform are Home Assistant's own code, configured as a user's config entry would be."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from host.broker import _Process, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-ha")
REQS = os.path.join(ROOT, "tools", "homeassistant-requirements.txt")
PY = os.path.join(VENV, "bin", "python")
USER, PASSWORD = "leanmqtt", "test-only-password"

LAUNCH = """
import sys
from homeassistant import bootstrap
bootstrap.DEFAULT_INTEGRATIONS.clear()   # no frontend, backup, person...: not needed here
bootstrap.CRITICAL_INTEGRATIONS.clear()  # so no recovery mode without the frontend
from homeassistant.__main__ import main
sys.exit(main())
"""

CONFIG = """
homeassistant:
  name: leanmqtt-test
  unit_system: metric
  time_zone: UTC
  latitude: 0
  longitude: 0
  elevation: 0
  country: DE
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: %d
api:
auth:
logger:
  default: warning
"""


def ensure_venv():
    stamp = os.path.join(VENV, ".installed")
    if os.path.exists(stamp) and open(stamp).read() == open(REQS).read():
        return
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([PY, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "--no-deps", "-r", REQS], check=True, timeout=900)
    with open(stamp, "w") as f:
        f.write(open(REQS).read())


class HomeAssistant(_Process):
    def __init__(self, broker_port):
        ensure_venv()
        self.dir = tempfile.mkdtemp(prefix="leanmqtt-ha-")
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        os.makedirs(os.path.join(self.dir, ".storage"))
        with open(os.path.join(self.dir, "configuration.yaml"), "w") as f:
            f.write(CONFIG % self.port)
        with open(os.path.join(self.dir, "launch.py"), "w") as f:
            f.write(LAUNCH)
        # The MQTT integration as the UI's config flow stores it: broker, port, discovery on.
        entry = {"entry_id": "0" * 32, "version": 1, "minor_version": 1, "domain": "mqtt",
                 "title": "127.0.0.1", "data": {"broker": "127.0.0.1", "port": broker_port,
                                                "discovery": True},
                 "options": {}, "pref_disable_new_entities": False,
                 "pref_disable_polling": False, "source": "user", "unique_id": None,
                 "disabled_by": None}
        with open(os.path.join(self.dir, ".storage", "core.config_entries"), "w") as f:
            json.dump({"version": 1, "minor_version": 1, "key": "core.config_entries",
                       "data": {"entries": [entry]}}, f)
        subprocess.run([os.path.join(VENV, "bin", "hass"), "--script", "auth", "-c", self.dir,
                        "add", USER, PASSWORD], check=True, capture_output=True, timeout=120)
        self.token = None

    def start(self, timeout=120):
        self.log_file = open(os.path.join(self.dir, "ha.log"), "w")
        self.proc = subprocess.Popen([PY, os.path.join(self.dir, "launch.py"), "-c", self.dir,
                                      "--skip-pip"], stdout=self.log_file, stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("Home Assistant exited:\n" + self.log())
            try:
                urllib.request.urlopen(self.base + "/api/", timeout=2)
            except urllib.error.HTTPError as e:
                if e.code == 401:  # up, and wants a token
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            raise RuntimeError("Home Assistant did not answer in %ds:\n%s" % (timeout, self.log()))
        self.token = self._login()
        return self

    def _post(self, path, data, form=False):
        body = (urllib.parse.urlencode(data) if form else json.dumps(data)).encode()
        ct = "application/x-www-form-urlencoded" if form else "application/json"
        req = urllib.request.Request(self.base + path, body, {"Content-Type": ct})
        return json.load(urllib.request.urlopen(req, timeout=10))

    def _login(self):
        # The login flow of the UI: user and password for a code, the code for a token.
        cid = self.base + "/"
        flow = self._post("/auth/login_flow", {"client_id": cid, "redirect_uri": cid,
                                              "handler": ["homeassistant", None]})
        r = self._post("/auth/login_flow/" + flow["flow_id"],
                       {"client_id": cid, "username": USER, "password": PASSWORD})
        t = self._post("/auth/token", {"grant_type": "authorization_code", "code": r["result"],
                                       "client_id": cid}, form=True)
        return t["access_token"]

    def get(self, path):
        req = urllib.request.Request(self.base + path,
                                     headers={"Authorization": "Bearer " + self.token})
        return json.load(urllib.request.urlopen(req, timeout=10))

    def states(self, prefix="sensor."):
        return {s["entity_id"]: s for s in self.get("/api/states")
                if s["entity_id"].startswith(prefix)}

    def template(self, text):
        # Renders a template in Home Assistant (device_attr() reads its device registry).
        req = urllib.request.Request(self.base + "/api/template", json.dumps({"template": text}).encode(),
                                     {"Authorization": "Bearer " + self.token,
                                      "Content-Type": "application/json"})
        return urllib.request.urlopen(req, timeout=10).read().decode()

    def log(self):
        try:
            return open(os.path.join(self.dir, "ha.log"), errors="replace").read()[-6000:]
        except OSError:
            return ""

    def close(self):
        super().close()
        if getattr(self, "log_file", None):
            self.log_file.close()
