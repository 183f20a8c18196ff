#!/usr/bin/env python3
"""The main job, on this PC: a broker, the sensor app on the unix board, the readings live.

    python tools/demo.py [--duration 15] [--interval-ms 500]

Starts Mosquitto on a free 127.0.0.1 port, runs device/main.py with boards/unix under the
MicroPython unix port, and prints each reading as the broker delivers it. Ctrl-C stops
everything; --duration N stops by itself after N seconds. Either way it ends with one line:
"N readings received from D device(s), L lost".
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from host import mpy  # noqa: E402
from host.broker import Amqtt, Mosquitto, any_broker  # noqa: E402
from host.subscriber import Recorder  # noqa: E402

COLUMNS = ("seq", "cpu_c", "temp_c", "hum_pct", "hpa", "errors")
DECIMALS = {"cpu_c": 2, "temp_c": 2, "hum_pct": 1, "hpa": 2}


def cell(r, c):
    v = r.get(c)
    if v is None:
        return "%9s" % "-"
    return "%9.*f" % (DECIMALS[c], v) if c in DECIMALS else "%9s" % v


class View:
    """Prints readings as rows and counts them per device."""

    def __init__(self):
        self.seqs = {}  # device -> set of seq numbers received
        self.lock = threading.Lock()
        self.rows = 0

    def on_message(self, topic, payload):
        parts = topic.split("/")
        if len(parts) != 3:
            return
        _, device, kind = parts
        if kind == "status":
            print("%s  %-14s %s" % (time.strftime("%H:%M:%S"), device, payload.decode()), flush=True)
            return
        try:
            r = json.loads(payload)
        except ValueError:
            print("unparseable reading on %s: %r" % (topic, payload[:60]), flush=True)
            return
        with self.lock:
            self.seqs.setdefault(device, set()).add(r.get("seq"))
            if self.rows % 20 == 0:
                print("time      device         " + " ".join("%9s" % c for c in COLUMNS), flush=True)
            self.rows += 1
        cells = [cell(r, c) for c in COLUMNS]
        print("%s  %-14s %s" % (time.strftime("%H:%M:%S"), device, " ".join(cells)), flush=True)

    def summary(self):
        with self.lock:
            got = sum(len(s) for s in self.seqs.values())
            # A reading is lost when its number is missing between the first and the last.
            lost = sum(max(s) - min(s) + 1 - len(s) for s in self.seqs.values() if s)
            n = len(self.seqs)
        return "%d readings received from %d device%s, %d lost" % (got, n, "" if n == 1 else "s", lost)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=0, help="seconds; 0 runs until Ctrl-C")
    ap.add_argument("--interval-ms", type=int, default=500)
    ap.add_argument("--broker", choices=("auto", "mosquitto", "amqtt"), default="auto")
    a = ap.parse_args()

    if a.broker == "auto":
        broker, name = any_broker()
    else:
        broker, name = (Mosquitto() if a.broker == "mosquitto" else Amqtt()).start(), a.broker
    view = View()
    rec = Recorder(broker.port, "leanmqtt/#")
    rec.c.on_message = lambda c, u, m: view.on_message(m.topic, bytes(m.payload))
    rec.start()
    env = {"LEANMQTT_BROKER": "127.0.0.1", "LEANMQTT_PORT": str(broker.port),
           "LEANMQTT_INTERVAL_MS": str(a.interval_ms), "LEANMQTT_KEEPALIVE": "10"}
    print("broker: %s on 127.0.0.1:%d; device: device/main.py on the unix board" % (name, broker.port))
    dev = subprocess.Popen(mpy.cmd(os.path.join(mpy.DEVICE, "main.py")), env=mpy.env(extra=env),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    threading.Thread(target=lambda: [print("  device| " + ln.rstrip(), flush=True) for ln in dev.stdout],
                     daemon=True).start()
    try:
        end = time.monotonic() + a.duration if a.duration else None
        while dev.poll() is None and (end is None or time.monotonic() < end):
            time.sleep(0.2)
        if dev.poll() is not None:
            print("the device exited with code %s" % dev.returncode)
    except KeyboardInterrupt:
        pass
    finally:
        if dev.poll() is None:
            dev.send_signal(signal.SIGINT)
            try:
                dev.wait(5)
            except subprocess.TimeoutExpired:
                dev.kill()
        time.sleep(0.3)  # the last readings on their way
        rec.stop()
        broker.close()
        print(view.summary(), flush=True)


if __name__ == "__main__":
    main()
