# The sensor app: reads the board's sensors every INTERVAL_MS and publishes one JSON
# reading per cycle with leanmqtt in resilient mode. Retained "online" / will "offline"
# on PREFIX/<id>/status. Edit config.py / settings.py, not this file, to set it up.
import time

T0 = time.ticks_ms()  # the wake, as near as the app can tell
import config
import board
from leanmqtt import MQTTClient
from reading import Payload


def log(*a):
    print("app:", *a)


class App:
    def __init__(self):
        self.id = config.DEVICE_ID or board.device_id()
        base = "%s/%s/" % (config.PREFIX, self.id)
        self.topic = (base + "readings").encode()
        self.status = (base + "status").encode()
        self.sensors = board.sensors()
        fields = [("seq", 10, 0)]
        for name, dec, _ in self.sensors:
            fields.append((name, 9, dec))
        fields.append(("errors", 6, 0))
        self.payload = Payload(fields)
        self.seq = 0
        self.errors = 0  # failed sensor reads so far
        self.online = -1  # client.reconnects when "online" was last published
        self.held = False  # the reading in the payload buffer was refused: sent first next cycle
        self.lost = 0  # readings lost (refused twice over: the store stayed full), each logged
        self.resend = 0  # readings in the store when the link was last down: resent on reconnect
        # A reconnect blocks in two steps of up to `timeout` (TCP connect, CONNACK): both
        # together within the watchdog, or a slow broker would reset the board and lose
        # the readings waiting in RAM.
        timeout = max(1, min(5, config.WDT_MS // 3000)) if config.WDT_MS else 5  # s
        ob = self.outbox = None
        if config.OUTBOX:  # readings wait on flash: an outage of hours, a reset lose none
            from outbox import Outbox

            try:
                ob = self.outbox = Outbox(config.OUTBOX_PATH, config.OUTBOX,
                                          window=config.INFLIGHT, latest=(self.status,))
            except OSError as e:  # a file system that takes no writes (full, read-only)
                log("outbox", config.OUTBOX_PATH, "unusable:", e, "- readings wait in RAM only")
        self.ha = None  # Home Assistant discovery (device/ha.py), unless turned off
        if config.HA_DISCOVERY:
            import ha

            self.ha = ha.Discovery(config.HA_PREFIX, self.id, board.NAME, base + "readings",
                                   base + "status", [f[0] for f in fields[1:]])
        c = self.client = MQTTClient(
            "leanmqtt-" + self.id, config.BROKER, config.PORT,
            user=config.USER, password=config.PASSWORD, keepalive=config.KEEPALIVE,
            reconnect=True, inflight=config.INFLIGHT, timeout=timeout,
            bufsize=max(128, len(self.payload.buf) + len(self.topic) + 16,
                        self.ha.room if self.ha else 0),
            net_up=self.net_up, log=log, outbox=ob,
        )
        c.set_last_will(self.status, b"offline", retain=True, qos=1)
        if self.ha:
            c.set_callback(self.ha.message)
        # Back within 1.5 intervals of the broker: the backoff is capped at one interval, so
        # the store's INFLIGHT readings cover what config.py says (its 30 s default would
        # keep the device offline long after the broker is back, while readings pile up).
        c.backoff_max = max(c.backoff_min, min(c.backoff_max, config.INTERVAL_MS))
        self.wdt = board.watchdog(config.WDT_MS) if config.WDT_MS else None

    def net_up(self):
        # The join may take longer than the watchdog allows: it feeds it while it waits.
        wdt = self.wdt
        return board.network_up(config.WIFI_SSID, config.WIFI_PASSWORD,
                                feed=wdt.feed if wdt else None)

    def start(self):
        if self.net_up():
            self.client.connect(clean_session=False)
        if self.ha:
            self.ha.subscribe(self.client)  # offline: made on the first connection
        log("device", self.id, "publishing to", self.topic.decode())

    def cycle(self):
        # One reading: sensors into the payload buffer, one publish, the link serviced.
        # Allocates nothing while sensors work and the link is up.
        c = self.client
        if c.isconnected() and self.online != c.reconnects:
            # After each (re)connect: the will may have fired, so say "online" again.
            if self.online >= 0:
                log("connected again, %d readings resent" % self.resend)
            self.online = c.reconnects
            c.publish(self.status, b"online", retain=True, qos=1)
            if self.ha:
                self.ha.due = True
        if self.ha and self.ha.due and c.isconnected():
            self.ha.publish(c)
        p = self.payload
        ok = False
        if self.held and not c.publish(self.topic, p.buf, qos=config.QOS):
            # Last cycle's reading was refused and is refused again: this one is lost.
            self.seq += 1
            self.lost += 1
            log("reading %d lost: the store is full (%d lost)" % (self.seq, self.lost))
        else:
            self.seq += 1
            p.put(0, self.seq)
            s = self.sensors
            for i in range(len(s)):
                try:
                    v = s[i][2]()
                except Exception as e:  # a failing sensor is logged and counted; we go on
                    v = None
                    self.errors += 1
                    log("sensor", s[i][0], "failed:", e)
                p.put(1 + i, v)
            p.put(len(s) + 1, self.errors)
            ok = c.publish(self.topic, p.buf, qos=config.QOS)
            self.held = not ok  # kept in the buffer for the next cycle, not dropped
        board.led(ok and c.isconnected())
        if self.wdt:
            self.wdt.feed()
        return ok

    def wait(self, ms):
        # Services the link until the next reading is due.
        end = time.ticks_add(time.ticks_ms(), ms)
        while True:
            left = time.ticks_diff(end, time.ticks_ms())
            if left <= 0:
                return
            if not self.client.isconnected():
                self.resend = self.client.pending()
            self.client.poll(left if left < 1000 else 1000)
            if self.wdt:
                self.wdt.feed()


def run():
    bad = config.problems(board.HAS_WIFI)
    if bad:
        for p in bad:
            print("config:", p)
        print("config: fix settings.py, then reset the board")
        return None
    app = App()
    app.start()
    if config.SLEEP and app.outbox:  # (without it, said above: awake, as a deep sleep
        return sleep(app)              # would lose what RAM holds)
    n = 0
    try:
        while not config.CYCLES or n < config.CYCLES:
            app.cycle()
            n += 1
            app.wait(config.INTERVAL_MS)
    except KeyboardInterrupt:  # Ctrl-C on the console
        log("stopped")
    # A clean stop sends no will, so say "offline" ourselves.
    app.client.publish(app.status, b"offline", retain=True, qos=1)
    app.client.poll(200)
    app.client.disconnect()
    log("done", n, "readings,", app.lost, "lost")
    return app


def sleep(app):
    # One wake: one reading, sent and acknowledged if the link allows within FLUSH_MS, then
    # DISCONNECT (no will) and a deep sleep; what was not acked waits in the outbox and goes
    # first at the next wake.
    c = app.client
    # Asleep is not offline: no "online" at each wake, and disconnect() keeps the will
    # ("offline") quiet; it fires only for a wake that dies on the way.
    app.online = c.reconnects
    app.seq = app.outbox.seq - 1  # the count restarts at each wake; the outbox's does not
    app.cycle()
    acked = c.flush(config.FLUSH_MS / 1000) and not c.pending()
    c.disconnect()
    log("flushed" if acked else "stored", "seq", app.seq, "in", time.ticks_diff(time.ticks_ms(), T0),
        "ms;", c.pending(), "wait in the outbox")
    app.outbox.close()
    board.deepsleep(config.INTERVAL_MS)


if __name__ == "__main__":
    run()
