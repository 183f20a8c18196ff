# leanmqtt with an outbox: publishes numbered QoS 1 readings START.. (COUNT of them, one
# every INTERVAL_MS), prints `ok N` once publish() returned True, then serves the link until
# nothing is pending (or WAIT_MS passed). Every loop here is bounded.
#   micropython outbox_client.py PORT DIR START COUNT INTERVAL_MS INFLIGHT SIZE MIDWRITE WAIT_MS
# MIDWRITE k > 0: the k-th message of this run is written only in part, then the process
# sleeps (the host kills it there: a reset in the middle of an outbox write).
import sys
from time import ticks_ms, ticks_diff, sleep_ms
from leanmqtt import MQTTClient
from outbox import Outbox

port, start, count, interval, inflight, size, midwrite, wait = [
    int(a) for a in sys.argv[1:2] + sys.argv[3:]]
path = sys.argv[2] + "/ob"


class Slow:
    # The outbox's file, cut in the middle of one message's body on purpose.
    def __init__(self, f):
        self.f = f

    def write(self, b, off, n):
        Slow.writes += 1
        if Slow.writes == 3 * midwrite - 1:  # the body of the midwrite-th message
            self.f.write(b, off, n // 2)
            print("midwrite")
            sleep_ms(30000)
        return self.f.write(b, off, n)

    def readinto(self, b, n):
        return self.f.readinto(b, n)

    def seek(self, off, whence=0):
        return self.f.seek(off, whence)

    def flush(self):
        return self.f.flush()


Slow.writes = 0
t0 = ticks_ms()


def log(*a):
    print("event", ticks_diff(ticks_ms(), t0), *a)


ob = Outbox(path, size, window=inflight)
print("boot count", ob.count)
if midwrite:
    ob._fs = [Slow(f) for f in ob._fs]
c = MQTTClient("dev-outbox", "127.0.0.1", port, keepalive=2, timeout=1, reconnect=True,
               inflight=inflight, bufsize=64, log=log, outbox=ob)
c.backoff_min = 100
c.backoff_max = 500
c.connect(clean_session=False)
msg = bytearray(b"000000")
i = 0
next_t = ticks_ms()
deadline = ticks_ms() + 120000
while i < count and ticks_diff(deadline, ticks_ms()) > 0:
    if ticks_diff(ticks_ms(), next_t) >= 0:
        n = start + i
        for k in range(5, -1, -1):
            msg[k] = 48 + n % 10
            n //= 10
        if c.publish(b"lean/ob", msg, qos=1):
            print("ok", start + i)
            i += 1
            next_t += interval
        else:
            print("refused", start + i)
    c.poll(min(interval, 20))
print("published", i, "pending", c.pending())
end = ticks_add = ticks_ms()
while c.pending() and ticks_diff(ticks_ms(), end) < wait:
    c.poll(50)
print("done pending", c.pending(), "reconnects", c.reconnects, "refused", ob.refused)
c.disconnect()
