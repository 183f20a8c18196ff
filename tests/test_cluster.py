"""tools/cluster.py, short: a 3-node RabbitMQ cluster with quorum session queues behind
HAProxy; the node holding the subscriber's session is killed with SIGKILL while the
fleet publishes QoS 1 through the balancer. Not one accepted reading may be lost.
(The same run with classic queues loses what the killed node held: `make cluster`.)"""
from conftest import ROOT  # noqa: F401  (puts the project on sys.path)
from tools import cluster


def test_a_killed_node_loses_no_qos1_reading():
    r = cluster.run(nodes=3, quorum=True, devices=10, interval_ms=200, phase=3, seconds=10,
                    kill="subscriber", side_checks=False, log=lambda *a: None)
    assert r["devices_heard"] == 10, r
    assert r["sent"] >= 10 * 10 * 5 * 0.5, r  # about 50 readings per device
    assert r["lost"] == 0 and r["pending_at_end"] == 0, r
    assert r["received"] == r["sent"], r
    # every device's readings flowed again after the kill, the subscriber's included
    assert r["never_recovered"] == 0 and 0 < r["recover_s"] < 40, r
