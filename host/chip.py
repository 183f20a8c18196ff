"""Drives an emulated RP2040 running real MicroPython rp2 firmware (host/rp2040/emulator.js,
rp2040js from npm), as host/mpy.py drives the unix port.

    chip = Chip(files=built_files("rp2040_ppp")).start()   # boots; files are in littlefs
    out = chip.exec("print(1 + 1)", timeout=10)             # the raw REPL over USB CDC
    chip.edges(22)                                          # [(value, cycles, us), ...]
    chip.spans(22)                                          # cycles while the pin was high
    chip.close()

The firmware and bootrom come from the folder in LEANMQTT_SILICON (`silicon()` says why
they are not there). UART0 goes through socat to slirp: on the device, 10.0.2.2 is the
host's 127.0.0.1 once PPP is up (`ppp_up()`).

Node's reports (JSON lines on its stdout): ready, boot, usb, pin (pin, v, cycles, us),
reset (machine.reset()), watchdog (the watchdog fired; the chip reboots), cycles, log,
slirp-exit, exit. Commands (`command(cmd=..., ...)`): adc (ch, v: 12-bit), bme280 (p, t,
h: raw ADC words), i2c-regs (at, hex), pin (pin: report its edges too), cycles, stop.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(ROOT, "host", "rp2040")
FIRMWARE = "micropython-rp2-pico-ppp.uf2"
BOOTROM = "bootrom-b1.bin"
FS_OFFSET, FS_SIZE, FS_BLOCK = 0x100000, 0x100000, 4096  # the firmware's littlefs
HOST = "10.0.2.2"  # the host's 127.0.0.1, seen from inside slirp


class ChipError(AssertionError):
    """A script on the chip raised, or did not finish in time; .out and .err hold its output."""

    def __init__(self, msg, out="", err=""):
        super().__init__("%s\n--- stdout\n%s\n--- stderr\n%s" % (msg, out, err))
        self.out, self.err = out, err


def silicon():
    """(firmware path, bootrom path, None) when LEANMQTT_SILICON holds both, else
    (None, None, why not)."""
    d = os.environ.get("LEANMQTT_SILICON")
    if not d:
        return None, None, "LEANMQTT_SILICON is not set (a folder with %s and %s)" % (FIRMWARE, BOOTROM)
    fw, rom = os.path.join(d, FIRMWARE), os.path.join(d, BOOTROM)
    for p in (fw, rom):
        if not os.path.exists(p):
            return None, None, "LEANMQTT_SILICON=%s has no %s" % (d, os.path.basename(p))
    if not os.path.exists(os.path.join(HARNESS, "node_modules", "rp2040js")):
        return None, None, "rp2040js is not installed: run `make setup` (npm ci in host/rp2040)"
    for tool in ("node", "socat", "slirp-fullbolt"):
        if not shutil.which(tool) and not os.path.exists("/usr/bin/" + tool):
            return None, None, "%s is missing: run `make setup` as root (apt-get)" % tool
    return fw, rom, None


def built_files(board="rp2040_ppp", main=False):
    """{name on the board: local path} for device/ and the board, compiled to .mpy by
    tools/build.py, built once per process. main.py (source) only with main=True: the
    firmware runs it at boot."""
    sys.path.insert(0, ROOT)
    from host.mpy import built

    out = built(board)
    return {n: os.path.join(out, n) for n in os.listdir(out) if main or n != "main.py"}


def make_fs(files, path):
    """Writes a littlefs2 image of the firmware's 1 MiB filesystem holding files
    ({name: local path or bytes}) to path."""
    from littlefs import LittleFS

    fs = LittleFS(block_size=FS_BLOCK, block_count=FS_SIZE // FS_BLOCK)
    for name, src in files.items():
        data = src if isinstance(src, (bytes, bytearray)) else open(src, "rb").read()
        d = os.path.dirname(name)
        if d:
            fs.makedirs(d, exist_ok=True)
        with fs.open(name, "wb") as f:
            f.write(data)
    with open(path, "wb") as f:
        f.write(fs.context.buffer)


class Chip:
    def __init__(self, files=None, net=True, pins=(), name="chip"):
        self.files = dict(files or {})
        self.net = net
        self.pins = sorted({25} | set(pins))  # 25: the LED
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="leanmqtt-chip-")
        self.proc = None
        self.sock = None
        self.events = []
        self.cond = threading.Condition()
        self.rx = bytearray()  # bytes from the REPL not read yet
        self.console = bytearray()  # everything the REPL ever said, for failure reports

    # ---- lifetime
    def start(self, timeout=60, repl=True):
        """Boots the chip. repl=True: interrupts main.py, if any, and enters the raw REPL;
        repl=False leaves main.py running (its output is in .console)."""
        fw, rom, why = silicon()
        if why:
            raise RuntimeError(why)
        img = os.path.join(self.dir, "fs.img")
        make_fs(self.files, img)
        cmd = ["node", os.path.join(HARNESS, "emulator.js"), "--firmware", fw, "--bootrom", rom,
               "--fs", img, "--pins", ",".join(map(str, self.pins))]
        if not self.net:
            cmd.append("--no-net")
        self.stderr = open(os.path.join(self.dir, "emulator.stderr"), "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, cwd=HARNESS)
        threading.Thread(target=self._read_events, daemon=True).start()
        ready = self.wait_event(lambda e: e["ev"] == "ready", 20)
        if not ready:
            raise RuntimeError("emulator did not start: %s" % self._stderr())
        self.sock = socket.create_connection(("127.0.0.1", ready["repl"]), timeout=10)
        self.sock.settimeout(None)
        threading.Thread(target=self._read_repl, daemon=True).start()
        self.wait_usb(timeout)
        if repl:
            self.raw_repl(timeout)
        return self

    def close(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.command(cmd="stop")
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self.sock:
            self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.close()

    def _stderr(self):
        try:
            with open(os.path.join(self.dir, "emulator.stderr"), "rb") as f:
                return f.read().decode(errors="replace")[-2000:]
        except OSError:
            return ""

    # ---- reports and commands
    def _read_events(self):
        for raw in self.proc.stdout:
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()
        with self.cond:
            self.events.append({"ev": "gone"})
            self.cond.notify_all()

    def wait_event(self, pred, timeout, since=0):
        """The first report from index `since` on for which pred is true, or None in time."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events[since:]:
                    if pred(e):
                        return e
                left = end - time.monotonic()
                if left <= 0 or (self.events and self.events[-1]["ev"] == "gone"):
                    return None
                self.cond.wait(left)

    def reports(self, kind):
        with self.cond:
            return [e for e in self.events if e["ev"] == kind]

    def command(self, **c):
        self.proc.stdin.write((json.dumps(c) + "\n").encode())
        self.proc.stdin.flush()

    def edges(self, pin, since=0):
        """(value, cycles, device us) at each edge of pin, in order."""
        with self.cond:
            return [(e["v"], e["cycles"], e["us"]) for e in self.events[since:]
                    if e["ev"] == "pin" and e["pin"] == pin]

    def spans(self, pin, since=0):
        """CPU cycles from each rising edge of pin to the falling edge after it: the cost of
        what the device did with the pin high (deterministic: the same code from the same
        state gives the same count, across boots; run it once first to warm up)."""
        out, up = [], None
        for v, cycles, _ in self.edges(pin, since):
            if v:
                up = cycles
            elif up is not None:
                out.append(cycles - up)
                up = None
        return out

    def mark(self):
        """An index into the reports, for `since=`."""
        with self.cond:
            return len(self.events)

    def cycles(self, timeout=10):
        """The cycle counter now (between two slices of instructions)."""
        n = self.mark()
        self.command(cmd="cycles")
        e = self.wait_event(lambda e: e["ev"] == "cycles", timeout, since=n)
        return e["cycles"] if e else None

    def watchdog_fired(self, since=0):
        """The watchdog's firings reported past mark `since` ([] if none)."""
        with self.cond:
            return [e for e in self.events[since:] if e["ev"] == "watchdog"]

    # ---- the REPL
    def _read_repl(self):
        while True:
            try:
                d = self.sock.recv(4096)
            except OSError:
                d = b""
            with self.cond:
                if not d:
                    self.rx += b"\x00EOF"
                    self.cond.notify_all()
                    return
                self.rx += d
                self.console += d
                self.cond.notify_all()

    def write(self, data):
        self.sock.sendall(data)

    def read_until(self, marker, timeout):
        """What the REPL says up to and including marker; raises ChipError after timeout."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                i = self.rx.find(marker)
                if i >= 0:
                    out = bytes(self.rx[: i + len(marker)])
                    del self.rx[: i + len(marker)]
                    return out
                left = end - time.monotonic()
                if left <= 0 or self.rx.endswith(b"\x00EOF"):
                    got = bytes(self.rx)
                    raise ChipError("chip: no %r within %.0f s (%s)" % (marker, timeout, self._why()),
                                    got.decode(errors="replace"))
                self.cond.wait(left)

    def _why(self):
        if self.proc.poll() is not None:
            return "emulator exited %s: %s" % (self.proc.returncode, self._stderr())
        w = self.watchdog_fired()
        return "watchdog fired at %d us" % w[-1]["us"] if w else "emulator running"

    def wait_usb(self, timeout=60):
        if not self.wait_event(lambda e: e["ev"] == "usb", timeout, since=self._last_boot()):
            raise ChipError("chip: USB CDC did not come up (%s)" % self._why())

    def _last_boot(self):
        with self.cond:
            b = [i for i, e in enumerate(self.events) if e["ev"] == "boot"]
            return b[-1] if b else 0

    def raw_repl(self, timeout=30):
        """Interrupts whatever runs and enters the raw REPL."""
        end = time.monotonic() + timeout
        while True:
            with self.cond:
                self.rx.clear()
            self.write(b"\r\x03\x03\x01")
            try:
                self.read_until(b"raw REPL; CTRL-B to exit\r\n>", 3)
                return
            except ChipError:
                if time.monotonic() > end:
                    raise

    def exec_raw(self, code, timeout=30):
        """Runs code (str) on the chip; returns (stdout, stderr) as text. A script still running
        after timeout seconds of wall time is interrupted (Ctrl-C) and ChipError raised."""
        self.spawn(code)
        try:
            out = self.read_until(b"\x04", timeout)[:-1]
        except ChipError as e:
            self.write(b"\x03")
            try:
                self.read_until(b"\x04", 5)
                self.read_until(b"\x04>", 5)
            except ChipError:
                self.raw_repl()
            raise ChipError("chip: script still running after %.0f s (%s)" % (timeout, self._why()), e.out)
        err = self.read_until(b"\x04>", 10)[:-2]
        return out.decode(errors="replace"), err.decode(errors="replace")

    def spawn(self, code):
        """Starts code on the chip and returns at once; then expect() and finish()."""
        if isinstance(code, str):
            code = code.encode()
        with self.cond:
            self.rx.clear()
        self.write(code + b"\x04")
        self.read_until(b"OK", 10 + len(code) / 2000)
        self._out = bytearray()

    def expect(self, text, timeout=30):
        """Waits for text in what the running script prints; returns its output up to and
        including it (and keeps it for finish())."""
        got = self.read_until(text.encode(), timeout)
        if b"\x04" in got:
            raise ChipError("chip: the script ended before printing %r" % text,
                            got.decode(errors="replace"))
        self._out += got
        return got.decode(errors="replace").replace("\r\n", "\n")

    def finish(self, timeout=30):
        """Waits for the spawned script's end; returns all its stdout, raises ChipError if
        it raised or did not end in time (it is interrupted then)."""
        try:
            rest = self.read_until(b"\x04", timeout)[:-1]
        except ChipError as e:
            self.write(b"\x03")
            self.raw_repl()
            raise ChipError("chip: script still running after %.0f s (%s)" % (timeout, self._why()),
                            (bytes(self._out) + e.out.encode()).decode(errors="replace"))
        err = self.read_until(b"\x04>", 10)[:-2].decode(errors="replace").replace("\r\n", "\n")
        out = (bytes(self._out) + rest).decode(errors="replace").replace("\r\n", "\n")
        if err:
            raise ChipError("chip: script raised", out, err)
        return out

    def rebooted(self, since, timeout=30, repl=True):
        """After a reset or a watchdog firing reported past mark `since` (the chip then
        boots again): waits for the new boot's USB and, with repl=True, its raw REPL.
        Returns the report of the reset."""
        r = self.wait_event(lambda e: e["ev"] in ("reset", "watchdog"), timeout, since)
        if not r:
            raise ChipError("chip: no reset within %.0f s (%s)" % (timeout, self._why()))
        self.wait_event(lambda e: e["ev"] == "boot" and e["reason"] == r["ev"], 10, since)
        self.wait_usb(timeout)
        if repl:
            self.raw_repl(timeout)
        return r

    def exec(self, code, timeout=30):
        """Runs code; returns its stdout; raises ChipError with the traceback if it raised."""
        out, err = self.exec_raw(code, timeout)
        out, err = out.replace("\r\n", "\n"), err.replace("\r\n", "\n")
        if err:
            raise ChipError("chip: script raised", out, err)
        return out

    def ppp_up(self, timeout=20):
        """Brings PPP up through the board's network_up(); the IP address."""
        return self.exec("import board\nassert board.network_up('', '', %d)\nprint(board.ip())"
                         % (timeout * 1000), timeout + 10).split()[-1]
