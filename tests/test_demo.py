"""`make demo`'s job, shortened: it stops by itself and ends with the summary line."""
import os
import re
import subprocess
import sys

from conftest import ROOT


def test_demo_stops_by_itself_with_a_summary():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "demo.py"), "--duration", "4",
                        "--interval-ms", "200"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    last = p.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"(\d+) readings received from 1 device, 0 lost", last)
    assert m and int(m.group(1)) >= 10, p.stdout[-2000:]
    assert "Traceback" not in p.stdout
    assert "unix0          online" in p.stdout and "unix0          offline" in p.stdout
