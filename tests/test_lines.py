"""host/lines.py: finish() returns all of a process's output, not what its reader thread had
taken by the time the process ended (a run of `make test` on a loaded machine once saw an
interop device's whole output missed: 'device failed (0)' with no lines)."""
import subprocess
import sys

from host.lines import Lines

# The child exits at once; a grandchild holding the same stdout writes 0.3 s later. The
# process has ended, its output has not: finish() must wait for the pipe's end.
LATE = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(0.3); print(\"late\", flush=True)']); print('first', flush=True)")


def test_finish_waits_for_output_that_comes_after_the_process_ended():
    p = subprocess.Popen([sys.executable, "-c", LATE], stdout=subprocess.PIPE, text=True)
    assert Lines(p).finish(10).splitlines() == ["first", "late"]
