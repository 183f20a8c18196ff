#!/usr/bin/env python3
"""The outbox's figures: flash written per reading on a real littlefs, its RAM, and the time
from a wake to the reading's PUBACK in sleep mode on the unix board.

    python tools/bench_outbox.py [--n 2000] [--wakes 10] [--size 32768]

Flash: tools/bench_outbox_device.py mounts MicroPython's own VfsLfs2 (the littlefs the boards
run) on a 1 MiB RAM block device with a Pico's geometry (4096-byte blocks, progsize 256) that
counts the bytes littlefs programs and the blocks it erases. RAM: gc.mem_alloc() around the
import of outbox.mpy (mpy-cross -O3) and around Outbox(...). Wake to PUBACK: device/main.py
in sleep mode against Mosquitto, as ticks from main.py's first line to flush() returning with
nothing pending (the process start before it is given apart, from the host's clock).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from host import mpy  # noqa: E402
from host.broker import Mosquitto  # noqa: E402

DEVICE = os.path.join(ROOT, "tools", "bench_outbox_device.py")
MAIN = os.path.join(ROOT, "device", "main.py")
ENDURANCE = 100000  # erase cycles of a block: the Pico's W25Q16JV and ESP32 modules' flash
BLOCKS = 256 - 8  # 1 MiB of 4 KiB blocks, less what littlefs and the outbox's files hold


def kv(text):
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        out[k] = v
    return out


def flash_and_ram(n, size):
    built = mpy.built()
    p = mpy.run(DEVICE, [n, size], only=built, timeout=600)
    return kv(p.stdout)


def wakes(k, size):
    d = tempfile.mkdtemp(prefix="leanmqtt-bench-wake-")
    times, walls = [], []
    with Mosquitto() as b:
        env = {"LEANMQTT_BROKER": "127.0.0.1", "LEANMQTT_PORT": str(b.port), "LEANMQTT_SLEEP": "1",
               "LEANMQTT_OUTBOX": str(size), "LEANMQTT_OUTBOX_PATH": os.path.join(d, "ob"),
               "LEANMQTT_INTERVAL_MS": "100"}
        for _ in range(k):
            t = time.monotonic()
            p = subprocess.run(mpy.cmd(MAIN), env=mpy.env(extra=env, only=None), capture_output=True,
                               text=True, timeout=60)
            walls.append((time.monotonic() - t) * 1000)
            line = [ln for ln in p.stdout.splitlines() if ln.startswith("app: flushed")]
            if not line:
                raise SystemExit("a wake did not flush:\n" + p.stdout + p.stderr)
            times.append(int(line[0].split(" in ")[1].split()[0]))
    return times, walls


def years(erase_milli):
    per_year = 525600 * erase_milli / 1000  # one reading a minute
    return ENDURANCE * BLOCKS / per_year


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="readings per flash measurement")
    ap.add_argument("--wakes", type=int, default=10)
    ap.add_argument("--size", type=int, default=32768, help="outbox bytes")
    a = ap.parse_args()
    r = flash_and_ram(a.n, a.size)
    print("outbox.mpy: import RAM %s B; Outbox(size=%d, window=8): %s B on the unix port's files, "
          "%s B on littlefs (two files open)" % (r["import_ram"], a.size, r["instance_ram_posix"],
                                                  r["instance_ram"]))
    print()
    print("| a reading (%s-byte record) | flash programmed | blocks erased | 1 MiB littlefs lasts, "
          "one reading a minute |" % r["record_bytes"])
    print("|---|---|---|---|")
    for key, what in (("stored", "stored in an outage (put)"),
                      ("acked", "sent and acknowledged (put, take, ack)"),
                      ("wake", "sleep mode: one wake (open, put, take, ack, close)")):
        em = int(r[key + "_erase_milli"])
        print("| %s | %s B | %.3f | %.0f years |" % (what, r[key + "_prog"], em / 1000, years(em)))
    print()
    times, walls = wakes(a.wakes, a.size)
    print("sleep mode, wake to PUBACK (unix board, Mosquitto on 127.0.0.1, %d wakes): median %d ms, "
          "max %d ms in main.py; process start to exit %d ms median"
          % (len(times), statistics.median(times), max(times), statistics.median(walls)))


if __name__ == "__main__":
    main()
