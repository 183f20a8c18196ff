"""Reads a process's stdout lines in a thread, each stamped with the host's clock."""
import queue
import threading
import time


class Lines:
    def __init__(self, proc):
        self.proc = proc
        self.q = queue.Queue()
        self.all = []  # (host time, line)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            item = (time.monotonic(), line.rstrip("\n"))
            self.all.append(item)
            self.q.put(item)
        self.q.put((time.monotonic(), None))

    def wait(self, text, timeout=30.0):
        """Waits for a line containing text; returns (host time, line)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no line with %r in %.0fs; got:\n%s" % (text, timeout, self.text()))
            try:
                t, line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("process ended before %r; got:\n%s" % (text, self.text()))
            if text in line:
                return t, line

    def finish(self, timeout=120.0):
        self.proc.wait(timeout)
        time.sleep(0.05)
        return self.text()

    def text(self):
        return "\n".join(line for _, line in self.all)
