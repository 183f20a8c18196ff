#!/usr/bin/env python3
"""Type-checks the device and board code against each board's MicroPython stubs (pyright).

    python tools/typecheck.py [--stubs .stubs] [esp32 rp2040]

The stubs (PyPI micropython-esp32-stubs, micropython-rp2-rpi-pico-w-stubs) are installed
into STUBS/<board> when missing. Each board is checked against its own stubs only: they
are both pyright's stubPath and its typeshedPath, and no host site-packages are searched,
so a module that the board lacks is an error, not silently the host's.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUBS = {
    "esp32": "micropython-esp32-stubs==1.29.0.post1",
    "rp2040": "micropython-rp2-rpi-pico-w-stubs==1.29.0.post1",
}
DEVICE_FILES = ["leanmqtt.py", "main.py", "config.py", "reading.py", "bme280.py", "chiptemp.py",
                "wifi.py", "settings_template.py", "ha.py", "leanmqtt_async.py"]


def ensure_stubs(board, base):
    path = os.path.join(base, board)
    if not os.path.exists(os.path.join(path, "machine.pyi")):
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--target", path, STUBS[board]], check=True)
    return path


def check(board, stubs, files=None):
    bin_dir = os.path.dirname(sys.executable)
    pyright = os.path.join(bin_dir, "pyright")
    with tempfile.TemporaryDirectory() as tmp:
        if files is None:
            files = [os.path.join(ROOT, "device", f) for f in DEVICE_FILES]
            files.append(os.path.join(ROOT, "boards", board, "board.py"))
        conf = {
            "extraPaths": [os.path.join(ROOT, "device"), os.path.join(ROOT, "boards", board)],
            "stubPath": stubs,
            "typeshedPath": stubs,
            "pythonVersion": "3.8",
            "pythonPlatform": "Linux",
            "typeCheckingMode": "basic",
            "reportMissingModuleSource": "none",
        }
        with open(os.path.join(tmp, "pyrightconfig.json"), "w") as f:
            json.dump(conf, f)
        empty = os.path.join(tmp, "nopython")  # no interpreter: no host site-packages
        r = subprocess.run([pyright, "-p", tmp, "--pythonpath", empty, "--outputjson"] + files,
                           capture_output=True, text=True)
        try:
            report = json.loads(r.stdout)
        except ValueError:
            print(r.stdout, r.stderr)
            return 1
        for d in report["generalDiagnostics"]:
            print("%s:%d: %s: %s" % (os.path.relpath(d["file"], ROOT), d["range"]["start"]["line"] + 1,
                                     d["severity"], d["message"]))
        s = report["summary"]
        print("%d files checked, %d errors, %d warnings" % (s["filesAnalyzed"], s["errorCount"], s["warningCount"]))
        if s["filesAnalyzed"] < len(files):
            print("pyright checked fewer files than given")
            return 1
        return 1 if s["errorCount"] else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stubs", default=os.path.join(ROOT, ".stubs"))
    ap.add_argument("boards", nargs="*", default=sorted(STUBS))
    a = ap.parse_args()
    failed = []
    for board in a.boards:
        print("== %s" % board, flush=True)
        if check(board, ensure_stubs(board, os.path.abspath(a.stubs))):
            failed.append(board)
    if failed:
        sys.exit("type errors on: " + ", ".join(failed))


if __name__ == "__main__":
    main()
