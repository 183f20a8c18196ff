#!/usr/bin/env python3
"""leanmqtt beside the anchors (umqtt.simple, umqtt.robust, mqtt_as), one run, one Mosquitto.

    python tools/bench.py [--anchors DIR] [--mqtt-as DIR] [--n 20000] [--json bench.json]
                          [--chip-only] [--chip-n 100]

The anchors are never kept in this repository. They come from
`micropython -m mip install umqtt.simple umqtt.robust` where there is internet, or from
DIR: a micropython-lib checkout, its bare git directory, or a folder holding umqtt/.
mqtt_as comes from `mip install github:peterhinch/micropython-mqtt`, or from --mqtt-as DIR
(a micropython-mqtt checkout, its bare git directory, or a folder holding mqtt_as/); without
either it is left out. Its API is asyncio, so it runs the same workload from bench_async.py,
with tools/bench_network.py standing in for the board's network module.
Prints a Markdown table; rates are noisy, so compare only within one run. Each client's
QoS 0 / QoS 1 rate is followed, on the same connection, by the raw limit: the same prebuilt
PUBLISH written whole in a loop, and a raw PUBLISH/PUBACK ping-pong; the share is printed.
The floor (tools/bench_floor.py: the least a client's Python can do, with no checks and no
state; not a client) runs the same loops here and on the chip: what a client costs above it
is what its checks and state cost, and a share of the raw limit above the floor's is out of
any client's reach.

The chip section (leanmqtt and umqtt.simple, the same .mpy files) runs on the emulated
RP2040 when LEANMQTT_SILICON holds the firmware and bootrom (host/chip.py), else says in one
line why not: import RAM, one client's RAM (32-bit heap), the smallest free heap for the
standard workload (ballast, bisected), CPU cycles per QoS 0 / QoS 1 publish and per QoS 0 /
QoS 1 message received, from the cycle counter at the edges of a pin (tools/
bench_chip_device.py, in-memory streams, no network). Cycle counts are deterministic:
comparable across commits. --chip-only runs just that section.
"""
import argparse
import json
import re
import time
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from host import mpy  # noqa: E402
from host.broker import Mosquitto  # noqa: E402
from tools.build import mpy_cross  # noqa: E402
from host.proxy import DOWN, UP, FaultProxy  # noqa: E402
from host.lines import Lines  # noqa: E402

TOPIC_LEN, PAYLOAD_LEN = 13, 32  # as in bench_device.py
# A QoS 1 reading at the protocol's minimum: PUBLISH (type, length, topic length, topic,
# packet id, payload) and its PUBACK (4 bytes).
MIN_READING = 1 + 1 + 2 + TOPIC_LEN + 2 + PAYLOAD_LEN + 4

HERE = os.path.dirname(os.path.abspath(__file__))
DEVICE_SCRIPT = os.path.join(HERE, "bench_device.py")
WORKLOAD_SCRIPT = os.path.join(HERE, "bench_workload.py")
IMPORT_SCRIPT = os.path.join(HERE, "bench_import.py")
ASYNC_SCRIPT = os.path.join(HERE, "bench_async.py")
ASYNC_WORKLOAD = os.path.join(HERE, "bench_async_workload.py")
ASYNC = ("mqtt_as", "leanmqtt_async")
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


def find_mqtt_as(src, dest):
    """Puts mqtt_as/__init__.py under dest; returns its path, or None (then it is left out)."""
    out = os.path.join(dest, "mqtt_as", "__init__.py")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if src is None:
        subprocess.run([mpy.micropython_path(), "-m", "mip", "install", "--target", dest,
                        "github:peterhinch/micropython-mqtt"], capture_output=True, timeout=60)
    elif os.path.isdir(os.path.join(src, "objects")) and not os.path.isdir(os.path.join(src, "mqtt_as")):
        with open(out, "wb") as f:
            f.write(subprocess.run(["git", "--git-dir", src, "show", "HEAD:mqtt_as/__init__.py"],
                                   capture_output=True, check=True).stdout)
    else:
        shutil.copy(os.path.join(src, "mqtt_as", "__init__.py"), out)
    if not os.path.exists(out):
        print("mqtt_as left out: no internet for mip; pass --mqtt-as DIR", file=sys.stderr)
        return None
    return out


def device(module, port, what, path, n=0, heap=None, ballast=0):
    args = [module, port, what] + ([n] if n else []) + ([ballast] if ballast else [])
    script = WORKLOAD_SCRIPT if what in ("import", "workload") else DEVICE_SCRIPT
    if module in ASYNC:  # asyncio clients: bench_async*.py take the module first, as here
        script = ASYNC_WORKLOAD if what == "workload" else ASYNC_SCRIPT
        if what == "workload":
            args = [module, port] + ([ballast] if ballast else [])
    try:
        # Short of heap, mqtt_as may keep retrying inside its tasks: a workload that has not
        # finished in 20 s (it takes 1-3 s) did not work.
        p = subprocess.run(mpy.cmd(script, args, heap), env=clean_env(path), capture_output=True,
                           text=True, timeout=20 if what == "workload" else 300)
    except subprocess.TimeoutExpired:
        return -1, {}, "timed out"
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


def writes_per_publish(module, port, path, n=50):
    """Socket writes per QoS 0 and QoS 1 publish, counted with strace."""
    if not shutil.which("strace"):
        return None, None
    log = os.path.join(path, "strace.log")
    subprocess.run(["strace", "-f", "-e", "trace=write,sendto,sendmsg", "-o", log]
                   + mpy.cmd(DEVICE_SCRIPT, [module, port, "writes", n]),
                   env=clean_env(path), capture_output=True, timeout=300)
    counts, phase = {}, None
    for line in open(log):
        m = re.search(r"(write|sendto|sendmsg)\((\d+), (.*)", line)
        if not m:
            continue
        fd, rest = int(m.group(2)), m.group(3)
        if fd == 1 and "MARK-" in rest:
            phase = rest.split("MARK-")[1][:3].strip('\\n"')
            continue
        if fd > 2 and phase in ("Q0", "Q1"):
            counts[phase] = counts.get(phase, 0) + 1
    return counts.get("Q0", 0) / n, counts.get("Q1", 0) / n


def wire_bytes_per_reading(module, broker_port, path, n=200):
    """Bytes both ways per QoS 1 reading, through the proxy, against the minimum."""
    px = FaultProxy(broker_port)
    try:
        rc, out, err = device(module, px.port, "wire", path, n=n)
        time.sleep(0.2)
        with px.lock:
            total = sum(len(p) for _, d, p in px.log
                        if (d == UP and p[0] >> 4 in (3, 12)) or (d == DOWN and p[0] >> 4 in (4, 13)))
    finally:
        px.close()
    return total / n


def idle_ping_bytes(module, broker_port, path, keepalive=2):
    """PINGREQ + PINGRESP bytes over 4 idle keepalives, scaled to an hour at keepalive 60 s;
    and whether the broker dropped the client for silence."""
    px = FaultProxy(broker_port)
    try:
        rc, out, err = device(module, px.port, "idle", path, n=keepalive)
        with px.lock:
            ping = sum(len(p) for _, d, p in px.log if p[0] >> 4 in (12, 13))
    finally:
        px.close()
    per_keepalive = ping / 4
    return per_keepalive * 3600 / 60, "dropped" in out


def dead_link_times(module, broker_port, path, keepalive=2):
    """Seconds from a silent link (blackhole) to its detection, and from the link's return
    to the reconnect, for a client publishing a QoS 1 reading every 50 ms."""
    px = FaultProxy(broker_port)
    p = subprocess.Popen(mpy.cmd(DEVICE_SCRIPT, [module, px.port, "deadlink", keepalive]),
                         env=clean_env(path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Lines(p)
    try:
        time.sleep(1.0)
        px.set("blackhole")
        t0 = time.monotonic()
        t_down, _ = out.wait("link down", timeout=20)
        px.set("pass")
        t1 = time.monotonic()
        t_up, _ = out.wait("link up", timeout=30)
        text = out.finish(timeout=60)
        lost = "deadlink_done" not in text or not text.rstrip().endswith(" 0")
        return t_down - t0, t_up - t1, lost
    except AssertionError:
        p.kill()
        return None, None, True
    finally:
        px.close()


def smallest_heap(module, port, path, ballast=0):
    lo, hi = 2048, 256 * 1024  # lo fails, hi works
    rc, out, _ = device(module, port, "workload", path, heap=hi, ballast=ballast)
    if rc or out.get("ok") is None:
        return None
    while hi - lo > 256:
        mid = (lo + hi) // 2 // 256 * 256
        rc, out, _ = device(module, port, "workload", path, heap=mid, ballast=ballast)
        if rc == 0 and "ok" in out:
            hi = mid
        else:
            lo = mid
    return hi


CHIP_SCRIPT = os.path.join(HERE, "bench_chip_device.py")
# The floor: the least a client's Python can do per message (no checks, no state), measured
# by the same loops as the clients, so that the distance to it is printed every run.
FLOOR, FLOOR_PY = "floor", os.path.join(HERE, "bench_floor.py")
CHIP_PIN = 15  # bench_chip_device.py's timing pin
CHIP_SEGMENTS = ("empty", "qos0", "qos1", "recv0", "recv1")
# Names made before the import, for the cycles' range: each count is deterministic for one
# state of MicroPython's map lookup cache, and moves by thousands with the names an
# application makes first (bench_chip_device.py, NAMES); 0 is the table's figure.
CHIP_NAMES = (0, 7, 14, 21, 28, 35, 42, 49)


def chip_section(mpydir, names, n, opt):
    """The chip's figures for each client, on the firmware in LEANMQTT_SILICON: import RAM,
    one client's RAM (32-bit heap), the smallest free heap the standard workload runs in
    (ballast, bisected; a fresh boot per try), and CPU cycles per operation from the cycle
    counter at the edges of CHIP_PIN, the empty loop's cycles taken off. Deterministic:
    comparable across commits. None (and one line saying why) without firmware."""
    try:
        from host.chip import Chip, silicon
    except ImportError as e:
        print("chip section skipped: no emulator harness (%s)" % e)
        return None
    fw, rom, why = silicon()
    if why:
        print("chip section skipped: " + why)
        return None
    from concurrent.futures import ThreadPoolExecutor

    script = mpy_cross(CHIP_SCRIPT, os.path.join(mpydir, "chip", "bench_chip_device.mpy"), opt)
    out = {"firmware_sha256": file_sha256(fw)}
    for name in names:
        rel = name.replace(".", "/") + ".mpy"
        files = {"bench_chip_device.mpy": script, rel: os.path.join(mpydir, rel)}
        # each run a chip of its own (a node process): two at once, on two cores
        states = CHIP_NAMES if name != FLOOR else CHIP_NAMES[:1]
        with ThreadPoolExecutor(2) as ex:
            runs = list(ex.map(lambda k: chip_cycles(Chip, files, name, n, k), states))
        r = out[name] = runs[0]
        r["cycles_by_names"] = {seg: [x["cycles_" + seg] for x in runs] for seg in CHIP_SEGMENTS[1:]}
        r["smallest_heap"] = None if name == FLOOR else chip_smallest_heap(Chip, files, name)
    return out


def median(v):
    return sorted(v)[len(v) // 2]


def file_sha256(path):
    import hashlib

    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def chip_run(Chip, files, call, timeout):
    """(stdout lines as a dict, the timing pin's edges, error or None) of one call on a
    freshly booted chip (no network: the streams are in memory)."""
    from host.chip import ChipError

    with Chip(files=files, net=False, pins=(CHIP_PIN,), name="bench") as chip:
        m = chip.mark()
        try:
            text = chip.exec("import bench_chip_device as b\nb.run(%s)" % call, timeout)
            err = None
        except ChipError as e:
            text, err = e.out, e.err or str(e)
        # the last edge's report may trail the REPL's answer by a slice of instructions
        time.sleep(0.2)
        edges = chip.edges(CHIP_PIN, since=m)
    kv = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        kv[k] = v
    return kv, edges, err


def chip_cycles(Chip, files, name, n, names=0):
    kv, edges, err = chip_run(Chip, files, "%r, 'cycles', %d, 0, %d" % (name, n, names), 120)
    if err or "done" not in kv:
        raise RuntimeError("chip: %s failed: %s" % (name, err))
    spans, up = [], None  # a pulse is a rising edge and the falling one after it
    for v, c, _ in edges:  # (Pin(..., value=0) may report a first falling edge)
        if v:
            up = c
        elif up is not None:
            spans.append(c - up)
            up = None
    if len(spans) != len(CHIP_SEGMENTS):
        raise RuntimeError("chip: %s: %d pulses on GP%d, not %d" % (name, len(spans), CHIP_PIN, len(CHIP_SEGMENTS)))
    span = dict(zip(CHIP_SEGMENTS, spans))
    r = {"import_ram": int(kv["import_ram"]), "client_ram": int(kv["client_ram"]),
         "empty_loop_cycles": span["empty"] // n}
    for seg in CHIP_SEGMENTS[1:]:
        r["cycles_" + seg] = round((span[seg] - span["empty"]) / n)
    return r


def chip_smallest_heap(Chip, files, name, step=64):
    """The least free heap (gc.mem_free() once the ballast is held) in which the standard
    workload still runs, by bisecting the ballast between 0 (works) and all of the heap."""
    def works(ballast):
        kv, _, err = chip_run(Chip, files, "%r, 'workload', 0, %d" % (name, ballast), 60)
        return (not err and "ok" in kv), int(kv.get("free", 0))
    ok, free0 = works(0)
    if not ok:
        return None
    lo, hi, best = 0, free0, free0  # lo works, hi fails
    while hi - lo > step:
        mid = (lo + hi) // 2
        ok, free = works(mid)
        if ok:
            lo, best = mid, free
        else:
            hi = mid
    return best


def print_chip(chip):
    print()
    print("On the chip (rp2040js, firmware sha256 %s…; cycles per operation, the empty loop's "
          "taken off; topic 13 B, payload 32 B, in-memory stream):" % chip["firmware_sha256"][:8])
    cols = [("client", None), ("import RAM (.mpy)", lambda r: "%d B" % r["import_ram"]),
            ("one client", lambda r: "%d B" % r["client_ram"]),
            ("smallest free heap for the workload", lambda r: "%.1f KB" % (r["smallest_heap"] / 1024)
             if r["smallest_heap"] else "n/a" if r["smallest_heap"] is None else "fails"),
            ("cycles per QoS0 publish", lambda r: "{:,}".format(r["cycles_qos0"])),
            ("per QoS1 publish (PUBACK in)", lambda r: "{:,}".format(r["cycles_qos1"])),
            ("per QoS0 message received", lambda r: "{:,}".format(r["cycles_recv0"])),
            ("per QoS1 message received (PUBACK out)", lambda r: "{:,}".format(r["cycles_recv1"]))]
    print("| " + " | ".join(c for c, _ in cols) + " |")
    print("|" + "---|" * len(cols))
    names = [k for k in chip if k not in ("firmware_sha256", FLOOR)] + [k for k in chip if k == FLOOR]
    for name in names:
        print("| " + " | ".join([name] + [f(chip[name]) for _, f in cols[1:]]) + " |")
    lean, base = chip.get("leanmqtt"), chip.get("umqtt.simple")
    if lean and base:
        print()
        print("leanmqtt / umqtt.simple on the chip: cycles per QoS0 publish x%.2f, QoS1 publish x%.2f, "
              "QoS0 received x%.2f, QoS1 received x%.2f"
              % tuple(lean[k] / base[k] for k in ("cycles_qos0", "cycles_qos1", "cycles_recv0", "cycles_recv1")))
    for name in names:
        v = chip[name]["cycles_by_names"]
        if len(v["qos0"]) > 1:
            print("%s after %d-%d names made first (%d states), cycles min / median / max: %s" % (
                name, CHIP_NAMES[0], CHIP_NAMES[-1], len(v["qos0"]), "; ".join(
                    "%s %s" % (label, " / ".join("{:,}".format(x) for x in (min(v[seg]), median(v[seg]), max(v[seg]))))
                    for seg, label in (("qos0", "QoS0 publish"), ("qos1", "QoS1 publish"),
                                       ("recv0", "QoS0 received"), ("recv1", "QoS1 received")))))
    floor = chip.get(FLOOR)
    if lean and base and floor:
        keys = ("cycles_qos0", "cycles_qos1", "cycles_recv0", "cycles_recv1")
        print("above the floor (%s: no checks, no state), cycles per QoS0 / QoS1 publish, QoS0 / QoS1 "
              "received: leanmqtt %s, umqtt.simple %s" % (
                  os.path.relpath(FLOOR_PY, mpy.ROOT),
                  " / ".join("+{:,}".format(lean[k] - floor[k]) for k in keys),
                  " / ".join("+{:,}".format(base[k] - floor[k]) for k in keys)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--anchors", help="micropython-lib checkout / bare git dir / folder with umqtt/")
    ap.add_argument("--mqtt-as", help="micropython-mqtt checkout / bare git dir / folder with mqtt_as/")
    ap.add_argument("--n", type=int, default=20000, help="QoS 0 publishes per rate run")
    ap.add_argument("--json", help="write the results here as JSON")
    ap.add_argument("--opt", type=int, default=3, help="mpy-cross -O level, the same for every client")
    ap.add_argument("--chip-n", type=int, default=100, help="operations per timed loop on the chip")
    ap.add_argument("--chip-only", action="store_true", help="only the chip's section")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="leanmqtt-bench-")
    src = os.path.join(work, "src")
    found = find_anchors(a.anchors, src)
    clients = {"leanmqtt": os.path.join(mpy.ROOT, "device", "leanmqtt.py")}
    for m in found:
        clients["umqtt." + m] = os.path.join(src, "umqtt", m + ".py")
    # Each client measured as .mpy, alone on the path (robust needs simple beside it).
    mpydir = os.path.join(work, "mpy")
    for name, py in list(clients.items()) + [(FLOOR, FLOOR_PY)]:
        rel = name.replace(".", "/") + ".mpy"
        mpy_cross(py, os.path.join(mpydir, rel), a.opt)
    # The chip: leanmqtt and umqtt.simple, the same .mpy files as below (issue 10, item 6),
    # and the floor
    chip = chip_section(mpydir, [c for c in clients if c in ("leanmqtt", "umqtt.simple")] + [FLOOR],
                        a.chip_n, a.opt)
    if a.chip_only:
        shutil.rmtree(work, ignore_errors=True)
        if chip:
            print_chip(chip)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"chip": chip}, f, indent=1)
        return
    mqtt_as = find_mqtt_as(a.mqtt_as, src)
    asyncdir = os.path.join(work, "mpy_async")  # mqtt_as and the network stand-in, alone
    if mqtt_as:
        mpy_cross(mqtt_as, os.path.join(asyncdir, "mqtt_as", "__init__.mpy"), a.opt)
        mpy_cross(os.path.join(HERE, "bench_network.py"), os.path.join(asyncdir, "network.mpy"), a.opt)
    lean_async = os.path.join(mpy.ROOT, "device", "leanmqtt_async.py")
    for m in ("leanmqtt", "leanmqtt_async"):  # the asyncio API needs the core beside it
        mpy_cross(os.path.join(mpy.ROOT, "device", m + ".py"), os.path.join(asyncdir, m + ".mpy"), a.opt)
    results = {}
    with Mosquitto() as broker:
        for name, py in clients.items():
            mpy_file = os.path.join(mpydir, name.replace(".", "/") + ".mpy")
            r = results[name] = measure_ram_and_rates(name, py, mpy_file, broker.port, mpydir, a.n)
            r["writes_qos0"], r["writes_qos1"] = writes_per_publish(name, broker.port, mpydir)
            r["wire_bytes"] = wire_bytes_per_reading(name, broker.port, mpydir)
            r["idle_ping_bytes_per_hour"], r["dropped_when_idle"] = idle_ping_bytes(name, broker.port, mpydir)
            if name == "leanmqtt":
                rc, out, err = device(name, broker.port, "window", mpydir, n=a.n // 4)
                r["window_rate"] = int(out.get("window_rate", 0))
                # QoS 2 beside QoS 1: stop-and-wait (plain mode) and the same window
                rc, out, err = device(name, broker.port, "rates2", mpydir, n=max(a.n // 20, 20))
                r["qos2_rate"] = int(out.get("qos2_rate", 0))
                rc, out, err = device(name, broker.port, "window2", mpydir, n=a.n // 4)
                r["window2_rate"] = int(out.get("window2_rate", 0))
                r["dead_link_found_s"], r["recovered_s"], r["deadlink_lost"] = dead_link_times(
                    name, broker.port, mpydir)
        # The floor's rates, and the raw limit on its connection
        rc, out, err = device(FLOOR, broker.port, "rates", mpydir, n=a.n)
        floor = {k: int(out.get(k, 0)) for k in ("qos0_rate", "qos0_raw_rate", "qos1_rate", "qos1_raw_rate")}
        # The asyncio clients: the first table, then 8 publisher tasks and latency. mqtt_as
        # does ~10 msg/s at QoS 1, so fewer messages.
        for name, py, mpy_file, n in (
                ("leanmqtt_async", lean_async, os.path.join(asyncdir, "leanmqtt_async.mpy"), a.n),
                ("mqtt_as", mqtt_as, os.path.join(asyncdir, "mqtt_as", "__init__.mpy"), a.n // 10)):
            if not py:
                continue
            r = results[name] = measure_ram_and_rates(name, py, mpy_file, broker.port, asyncdir, n)
            rc, out, err = device(name, broker.port, "tasks", asyncdir, n=n)
            r["tasks8_rate"] = int(out.get("tasks8_rate", 0))
            rc, out, err = device(name, broker.port, "latency", asyncdir)
            r["latency_us"] = [int(x) for x in out.get("latency_us", "-1 -1 0").split()]
    shutil.rmtree(work, ignore_errors=True)
    print_table(results, floor)
    results[FLOOR] = floor
    if chip:
        print_chip(chip)
        results["chip"] = chip
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


def import_ram_range(name, path, steps=32):
    """Import RAM after K names made first (K = 0, 8, ...): MicroPython's qstr pools double
    as they fill, so one figure depends on what was interned before (bench_import.py)."""
    got = []
    for k in range(0, 8 * steps, 8):
        p = subprocess.run(mpy.cmd(IMPORT_SCRIPT, [name, k]), env=clean_env(path), capture_output=True,
                           text=True, timeout=60)
        got += [int(v) for key, _, v in (ln.partition(" ") for ln in p.stdout.splitlines()) if key == "import_ram"]
    return got


def measure_ram_and_rates(name, py, mpy_file, port, path, n):
    """The first table's columns: sizes, RAM, allocation, rates."""
    r = {"source_bytes": os.path.getsize(py), "mpy_bytes": os.path.getsize(mpy_file)}
    rc, out, err = device(name, port, "import", path)
    r["import_ram"] = int(out["import_ram"]) if "import_ram" in out else None
    if name not in ASYNC:
        r["import_ram_by_names"] = import_ram_range(name, path)
    r["smallest_heap"] = smallest_heap(name, port, path)
    r["smallest_heap_8k_app"] = smallest_heap(name, port, path, ballast=8192 - 64)
    rc, out, err = device(name, port, "alloc", path)
    r["alloc_qos0"] = int(out.get("alloc_qos0", -1))
    r["alloc_qos1"] = int(out.get("alloc_qos1", -1))
    r["heap_lock"] = out.get("heap_lock", "?")
    rc, out, err = device(name, port, "rates", path, n=n)
    if rc:
        print(err, file=sys.stderr)
    r["qos0_rate"] = int(out.get("qos0_rate", 0))
    r["qos1_rate"] = int(out.get("qos1_rate", 0))
    r["qos0_raw_rate"] = int(out.get("qos0_raw_rate", 0))  # none for mqtt_as
    r["qos1_raw_rate"] = int(out.get("qos1_raw_rate", 0))
    return r


def share(r, qos):
    return r["qos%d_rate" % qos] / r["qos%d_raw_rate" % qos] if r.get("qos%d_raw_rate" % qos) else None


def print_table(results, floor=None):
    cols = [("client", None), (".py / .mpy bytes", lambda r: "%d / %d" % (r["source_bytes"], r["mpy_bytes"])),
            ("import RAM (.mpy)", lambda r: "%d B" % r["import_ram"]),
            ("smallest working heap", lambda r: "%.1f KB" % (r["smallest_heap"] / 1024) if r["smallest_heap"] else "fails"),
            ("… beside 8 KB of app", lambda r: "%.1f KB" % (r["smallest_heap_8k_app"] / 1024) if r["smallest_heap_8k_app"] else "fails"),
            ("heap B per QoS0 / QoS1 publish", lambda r: "%d / %d" % (r["alloc_qos0"], r["alloc_qos1"])),
            ("heap_lock publish", lambda r: r["heap_lock"]),
            ("QoS0 msg/s", lambda r: "{:,}".format(r["qos0_rate"])),
            ("QoS1 msg/s (stop-and-wait)", lambda r: "{:,}".format(r["qos1_rate"]))]
    # The raw limit, on the same connection right after each client's run (bench_device.py)
    limit = lambda r, q: "{:,} ({:.0%})".format(r["qos%d_raw_rate" % q], share(r, q)) if share(r, q) else "n/a"  # noqa: E731
    cols += [("raw QoS0 writes msg/s (client's share)", lambda r: limit(r, 0)),
             ("raw QoS1 ping-pong msg/s (client's share)", lambda r: limit(r, 1))]
    print("| " + " | ".join(c for c, _ in cols) + " |")
    print("|" + "---|" * len(cols))
    for name, r in results.items():
        print("| " + " | ".join([name] + [f(r) for _, f in cols[1:]]) + " |")
    print()
    # The same .mpy's import RAM moves with the names made before it (bench_import.py)
    for name, r in results.items():
        v = sorted(r.get("import_ram_by_names") or [])
        if v:
            print("import RAM of %s after 0-%d names made first (%d states): %d B min, %d B median, %d B max"
                  % (name, 8 * (len(v) - 1), len(v), v[0], v[len(v) // 2], v[-1]))
    print()
    fmt = lambda v, f: "n/a" if v is None else f % v  # noqa: E731
    cols2 = [("client", None),
             ("socket writes per QoS0 / QoS1 publish", lambda r: "%s / %s" % (fmt(r["writes_qos0"], "%.1f"), fmt(r["writes_qos1"], "%.1f"))),
             ("QoS1 msg/s, in-flight window 16", lambda r: "{:,}".format(r["window_rate"]) if r.get("window_rate") else "no window"),
             ("QoS2 msg/s stop-and-wait / window 16", lambda r: "{:,} / {:,}".format(r["qos2_rate"], r["window2_rate"])
              if r.get("qos2_rate") else "no QoS 2"),
             ("bytes on the wire per QoS1 reading (minimum %d)" % MIN_READING, lambda r: "%.1f" % r["wire_bytes"]),
             ("keepalive bytes per idle hour (keepalive 60 s)", lambda r: "%.0f" % r["idle_ping_bytes_per_hour"]
              + (" (never pings: the broker drops it)" if r["dropped_when_idle"] else "")),
             ("silent link found / recovered after", lambda r: "%.1f s / %.1f s" % (r["dead_link_found_s"], r["recovered_s"])
              if r.get("dead_link_found_s") is not None else "never: no keepalive, blocks")]
    print("| " + " | ".join(c for c, _ in cols2) + " |")
    print("|" + "---|" * len(cols2))
    for name, r in results.items():
        if "wire_bytes" in r:  # mqtt_as runs only the first table's measurements
            print("| " + " | ".join([name] + [f(r) for _, f in cols2[1:]]) + " |")
    aio = [n for n in ASYNC[::-1] if n in results]
    if aio:
        print()
        print("| asyncio client | QoS1 msg/s, 8 publisher tasks (stop-and-wait each) | "
              "message latency p50 / p99, 4 other tasks running |")
        print("|---|---|---|")
        for name in aio:
            r = results[name]
            lat = r["latency_us"]
            print("| %s | {:,} | %.2f ms / %.2f ms (%d of 100) |".format(r["tasks8_rate"])
                  % (name, lat[0] / 1000, lat[1] / 1000, lat[2]))
    base = results.get("umqtt.simple")
    lean = results["leanmqtt"]
    if base:
        print()
        print("leanmqtt / umqtt.simple: QoS0 rate x%.1f, QoS1 rate x%.0f, smallest heap x%.2f "
              "(x%.2f beside 8 KB of app)"
              % (lean["qos0_rate"] / max(base["qos0_rate"], 1), lean["qos1_rate"] / max(base["qos1_rate"], 1),
                 lean["smallest_heap"] / base["smallest_heap"],
                 lean["smallest_heap_8k_app"] / base["smallest_heap_8k_app"]))
    if share(lean, 0) and share(lean, 1):
        print("leanmqtt at %.0f%% of raw QoS0 writes (goal >= 50%%), %.0f%% of a raw QoS1 "
              "ping-pong (goal >= 70%%), same connection, same run" % (100 * share(lean, 0), 100 * share(lean, 1)))
    if floor and share(floor, 0) and share(floor, 1):
        print("the floor (%s: no checks, no state) at %.0f%% of raw QoS0 writes (%s msg/s), %.0f%% of a "
              "raw QoS1 ping-pong (%s msg/s), same run" % (
                  os.path.relpath(FLOOR_PY, mpy.ROOT), 100 * share(floor, 0), "{:,}".format(floor["qos0_rate"]),
                  100 * share(floor, 1), "{:,}".format(floor["qos1_rate"])))
    mas = results.get("mqtt_as")
    if mas and mas["smallest_heap"] and mas["import_ram"]:
        print("leanmqtt / mqtt_as: import RAM x%.2f, smallest heap x%.2f (x%.2f beside 8 KB of app), "
              "QoS1 rate x%.0f"
              % (lean["import_ram"] / mas["import_ram"], lean["smallest_heap"] / mas["smallest_heap"],
                 lean["smallest_heap_8k_app"] / mas["smallest_heap_8k_app"],
                 lean["qos1_rate"] / max(mas["qos1_rate"], 1)))
    la = results.get("leanmqtt_async")
    if mas and la and mas["import_ram"] and mas["smallest_heap"]:
        print("leanmqtt_async / mqtt_as: import RAM x%.2f, smallest heap x%.2f, QoS1 rate x%.0f "
              "(8 tasks x%.0f), latency p50 x%.3f"
              % (la["import_ram"] / mas["import_ram"], la["smallest_heap"] / mas["smallest_heap"],
                 la["qos1_rate"] / max(mas["qos1_rate"], 1), la["tasks8_rate"] / max(mas["tasks8_rate"], 1),
                 la["latency_us"][0] / max(mas["latency_us"][0], 1)))


if __name__ == "__main__":
    main()
