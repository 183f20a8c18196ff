"""A real Mosquitto on a free 127.0.0.1 port, configured from a temp dir, stopped by its pid."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mosquitto_path():
    for p in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if p and os.path.exists(p):
            return p
    raise RuntimeError("mosquitto not found: run `apt-get install mosquitto` (or `make test` as root)")


def wait_port(port, timeout=10.0, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("broker exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on 127.0.0.1:%d after %.0fs" % (port, timeout))


class _Process:
    """A broker process: stop() ends it by its pid, politely first."""

    proc = None

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self, sig=signal.SIGTERM, down=0.0):
        # The port may linger in TIME_WAIT; Mosquitto sets SO_REUSEADDR, so it starts again.
        self.stop(sig)
        time.sleep(down)
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.close()


class Mosquitto(_Process):
    """One broker. `extra` is appended to the listener's config (TLS, passwords)."""

    def __init__(self, port=None, extra="", persistence=False):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="leanmqtt-broker-")
        self.extra = extra
        self.persistence = persistence
        self.anonymous = False  # with a password file: also let clients in without a name
        self.proc = None

    @property
    def conf(self):
        return os.path.join(self.dir, "mosquitto.conf")

    @property
    def logfile(self):
        return os.path.join(self.dir, "mosquitto.log")

    def path(self, name):
        """A file in the broker's own dir, readable by the broker (passwords, certs)."""
        return os.path.join(self.dir, name)

    def _own(self):
        # Started as root, mosquitto drops to the `mosquitto` user: give it its dir.
        if os.geteuid() != 0:
            return
        try:
            pw = pwd.getpwnam("mosquitto")
        except KeyError:
            return
        for name in [""] + os.listdir(self.dir):
            os.chown(os.path.join(self.dir, name), pw.pw_uid, pw.pw_gid)

    def start(self):
        lines = [
            "listener %d 127.0.0.1" % self.port,
            "allow_anonymous %s" % str(self.anonymous or "password_file" not in self.extra).lower(),
            "persistence %s" % ("true" if self.persistence else "false"),
            "persistence_location %s/" % self.dir,
            "log_dest file %s" % self.logfile,
            "log_type all",
            "max_keepalive 65535",
            "max_queued_messages 0",  # no limit: a slow host subscriber loses nothing
            "autosave_interval 1",
            self.extra,
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self._own()
        self.proc = subprocess.Popen(
            [mosquitto_path(), "-c", self.conf],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "stderr"), "ab"),
        )
        wait_port(self.port, proc=self.proc)
        return self

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except OSError:
            return ""

    def add_user(self, user, password):
        """Makes the broker want this user (and no anonymous clients): a password file."""
        pw = self.path("passwd")
        create = [] if os.path.exists(pw) else ["-c"]  # -c makes the file, once
        subprocess.run(["mosquitto_passwd", "-b"] + create + [pw, user, password],
                       check=True, capture_output=True)
        os.chmod(pw, 0o600)
        self.extra = "password_file %s" % pw
        return pw


class Amqtt(_Process):
    """amqtt (PyPI), a broker in Python: the demo's fallback where Mosquitto cannot be
    installed, and one of the interop matrix's brokers. Same interface as Mosquitto, fewer
    options (no TLS here). It runs from .venv-amqtt (host/amqtt/requirements.txt, made by
    `make interop`), else from the running Python's venv (`make demo` installs it there)."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="leanmqtt-amqtt-")
        self.proc = None
        self.users = {}
        self.exe = None
        for d in (os.path.join(ROOT_DIR, ".venv-amqtt", "bin"), os.path.dirname(sys.executable)):
            if os.path.exists(os.path.join(d, "amqtt")):
                self.exe = os.path.join(d, "amqtt")
                break
        self.version = ""
        if self.exe:
            self.version = subprocess.run(
                [os.path.join(os.path.dirname(self.exe), "python"), "-c",
                 "import importlib.metadata as m; print(m.version('amqtt'))"],
                capture_output=True, text=True).stdout.strip()

    def add_user(self, user, password):
        """A user (anonymous clients are still let in): an argon2 password file."""
        self.users[user] = password

    def start(self):
        if not self.exe:
            raise RuntimeError("amqtt is not installed: pip install amqtt==0.12.1")
        conf = os.path.join(self.dir, "amqtt.yaml")
        plugins = "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
        if self.users:
            pw = os.path.join(self.dir, "passwd")
            subprocess.run([os.path.join(os.path.dirname(self.exe), "python"), "-c",
                            "import sys; from pwdlib.hashers.argon2 import Argon2Hasher as H\n"
                            "a = sys.argv[2:]\n"
                            "open(sys.argv[1], 'w').write(''.join(\n"
                            "  u + ':' + H().hash(p) + '\\n' for u, p in zip(a[::2], a[1::2])))",
                            pw] + [x for up in self.users.items() for x in up], check=True)
            plugins += ("  amqtt.plugins.authentication.FileAuthPlugin:\n"
                        "    password_file: %s\n" % pw)
        with open(conf, "w") as f:
            f.write("listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:%d\n"
                    "plugins:\n%s" % (self.port, plugins))
        self.proc = subprocess.Popen([self.exe, "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "log"), "ab"))
        wait_port(self.port, timeout=30, proc=self.proc)
        return self


def any_broker():
    """Mosquitto when it is installed, else amqtt; (broker, name)."""
    try:
        mosquitto_path()
        return Mosquitto().start(), "mosquitto"
    except RuntimeError:
        return Amqtt().start(), "amqtt"
