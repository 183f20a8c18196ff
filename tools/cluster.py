#!/usr/bin/env python3
"""A RabbitMQ cluster behind HAProxy, a fleet through it, and one node killed with SIGKILL.

    python tools/cluster.py [--nodes 3] [--classic] [--back-after S] [--devices 20] ...
    python tools/cluster.py --table      # the README's table: the four setups below

The nodes (host/brokers.py RabbitMQ) have their own names, Erlang cookie, data dirs,
ports and one epmd on 127.0.0.1; node 1 starts first and the others join it. HAProxy
(host/brokers.py) checks each node's MQTT port every 500 ms and gives new connections to
the nodes that answer. The devices are tools/fleet_device.py (leanmqtt clients in
resilient mode under the unix port, QoS 1, a reading every --interval-ms) connected
through HAProxy; a paho subscriber with a persistent session (QoS 1, client id
cluster-sub) too. --phase seconds after the first reading, the node that holds the
subscriber's connection, and so its session queue, is killed (--kill other: a node
without it). Reported: readings sent (accepted by publish), received, lost, duplicates,
and the time to recover: the longest pause in any device's delivered readings.

Also checked on the side, with paho clients connected straight to the nodes: is a
retained message published on one node sent by another, and is the will of a client
connected to the killed node published?
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import paho.mqtt.client as mqtt  # noqa: E402

from host import mpy  # noqa: E402
from host.brokers import HAProxy, RabbitMQ, start_epmd  # noqa: E402
from host.broker import free_port  # noqa: E402
from host.subscriber import Recorder, publish  # noqa: E402

FLEET = os.path.join(ROOT, "tools", "fleet_device.py")


class Cluster:
    def __init__(self, n, quorum=True):
        self.epmd_port = free_port()
        tag = self.epmd_port
        names = ["leanmqtt-%s-%d@localhost" % (chr(97 + i), tag) for i in range(n)]
        conf = ["mqtt.durable_queue_type = quorum"] if quorum else []
        self.nodes = [RabbitMQ(node=names[i], epmd_port=self.epmd_port, cookie="lean-%d" % tag,
                               cluster=names if i else (), conf=conf) for i in range(n)]
        self.epmd = None
        self.proxy = None

    def start(self):
        self.epmd = start_epmd(self.epmd_port, self.nodes[0].dir)
        self.nodes[0].start()
        for nd in self.nodes[1:]:  # they join node 1, all at once
            nd.launch()
        for nd in self.nodes[1:]:
            nd.wait()
        # Joined when a message published on each node reaches a subscriber on node 1
        # (routing crosses the cluster only between its members).
        r = Recorder(self.nodes[0].port, "cluster/joined/#", 1).start()
        try:
            end = time.monotonic() + 60
            for i, nd in enumerate(self.nodes[1:], 1):
                topic = "cluster/joined/%d" % i
                while not any(m[0] == topic for m in r.wait_for(
                        lambda ms: any(m[0] == topic for m in ms), 0.5)):
                    if time.monotonic() > end:
                        raise RuntimeError("node %s did not join the cluster" % nd.node)
                    try:
                        publish(nd.port, "cluster/joined/%d" % i, b"1", qos=1)
                    except OSError:  # its listener restarts as it joins (seen once): again
                        pass
        finally:
            r.stop()
        self.proxy = HAProxy([(nd.node.split("@")[0], nd.port) for nd in self.nodes]).start()
        return self

    def node_of_sessions(self, n_sessions=1):
        """Index of the node that holds the proxy's connection(s) (when one node has them)."""
        end = time.monotonic() + 10
        while time.monotonic() < end:
            st = self.proxy.stat()
            busy = [i for i, nd in enumerate(self.nodes) if st.get(nd.node.split("@")[0], ("", 0))[1]]
            if len(busy) == 1:
                return busy[0]
            time.sleep(0.2)
        raise RuntimeError("cannot tell which node holds the subscriber: %s" % self.proxy.stat())

    def close(self):
        if self.proxy:
            self.proxy.close()
        for nd in self.nodes:
            nd.close()
        if self.epmd:
            self.epmd.kill()
            self.epmd.wait()


def _will_client(port, topic):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="will-" + topic.split("/")[-1])
    c.will_set(topic, b"gone", qos=1)
    c.connect("127.0.0.1", port, keepalive=5)
    c.loop_start()
    return c


def _probe(port, out, timeout=10.0):
    """Times a new MQTT connection straight to a surviving node: CONNACK or not."""
    ok = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe-after-kill")
    c.on_connect = lambda c, u, f, rc, p=None: ok.set() if not rc.is_failure else None
    t0 = time.monotonic()
    try:
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        out["connack_after_kill_s"] = round(time.monotonic() - t0, 1) if ok.wait(timeout) else None
        c.loop_stop()
        c.disconnect()
    except OSError:
        out["connack_after_kill_s"] = None


def run(nodes=3, quorum=True, devices=20, interval_ms=200, phase=4, seconds=12,
        back_after=None, kill="subscriber", side_checks=True, log=print):
    t_start = time.monotonic()
    cl = Cluster(nodes, quorum)
    got = {}  # (device, seq) -> arrival, host ms since the epoch
    arrivals = {}  # device -> [arrival ms]
    dups = [0]
    lock = threading.Lock()
    result = {"nodes": nodes, "queues": "quorum" if quorum else "classic", "devices": devices,
              "interval_ms": interval_ms, "killed": kill, "back_after": back_after}
    try:
        cl.start()
        result["startup_s"] = round(time.monotonic() - t_start, 1)
        log("cluster of %d up in %.0f s; HAProxy on %d" % (nodes, result["startup_s"], cl.proxy.port))
        sub = Recorder(cl.proxy.port, "fleet/#", 1, client_id="cluster-sub", clean=False)

        def on_message(c, u, m):
            now = time.time() * 1000
            d, s, _ = m.payload.decode().split(",")
            key = (int(d), int(s))
            with lock:
                if key in got:
                    dups[0] += 1
                else:
                    got[key] = now
                arrivals.setdefault(int(d), []).append(now)

        sub.c.on_message = on_message
        sub.start()
        sub_node = cl.node_of_sessions()
        victim = sub_node if kill == "subscriber" else (sub_node + 1) % nodes
        others = [i for i in range(nodes) if i != victim]
        result["victim"] = cl.nodes[victim].node
        will = None
        if side_checks:
            # a retained message taken by one node, asked for on another
            publish(cl.nodes[others[0]].port, "cluster/retained", b"kept", qos=1, retain=True)
            r = Recorder(cl.nodes[victim].port, "cluster/retained", 1).start()
            result["retained_across_nodes"] = bool(r.wait_count(1, 3))
            r.stop()
            will = _will_client(cl.nodes[victim].port, "cluster/will/victim")
            will_rec = Recorder(cl.nodes[others[0]].port, "cluster/will/#", 1).start()
        fleet = subprocess.Popen(mpy.cmd(FLEET, [cl.proxy.port, devices, seconds, interval_ms, 1000]),
                                 env=mpy.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        end = time.monotonic() + 60
        while not got and time.monotonic() < end:
            time.sleep(0.05)
        if not got:
            fleet.kill()
            raise RuntimeError("no reading came through the cluster: %s" % fleet.communicate()[0])
        time.sleep(phase)
        kill_ms = time.time() * 1000
        cl.nodes[victim].kill()
        probe = threading.Thread(target=_probe, args=(cl.nodes[others[0]].port, result))
        probe.start()
        log("killed %s (SIGKILL)%s" % (cl.nodes[victim].node,
                                       ", the subscriber's node" if victim == sub_node else ""))
        if back_after is not None:
            time.sleep(back_after)
            cl.nodes[victim].start()
            log("%s is back" % cl.nodes[victim].node)
        out, _ = fleet.communicate(timeout=seconds + 180)
        probe.join()
        words = dict((w[0], w[1:]) for w in (ln.split() for ln in out.splitlines()) if w)
        if fleet.returncode or "sent" not in words:
            raise RuntimeError("the devices failed:\n" + out)
        sent = int(words["sent"][0])
        end = time.monotonic() + 30
        while time.monotonic() < end and len(got) < sent:
            time.sleep(0.2)
        sub.stop()
        if will is not None:
            result["will_of_killed_node_client"] = bool(will_rec.wait_count(1, 1))
            will_rec.stop()
            will.loop_stop()
        end_ms = time.time() * 1000
        with lock:
            gaps, never = [], 0
            for d, ts in arrivals.items():
                # the pause in its readings around the kill; to the end if they never resumed
                ts = sorted(t for t in ts if t > kill_ms - 2000)
                if ts[-1] < kill_ms + 1000:
                    never += 1
                    ts.append(end_ms)
                gaps.append(max([b - a for a, b in zip(ts, ts[1:])] + [0]))
            result.update({
                "sent": sent, "received": len(got), "lost": sent - len(got),
                "duplicates": dups[0], "refused": int(words["sent"][2]),
                "pending_at_end": int(words["sent"][4]),
                "recover_s": round(max(gaps + [0]) / 1000, 1), "devices_heard": len(arrivals),
                "never_recovered": never,
            })
    finally:
        cl.close()
    result["wall_s"] = round(time.monotonic() - t_start, 1)
    return result


SETUPS = [  # the README's table
    dict(nodes=2, quorum=False, kill="other"),
    dict(nodes=2, quorum=False, kill="subscriber"),
    dict(nodes=2, quorum=True, kill="subscriber", back_after=10),
    dict(nodes=3, quorum=True, kill="subscriber"),
]


def row(r):
    setup = "%d nodes, %s queues, %s node killed%s" % (
        r["nodes"], r["queues"], "the subscriber's" if r["killed"] == "subscriber" else "another",
        ", back after %d s" % r["back_after"] if r["back_after"] is not None else "")
    recover = "%.1f s" % r["recover_s"]
    if r["never_recovered"]:
        recover = "never (%d devices)" % r["never_recovered"]
    c = r.get("connack_after_kill_s")
    return "| %s | %d | %d | %d | %d | %s | %s | %s | %s |" % (
        setup, r["sent"], r["received"], r["lost"], r["duplicates"], recover,
        "%.1f s" % c if c is not None else "none in 10 s",
        "yes" if r.get("retained_across_nodes") else "no",
        "yes" if r.get("will_of_killed_node_client") else "no")


HEAD = ("| setup | sent | received | lost | duplicates | time to recover | new connection "
        "to a survivor: CONNACK after | retained across nodes | will of a client on the "
        "killed node |\n|---|---|---|---|---|---|---|---|---|")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--classic", action="store_true", help="classic session queues, not quorum")
    ap.add_argument("--kill", choices=("subscriber", "other"), default="subscriber")
    ap.add_argument("--back-after", type=float, default=None)
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--interval-ms", type=int, default=200)
    ap.add_argument("--phase", type=float, default=4)
    ap.add_argument("--seconds", type=int, default=12)
    ap.add_argument("--table", action="store_true", help="run the README's four setups")
    a = ap.parse_args()
    common = dict(devices=a.devices, interval_ms=a.interval_ms, phase=a.phase, seconds=a.seconds)
    setups = SETUPS if a.table else [dict(nodes=a.nodes, quorum=not a.classic, kill=a.kill,
                                          back_after=a.back_after)]
    rows = []
    for s in setups:
        r = run(log=lambda *x: print(*x, file=sys.stderr), **dict(common, **s))
        print(json.dumps(r), file=sys.stderr)
        rows.append(row(r))
    print(HEAD)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
