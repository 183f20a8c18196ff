#!/usr/bin/env python3
"""A fleet on one machine: N devices publishing QoS 1 readings to one Mosquitto.

    python tools/fleet.py [--n 100] [--seconds 20] [--interval-ms 1000]

The devices are N leanmqtt clients in one MicroPython unix-port process, driven through
the non-blocking API (publish + poll); a host subscriber records what the broker
delivered. Reports readings sent, delivered, lost, latency p50/p99 and RAM per device.
"""
import argparse
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from host import mpy  # noqa: E402
from host.broker import Mosquitto  # noqa: E402
from host.subscriber import Recorder  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fleet_device.py")


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


def run(n, seconds, interval_ms):
    broker = Mosquitto(extra="max_connections -1").start()
    got = {}  # (device, seq) -> latency ms
    lock = threading.Lock()
    rec = Recorder(broker.port, "fleet/#")

    def on_message(c, u, m):
        now = time.time() * 1000
        d, s, sent = m.payload.decode().split(",")
        with lock:
            got.setdefault((int(d), int(s)), now - int(sent))

    rec.c.on_message = on_message
    rec.start()
    try:
        p = subprocess.run(mpy.cmd(SCRIPT, [broker.port, n, seconds, interval_ms]), env=mpy.env(),
                           capture_output=True, text=True, timeout=seconds + 120)
        out = dict((w[0], w[1:]) for w in (ln.split() for ln in p.stdout.splitlines()) if w)
        if p.returncode or "sent" not in out:
            sys.exit("fleet: the devices failed:\n" + p.stdout + p.stderr)
        sent = int(out["sent"][0])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(got) < sent:
            time.sleep(0.1)
    finally:
        rec.stop()
        broker.close()
    with lock:
        lat = list(got.values())
        seqs = {}
        for d, s in got:
            seqs.setdefault(d, set()).add(s)
    lost = sum(max(s) + 1 - len(s) for s in seqs.values())  # gaps in each device's numbers
    missing = sent - len(got)
    result = {
        "devices": n, "seconds": seconds, "interval_ms": interval_ms, "sent": sent,
        "delivered": len(got), "lost": max(lost, missing), "refused": int(out["sent"][2]),
        "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
        "ram_per_device": int(out["ram_per_device"][0]), "devices_heard": len(seqs),
    }
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--interval-ms", type=int, default=1000)
    a = ap.parse_args()
    r = run(a.n, a.seconds, a.interval_ms)
    print("| devices | readings sent | delivered | lost | latency p50 / p99 | RAM per device (unix port) |")
    print("|---|---|---|---|---|---|")
    print("| %d (%d heard) | %d | %d | %d | %.1f ms / %.1f ms | %d B |" % (
        r["devices"], r["devices_heard"], r["sent"], r["delivered"], r["lost"],
        r["p50_ms"], r["p99_ms"], r["ram_per_device"]))
    print("%d QoS 1 readings lost" % r["lost"])


if __name__ == "__main__":
    main()
