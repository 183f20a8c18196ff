"""Reads a process's stdout lines in a thread, each stamped with the host's clock."""
import queue
import threading
import time


class Lines:
    def __init__(self, proc):
        self.proc = proc
        self.q = queue.Queue()
        self.all = []  # (host time, line)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

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
        # The process's end is not the end of its output: the reader thread may still have
        # lines to take from the pipe (on a loaded machine, a fixed 50 ms was seen to miss
        # all of them). It ends at the pipe's EOF, which comes once the process has exited
        # (a child that inherited the pipe could hold it open: hence the bound).
        self.proc.wait(timeout)
        self.reader.join(10)
        return self.text()

    def text(self):
        return "\n".join(line for _, line in self.all)
