"""A host subscriber (paho-mqtt) that records what the broker delivered."""
import threading
import time

import paho.mqtt.client as mqtt


class Recorder:
    def __init__(self, port, topic="#", qos=1, client_id=None, clean=True, auth=None):
        self.messages = []  # (topic, payload bytes, qos, retain)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or "",
            clean_session=clean if client_id else True,
        )
        if auth:  # (user, password), for a broker that lets no one in without an account
            self.c.username_pw_set(*auth)
        self.c.reconnect_delay_set(min_delay=1, max_delay=2)
        self.c.on_message = self._on_message
        self._subscribed = threading.Event()
        self.c.on_subscribe = lambda *a: self._subscribed.set()
        self.topic, self.qos, self.port = topic, qos, port
        self.c.on_connect = lambda c, u, f, rc, p=None: c.subscribe(self.topic, self.qos)

    def _on_message(self, c, u, m):
        with self.cond:
            self.messages.append((m.topic, bytes(m.payload), m.qos, m.retain))
            self.cond.notify_all()

    def start(self):
        self.c.connect("127.0.0.1", self.port, keepalive=30)
        self.c.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("host subscriber: no SUBACK")
        return self

    def wait_for(self, pred, timeout=10.0):
        """Waits until pred(messages) is true; returns the messages either way."""
        end = time.monotonic() + timeout
        with self.cond:
            while not pred(self.messages):
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.messages)

    def wait_count(self, n, timeout=10.0):
        return self.wait_for(lambda m: len(m) >= n, timeout)

    def payloads(self, topic=None):
        with self.lock:
            return [m[1] for m in self.messages if topic is None or m[0] == topic]

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()

    def __enter__(self):  # `with Recorder(...).start() as r:` stops it at the end
        return self

    def __exit__(self, *exc):
        self.stop()


def publish(port, topic, payload, qos=0, retain=False, auth=None):
    """Publishes one message from the host and waits until the broker has it."""
    publish_many(port, topic, [payload], qos, retain, auth)


def publish_many(port, topic, payloads, qos=0, retain=False, auth=None):
    """Publishes the messages in order over one connection; returns once the broker has all."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if auth:
        c.username_pw_set(*auth)
    c.connect("127.0.0.1", port)
    c.loop_start()
    for info in [c.publish(topic, p, qos=qos, retain=retain) for p in payloads]:
        info.wait_for_publish(10)
    c.loop_stop()
    c.disconnect()
