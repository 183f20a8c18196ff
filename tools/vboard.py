#!/usr/bin/env python3
"""A virtual board for CI: a pty that speaks MicroPython's raw REPL to a unix-port process.

    python tools/vboard.py --fs DIR [--link PATH]

Prints the pty's path (and makes PATH a link to it); mpremote opens it like a serial port
(`mpremote connect /dev/pts/N ls`). DIR is the board's filesystem: the process runs there,
with only .frozen and DIR on its module path. As on a board:
- a soft reset (Ctrl-D at an empty raw-REPL prompt, as mpremote sends) ends the unix
  port's process; this shim starts a fresh one and prints the "soft reboot" banner;
- machine.reset() (`mpremote reset`) restarts the process and runs boot.py and main.py;
- Ctrl-C interrupts a running program (the pty turns it into SIGINT).
The pty passes bytes unchanged: no \\n to \\r\\n, which mpremote would not accept.
Stops on SIGTERM or SIGINT.
"""
import argparse
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from host import mpy  # noqa: E402

BOOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vboard_boot.py")
RAW_PROMPTS = (b"raw REPL; CTRL-B to exit\r\n>", b"\x04>")


def raw_pty():
    master, slave = pty.openpty()
    tty.setraw(slave)
    return master, slave


class VBoard:
    def __init__(self, fs, link=None):
        self.fs = os.path.abspath(fs)
        os.makedirs(self.fs, exist_ok=True)
        self.user, self.user_slave = raw_pty()  # kept open: the pty lives between clients
        self.path = os.ttyname(self.user_slave)
        if link:
            if os.path.lexists(link):
                os.remove(link)
            os.symlink(self.path, link)
        self.child = None
        self.cm = None
        self.tail = b""  # the last bytes the board printed
        self.fresh_raw_prompt = False
        self.stopping = False

    def spawn(self, run_main):
        cm, cs = raw_pty()
        attrs = termios.tcgetattr(cs)
        attrs[3] |= termios.ISIG  # Ctrl-C becomes SIGINT while a program runs
        termios.tcsetattr(cs, termios.TCSANOW, attrs)
        env = mpy.env()
        env["MICROPYPATH"] = ".frozen:" + self.fs
        env["VBOARD_RUN_MAIN"] = "1" if run_main else "0"
        self.child = subprocess.Popen(
            [mpy.micropython_path(), "-i", BOOT], stdin=cs, stdout=cs, stderr=cs,
            cwd=self.fs, env=env, start_new_session=True,
        )
        os.close(cs)
        self.cm = cm
        self.tail = b""
        self.fresh_raw_prompt = False

    def kill_child(self):
        if self.child and self.child.poll() is None:
            self.child.kill()
        if self.child:
            self.child.wait()
        if self.cm is not None:
            os.close(self.cm)
        self.cm = None

    def soft_reset(self):
        # What a board prints on a soft reset in the raw REPL, then a fresh raw REPL.
        self.kill_child()
        os.write(self.user, b"OK\r\nMPY: soft reboot\r\n")
        self.spawn(run_main=False)
        self.wait_for(b">>> ")
        os.write(self.cm, b"\r\x01")
        rest = self.wait_for(b"raw REPL; CTRL-B to exit\r\n")
        os.write(self.user, b"raw REPL; CTRL-B to exit\r\n" + rest)
        self.tail = b"raw REPL; CTRL-B to exit\r\n" + rest
        self.fresh_raw_prompt = self.tail.endswith(RAW_PROMPTS)

    def wait_for(self, text, timeout=10):
        # Reads the child's output up to text; returns what came after it.
        buf = b""
        end = time.monotonic() + timeout
        while text not in buf and time.monotonic() < end:
            r, _, _ = select.select([self.cm], [], [], 0.1)
            if r:
                try:
                    buf += os.read(self.cm, 4096)
                except OSError:
                    break
        return buf.split(text, 1)[1] if text in buf else b""

    def run(self):
        self.spawn(run_main=True)
        while not self.stopping:
            fds = [self.user] + ([self.cm] if self.cm is not None else [])
            try:
                r, _, _ = select.select(fds, [], [], 0.2)
            except InterruptedError:
                continue
            if self.cm is not None and self.cm in r:
                try:
                    data = os.read(self.cm, 4096)
                except OSError:
                    data = b""
                if data:
                    os.write(self.user, data)
                    self.tail = (self.tail + data)[-64:]
                    self.fresh_raw_prompt = self.tail.endswith(RAW_PROMPTS)
            if self.user in r:
                data = os.read(self.user, 4096)
                for i in range(len(data)):
                    b = data[i : i + 1]
                    if b == b"\x04" and self.fresh_raw_prompt:
                        self.soft_reset()
                        continue
                    self.fresh_raw_prompt = False
                    if self.cm is not None:
                        os.write(self.cm, b)
            if self.child.poll() is not None:
                # The process ended: machine.reset(), sys.exit() or a crash. Boot again.
                self.kill_child()
                self.spawn(run_main=True)
        self.kill_child()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fs", required=True, help="the board's filesystem (a folder)")
    ap.add_argument("--link", help="also make this path a link to the pty")
    a = ap.parse_args()
    vb = VBoard(a.fs, a.link)

    def stop(*_):
        vb.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(vb.path, flush=True)
    vb.run()


if __name__ == "__main__":
    main()
