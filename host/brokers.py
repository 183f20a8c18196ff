"""The other brokers users run, beside host/broker.py's Mosquitto, with the same interface:
start(), stop(sig), restart(sig, down), close(), .port, .version, add_user() before start.

Each on a free 127.0.0.1 port with a temp dir of its own, stopped by its pid:
  Aedes     (npm, host/aedes/: `npm ci` there)           node host/aedes/broker.mjs
  Amqtt     (PyPI, host/broker.py; venv .venv-amqtt)      amqtt -c amqtt.yaml
  RabbitMQ  (Debian rabbitmq-server, its MQTT plugin)     one node, or one of a cluster
  Ejabberd  (Debian ejabberd, mod_mqtt)                   ejabberdctl foreground
  HAProxy   (Debian haproxy), TCP balancer with health checks, for tools/cluster.py
`make interop` installs them all.
"""
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from host.broker import ROOT_DIR, Amqtt, Mosquitto, _Process, free_port, wait_port

AEDES_DIR = os.path.join(ROOT_DIR, "host", "aedes")
RABBIT_BIN = "/usr/lib/rabbitmq/bin"


def _out(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def deb_version(package):
    """The installed Debian package's upstream version ('3.10.8'), or ''."""
    v = _out(["dpkg-query", "-W", "-f", "${Version}", package])
    return v.split(":")[-1].split("-")[0]


class _Group(_Process):
    """A process started in a session of its own, so stop() reaches its children too
    (rabbitmq-server is a shell script over the Erlang VM)."""

    def _spawn(self, argv, env=None, log="log", **kw):
        self.proc = subprocess.Popen(argv, env=env, cwd=self.dir, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, log), "ab"),
                                     start_new_session=True, **kw)

    def _group_alive(self):
        # A live (not zombie) process of the group: the VM may outlive its script.
        for pid in os.listdir("/proc"):
            try:
                with open("/proc/%s/stat" % pid) as f:
                    st = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if st[0] != "Z" and int(st[2]) == self.proc.pid:
                return True
        return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            end = time.monotonic() + 20
            while self._group_alive() and time.monotonic() < end:
                time.sleep(0.05)
            try:  # what is left of the group, by the group's id
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        self.proc = None


class Aedes(_Group):
    name = "aedes"

    def __init__(self, port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="leanmqtt-aedes-")
        self.user = None
        self.proc = None
        try:
            with open(os.path.join(AEDES_DIR, "node_modules", "aedes", "package.json")) as f:
                self.version = json.load(f)["version"]
        except OSError:
            self.version = ""  # not installed: start() says so

    def add_user(self, user, password):
        self.user = (user, password)

    def start(self):
        node = shutil.which("node")
        if not node or not os.path.isdir(os.path.join(AEDES_DIR, "node_modules")):
            raise RuntimeError("Aedes is not installed: `make interop` (npm ci in host/aedes)")
        self._spawn([node, os.path.join(AEDES_DIR, "broker.mjs"), str(self.port)]
                    + list(self.user or ()))
        wait_port(self.port, timeout=30, proc=self.proc)
        return self


class RabbitMQ(_Group):
    """One RabbitMQ node with its MQTT plugin: its own node name, Erlang cookie, data dir,
    AMQP, MQTT and distribution ports, and an epmd of its own on 127.0.0.1 (or the
    cluster's, given as epmd_port). Anonymous MQTT clients log in as the one user, so one
    node serves the anonymous scenarios and the password ones.

    cluster: node names to form a cluster with (classic config peer discovery); conf: more
    rabbitmq.conf lines (mqtt.durable_queue_type = quorum)."""

    name = "rabbitmq"

    def __init__(self, port=None, node=None, epmd_port=None, cookie="leanmqtt-cookie",
                 cluster=(), conf=(), user=("leanmqtt", "leanmqtt")):
        self.port = port or free_port()
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.dir = tempfile.mkdtemp(prefix="leanmqtt-rabbit-")
        self.node = node or "leanmqtt-%d@localhost" % self.port
        self.own_epmd = epmd_port is None
        self.epmd_port = epmd_port or free_port()
        self.epmd = None
        self.cookie, self.cluster, self.conf = cookie, list(cluster), list(conf)
        self.user = user
        self.proc = None
        self.version = deb_version("rabbitmq-server")

    def add_user(self, user, password):
        self.user = (user, password)

    def env(self):
        e = dict(os.environ)
        e.update({
            "HOME": self.dir,  # where the Erlang cookie is read from, by the node and the CLI
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.dir, "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.dir, "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": os.path.join(self.dir, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.dir, "logs"),
            "RABBITMQ_PID_FILE": os.path.join(self.dir, "pid"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(self.dir, "advanced.config"),
        })
        return e

    def _write(self):
        u, p = self.user
        lines = [
            "listeners.tcp.default = 127.0.0.1:%d" % self.amqp_port,
            "mqtt.listeners.tcp.default = 127.0.0.1:%d" % self.port,
            "mqtt.allow_anonymous = true",
            "default_user = %s" % u, "default_pass = %s" % p,
            "mqtt.default_user = %s" % u, "mqtt.default_pass = %s" % p,
            "loopback_users = none",
            "log.file.level = info",
        ]
        for i, n in enumerate(self.cluster, 1):
            if i == 1:
                lines.append("cluster_formation.peer_discovery_backend = classic_config")
            lines.append("cluster_formation.classic_config.nodes.%d = %s" % (i, n))
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write("\n".join(lines + self.conf) + "\n")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[rabbitmq_mqtt].\n")
        with open(os.path.join(self.dir, "advanced.config"), "w") as f:
            f.write("[].\n")
        cookie = os.path.join(self.dir, ".erlang.cookie")
        if not os.path.exists(cookie):
            with open(cookie, "w") as f:
                f.write(self.cookie)
            os.chmod(cookie, 0o400)

    def start_epmd(self):
        if self.own_epmd and (self.epmd is None or self.epmd.poll() is not None):
            self.epmd = start_epmd(self.epmd_port, self.dir)

    def launch(self):
        """Starts the node without waiting (a cluster starts its nodes together)."""
        exe = os.path.join(RABBIT_BIN, "rabbitmq-server")
        if not os.path.exists(exe):
            raise RuntimeError("rabbitmq-server is not installed: `make interop` (apt-get)")
        self._write()
        self.start_epmd()
        self._spawn([exe], env=self.env())
        return self

    def start(self, timeout=90):
        self.launch()
        self.wait(timeout)
        return self

    def wait(self, timeout=90):
        wait_port(self.port, timeout=timeout, proc=self.proc)

    def kill(self):
        """SIGKILL to the node's VM and its script: a crash, no goodbye to the cluster."""
        self.stop(signal.SIGKILL)

    def log(self):
        out = []
        for d in (self.dir, os.path.join(self.dir, "logs")):
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else ():
                if name.endswith(".log") or name == "log":
                    with open(os.path.join(d, name), errors="replace") as f:
                        out.append(f.read())
        return "\n".join(out)

    def close(self):
        self.stop()
        if self.epmd is not None:
            self.epmd.kill()
            self.epmd.wait()
            self.epmd = None
        shutil.rmtree(self.dir, ignore_errors=True)


class Ejabberd(_Group):
    """ejabberd (Debian) with mod_mqtt: an XMPP server that also speaks MQTT. Every MQTT
    client must log in as one of its accounts, user@localhost: `login` is the one the
    harness's clients use. Its Erlang node takes a distribution port of its own and no
    epmd (ERL_DIST_PORT)."""

    name = "ejabberd"

    def __init__(self, port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="leanmqtt-ejabberd-")
        self.node = "leanmqtt-%d@localhost" % self.port
        self.dist_port = free_port()
        self.users = {"leanmqtt@localhost": "leanmqtt"}
        self.login = ("leanmqtt@localhost", "leanmqtt")
        self.proc = None
        self.version = deb_version("ejabberd")

    def add_user(self, user, password):
        self.users[user if "@" in user else user + "@localhost"] = password

    def _argv(self, *args):
        return ["/usr/sbin/ejabberdctl", "--config-dir", self.dir, "--ctl-config",
                os.path.join(self.dir, "ejabberdctl.cfg"), "--node", self.node,
                "--spool", os.path.join(self.dir, "spool"),
                "--logs", os.path.join(self.dir, "logs")] + list(args)

    def _as(self):
        # As root, ejabberdctl would `su` to its user, and su puts the VM in a session of
        # its own, out of reach of stop(): start it as that user ourselves.
        e = dict(os.environ, HOME=self.dir)
        if os.geteuid() == 0:
            return dict(env=e, user="ejabberd", group="ejabberd")
        return dict(env=e)

    def _ctl(self, *args):
        return subprocess.run(self._argv(*args), cwd=self.dir, capture_output=True, text=True,
                              timeout=60, check=True, **self._as())

    def start(self):
        if not os.path.exists("/usr/sbin/ejabberdctl"):
            raise RuntimeError("ejabberd is not installed: `make interop` (apt-get)")
        fresh = not os.path.exists(os.path.join(self.dir, "spool"))
        with open(os.path.join(self.dir, "ejabberd.yml"), "w") as f:
            f.write("hosts:\n  - localhost\nloglevel: info\nauth_method: [internal]\n"
                    "auth_password_format: plain\nlisten:\n  -\n    port: %d\n"
                    "    ip: \"127.0.0.1\"\n    module: mod_mqtt\n"
                    "modules:\n  mod_mqtt: {}\n" % self.port)
        with open(os.path.join(self.dir, "ejabberdctl.cfg"), "w") as f:
            f.write("ERL_DIST_PORT=%d\nINET_DIST_INTERFACE=127.0.0.1\n"
                    "EJABBERD_PID_PATH=%s/pid\n" % (self.dist_port, self.dir))
        for d in ("spool", "logs"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        if os.geteuid() == 0:  # ejabberdctl runs ejabberd as its own user
            pw = pwd.getpwnam("ejabberd")
            for root, dirs, files in os.walk(self.dir):
                for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                    os.chown(n, pw.pw_uid, pw.pw_gid)
        self._spawn(self._argv("foreground"), **self._as())
        wait_port(self.port, timeout=60, proc=self.proc)
        if fresh:
            for u, p in self.users.items():
                user, host = u.split("@")
                self._ctl("register", user, host, p)
        return self


def start_epmd(port, logdir):
    """An epmd of our own on 127.0.0.1:port, in the foreground so that we hold its pid."""
    epmd = subprocess.Popen(["epmd", "-port", str(port), "-address", "127.0.0.1"],
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(logdir, "epmd.log"), "ab"),
                            start_new_session=True)
    wait_port(port, timeout=10, proc=epmd)
    return epmd


class HAProxy(_Group):
    """HAProxy in TCP mode on a free port, in front of servers [(name, port)]: checks
    each server's port every `inter` ms (down after 2 failures, up after 1 success), sends a
    new connection only to a server that is up, and a failed connect to another one."""

    name = "haproxy"

    def __init__(self, servers, port=None, inter=500):
        self.port = port or free_port()
        self.servers = servers
        self.inter = inter
        self.dir = tempfile.mkdtemp(prefix="leanmqtt-haproxy-")
        self.sock = os.path.join(self.dir, "stats.sock")
        self.proc = None
        self.version = deb_version("haproxy")

    def start(self):
        exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.path.exists(exe):
            raise RuntimeError("haproxy is not installed: `make cluster` (apt-get)")
        lines = [
            "global", "  stats socket %s mode 600 level admin" % self.sock,
            "defaults", "  mode tcp", "  timeout connect 2s",
            "  timeout client 120s", "  timeout server 120s",
            "  retries 3", "  option redispatch",
            "frontend mqtt", "  bind 127.0.0.1:%d" % self.port, "  default_backend nodes",
            "backend nodes", "  balance roundrobin",
            "  default-server check inter %d fall 2 rise 1 on-marked-down shutdown-sessions"
            % self.inter,
        ]
        lines += ["  server %s 127.0.0.1:%d" % s for s in self.servers]
        conf = os.path.join(self.dir, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self._spawn([exe, "-f", conf, "-db"])
        wait_port(self.port, timeout=10, proc=self.proc)
        return self

    def stat(self):
        """{server: (status, current sessions)} from the stats socket."""
        import socket

        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.sock)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        rows = data.decode().splitlines()
        head = rows[0].lstrip("# ").split(",")
        out = {}
        for r in rows[1:]:
            v = dict(zip(head, r.split(",")))
            if v.get("pxname") == "nodes" and v.get("svname") not in ("BACKEND", None):
                out[v["svname"]] = (v["status"], int(v["scur"] or 0))
        return out


def mosquitto():
    b = Mosquitto(persistence=True)
    b.name = "mosquitto"
    b.anonymous = True  # and one user, as the other brokers here
    b.version = deb_version("mosquitto")
    return b


def amqtt():
    b = Amqtt()
    b.name = "amqtt"
    return b


# The matrix's brokers, in the order of its table: name -> a factory of a stopped broker.
MATRIX = {"mosquitto": mosquitto, "rabbitmq": RabbitMQ, "aedes": Aedes, "amqtt": amqtt,
          "ejabberd": Ejabberd}
