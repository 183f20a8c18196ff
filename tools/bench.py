#!/usr/bin/env python3
"""leanmqtt beside the anchors (umqtt.simple, umqtt.robust), one run, one Mosquitto.

    python tools/bench.py [--anchors DIR] [--n 20000] [--json bench.json]

The anchors are never kept in this repository. They come from
`micropython -m mip install umqtt.simple umqtt.robust` where there is internet, or from
DIR: a micropython-lib checkout, its bare git directory, or a folder holding umqtt/.
Prints a Markdown table; rates are noisy, so compare only within one run.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from host import mpy  # noqa: E402
from host.broker import Mosquitto  # noqa: E402
from tools.build import mpy_cross  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEVICE_SCRIPT = os.path.join(HERE, "bench_device.py")
UMQTT = ("micropython/umqtt.simple/umqtt/simple.py", "micropython/umqtt.robust/umqtt/robust.py")


def find_anchors(src, dest):
    """Puts umqtt/simple.py and umqtt/robust.py under dest/umqtt; returns the names found."""
    os.makedirs(os.path.join(dest, "umqtt"), exist_ok=True)
    if src is None:
        r = subprocess.run(
            [mpy.micropython_path(), "-m", "mip", "install", "--target", dest,
             "umqtt.simple", "umqtt.robust"],
            capture_output=True, text=True, timeout=60,
        )
        if r.returncode != 0 or not os.path.exists(os.path.join(dest, "umqtt", "simple.py")):
            sys.exit("mip could not install umqtt (no internet?): pass --anchors DIR, "
                     "a micropython-lib checkout or a folder holding umqtt/simple.py")
    elif os.path.isdir(os.path.join(src, "umqtt")):
        for f in os.listdir(os.path.join(src, "umqtt")):
            shutil.copy(os.path.join(src, "umqtt", f), os.path.join(dest, "umqtt", f))
    else:
        bare = os.path.isdir(os.path.join(src, "objects")) and not os.path.isdir(os.path.join(src, "micropython"))
        for path in UMQTT:
            out = os.path.join(dest, "umqtt", os.path.basename(path))
            if bare:
                text = subprocess.run(["git", "--git-dir", src, "show", "HEAD:" + path],
                                      capture_output=True, check=True).stdout
                with open(out, "wb") as f:
                    f.write(text)
            elif os.path.exists(os.path.join(src, path)):
                shutil.copy(os.path.join(src, path), out)
    return [m for m in ("simple", "robust") if os.path.exists(os.path.join(dest, "umqtt", m + ".py"))]


def device(module, port, what, path, n=0, heap=None):
    args = [module, port, what] + ([n] if n else [])
    p = subprocess.run(mpy.cmd(DEVICE_SCRIPT, args, heap), env=clean_env(path),
                       capture_output=True, text=True, timeout=300)
    out = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition(" ")
        out[k] = v
    return p.returncode, out, p.stderr


def clean_env(path):
    # Only the measured folder: device/ must not shadow the .mpy under test.
    e = dict(os.environ)
    e["MICROPYPATH"] = ":".join([".frozen", path])
    return e


def smallest_heap(module, port, path):
    lo, hi = 2048, 256 * 1024  # lo fails, hi works
    rc, out, _ = device(module, port, "workload", path, heap=hi)
    if rc or out.get("ok") is None:
        return None
    while hi - lo > 256:
        mid = (lo + hi) // 2 // 256 * 256
        rc, out, _ = device(module, port, "workload", path, heap=mid)
        if rc == 0 and "ok" in out:
            hi = mid
        else:
            lo = mid
    return hi


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--anchors", help="micropython-lib checkout / bare git dir / folder with umqtt/")
    ap.add_argument("--n", type=int, default=20000, help="QoS 0 publishes per rate run")
    ap.add_argument("--json", help="write the results here as JSON")
    ap.add_argument("--opt", type=int, default=3, help="mpy-cross -O level, the same for every client")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="leanmqtt-bench-")
    src = os.path.join(work, "src")
    found = find_anchors(a.anchors, src)
    clients = {"leanmqtt": os.path.join(mpy.ROOT, "device", "leanmqtt.py")}
    for m in found:
        clients["umqtt." + m] = os.path.join(src, "umqtt", m + ".py")
    # Each client measured as .mpy, alone on the path (robust needs simple beside it).
    mpydir = os.path.join(work, "mpy")
    for name, py in clients.items():
        rel = name.replace(".", "/") + ".mpy"
        mpy_cross(py, os.path.join(mpydir, rel), a.opt)
    results = {}
    with Mosquitto() as broker:
        for name, py in clients.items():
            r = results[name] = {"source_bytes": os.path.getsize(py),
                                 "mpy_bytes": os.path.getsize(os.path.join(mpydir, name.replace(".", "/") + ".mpy"))}
            rc, out, err = device(name, broker.port, "import", mpydir)
            r["import_ram"] = int(out["import_ram"]) if "import_ram" in out else None
            r["smallest_heap"] = smallest_heap(name, broker.port, mpydir)
            rc, out, err = device(name, broker.port, "alloc", mpydir)
            r["alloc_qos0"] = int(out.get("alloc_qos0", -1))
            r["alloc_qos1"] = int(out.get("alloc_qos1", -1))
            r["heap_lock"] = out.get("heap_lock", "?")
            rc, out, err = device(name, broker.port, "rates", mpydir, n=a.n)
            if rc:
                print(err, file=sys.stderr)
            r["qos0_rate"] = int(out.get("qos0_rate", 0))
            r["qos1_rate"] = int(out.get("qos1_rate", 0))
    shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


def print_table(results):
    cols = [("client", None), (".py / .mpy bytes", lambda r: "%d / %d" % (r["source_bytes"], r["mpy_bytes"])),
            ("import RAM (.mpy)", lambda r: "%d B" % r["import_ram"]),
            ("smallest working heap", lambda r: "%.1f KB" % (r["smallest_heap"] / 1024) if r["smallest_heap"] else "fails"),
            ("heap B per QoS0 / QoS1 publish", lambda r: "%d / %d" % (r["alloc_qos0"], r["alloc_qos1"])),
            ("heap_lock publish", lambda r: r["heap_lock"]),
            ("QoS0 msg/s", lambda r: "{:,}".format(r["qos0_rate"])),
            ("QoS1 msg/s (stop-and-wait)", lambda r: "{:,}".format(r["qos1_rate"]))]
    print("| " + " | ".join(c for c, _ in cols) + " |")
    print("|" + "---|" * len(cols))
    for name, r in results.items():
        print("| " + " | ".join([name] + [f(r) for _, f in cols[1:]]) + " |")
    base = results.get("umqtt.simple")
    lean = results["leanmqtt"]
    if base:
        print()
        print("leanmqtt / umqtt.simple: QoS0 rate x%.1f, QoS1 rate x%.0f, smallest heap x%.2f"
              % (lean["qos0_rate"] / max(base["qos0_rate"], 1), lean["qos1_rate"] / max(base["qos1_rate"], 1),
                 lean["smallest_heap"] / base["smallest_heap"]))


if __name__ == "__main__":
    main()
