"""The app with the outbox on the unix board: sleep mode (wake, read, publish, flush,
deep-sleep: on the unix board the process ends and the test starts it again) through a 30 s
outage, and normal mode through an outage far longer than its RAM window."""
import json
import os
import time

from conftest import ROOT, app_env, lines
from host import mpy
from host.lines import Lines
from host.proxy import FaultProxy

MAIN = os.path.join(ROOT, "device", "main.py")


def seqs(rec):
    return [json.loads(m[1])["seq"] for m in rec.messages if m[0].endswith("/readings")]


def test_sleep_mode_20_wakes_through_a_30_s_outage_lose_no_reading(broker, recorder, tmp_path):
    rec = recorder("leanmqtt/#")
    px = FaultProxy(broker.port)
    env = app_env(px.port, sleep=1, outbox=8192, outbox_path=tmp_path / "ob", interval_ms=500,
                  flush_ms=1500, keepalive=5)
    wakes = []
    t_down = t_up = None
    try:
        for cycle in range(20):
            now = time.monotonic()
            if cycle == 3:
                px.set("blackhole")  # the broker is gone: no CONNACK comes
                t_down = now
            if t_down and not t_up and now - t_down >= 30:
                px.set("pass")
                t_up = now
            p = mpy.run(MAIN, extra_env=env, timeout=30)
            assert lines(p.stdout, "board:") == ["deepsleep 500"], p.stdout
            wakes.append((now, p.stdout))
            time.sleep(0.5)  # the deep sleep
        assert t_up, "the outage did not last 30 s within 20 wakes"
        during = [out for t, out in wakes if t_down <= t < t_up]
        after = [out for t, out in wakes if t >= t_up]
        assert len(during) >= 5 and after, (len(during), len(after))
        assert all("app: stored" in out for out in during), during[0]
        assert "app: flushed" in after[-1], after[-1]
        rec.wait_for(lambda m: len(set(seqs(rec))) >= 20, timeout=10)
        got = seqs(rec)
        assert sorted(set(got)) == list(range(1, 21)), got  # every reading, one per wake
        assert got == sorted(got)  # the stored ones went first, in order
        print("wakes", len(wakes), "during the outage", len(during), "duplicates", len(got) - 20)
        assert not [m for m in rec.messages if m[0].endswith("/status")]  # asleep: no will
    finally:
        px.close()


def test_normal_mode_with_the_outbox_loses_no_reading_in_a_long_outage(broker, recorder, tmp_path):
    # 40 readings while the link is dead, with a RAM window of 2: without the outbox,
    # publish() would refuse all but two.
    rec = recorder("leanmqtt/#")
    px = FaultProxy(broker.port)
    try:
        p = mpy.start(MAIN, extra_env=app_env(px.port, outbox=16384, outbox_path=tmp_path / "ob",
                                              interval_ms=50, cycles=80, inflight=2, keepalive=2))
        out = Lines(p)
        rec.wait_for(lambda m: len(seqs(rec)) >= 5)
        px.set("blackhole")
        px.set("reset")  # the open link dies too; new ones hang
        px.set("blackhole")
        time.sleep(2.0)
        px.set("pass")
        text = out.finish(timeout=60)
        assert "done 80 readings" in text, text
        rec.wait_for(lambda m: len(set(seqs(rec))) >= 80, timeout=15)
        assert sorted(set(seqs(rec))) == list(range(1, 81)), seqs(rec)
        assert "connected again" in text
    finally:
        px.close()


def test_sleep_without_an_outbox_is_a_config_problem_not_a_silent_loss(device):
    p = device(MAIN, env={"LEANMQTT_BROKER": "127.0.0.1", "LEANMQTT_SLEEP": "1"}, check=False)
    assert "config: SLEEP needs an OUTBOX" in p.stdout, p.stdout
    p = device(MAIN, env={"LEANMQTT_BROKER": "127.0.0.1", "LEANMQTT_OUTBOX": "100"}, check=False)
    assert "config: OUTBOX must be 0 (none) or at least 1024 bytes" in p.stdout, p.stdout


def test_an_outbox_that_cannot_be_opened_is_said_and_the_app_runs_on_ram(broker, recorder, device):
    # A file system that takes no writes (here: a folder that is not there; on the emulated
    # RP2040, its flash): logged, and the readings go through the RAM store, awake.
    rec = recorder("leanmqtt/#")
    env = app_env(broker.port, outbox=8192, outbox_path="/nonexistent/dir/ob", sleep=1,
                  interval_ms=50, cycles=3)
    out = device(MAIN, env=env).stdout
    assert "app: outbox /nonexistent/dir/ob unusable:" in out and "done 3 readings" in out, out
    rec.wait_for(lambda m: len(seqs(rec)) >= 3)
    assert seqs(rec) == [1, 2, 3]
