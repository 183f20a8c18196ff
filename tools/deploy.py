#!/usr/bin/env python3
"""Builds the .mpy files for a board and copies them onto it with mpremote.

    python tools/deploy.py --board esp32 --port /dev/ttyUSB0

Copies leanmqtt, the app (main.py stays source), the board's board.py, and
device/settings.py when it exists (your Wi-Fi and broker settings). Then reset the board
(`mpremote connect PORT reset`) to start main.py.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.build import ROOT, build  # noqa: E402


def mpremote(port, *args):
    cmd = [sys.executable, "-m", "mpremote", "connect", port] + list(args)
    return subprocess.run(cmd, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True, choices=sorted(os.listdir(os.path.join(ROOT, "boards"))))
    ap.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0 or /dev/ttyACM0")
    ap.add_argument("--opt", type=int, default=3, help="mpy-cross -O level (0 keeps line numbers)")
    a = ap.parse_args()
    if not a.port:
        sys.exit("deploy: give the port, e.g. make deploy BOARD=esp32 PORT=/dev/ttyUSB0")
    files = build(a.board, os.path.join(ROOT, "build", a.board), a.opt)
    settings = os.path.join(ROOT, "device", "settings.py")
    if os.path.exists(settings):
        files.append(settings)
    elif a.board != "unix":
        print("deploy: no device/settings.py; copy device/settings_template.py to it and fill it in")
    # ":" is the board's current folder; the unix port (a virtual board) needs it spelled
    # ":./", as its os.stat("") fails.
    mpremote(a.port, "fs", "cp", *files, ":./" if a.board == "unix" else ":")
    print("deploy: %d files on the %s board; `mpremote connect %s reset` starts main.py"
          % (len(files), a.board, a.port))


if __name__ == "__main__":
    main()
