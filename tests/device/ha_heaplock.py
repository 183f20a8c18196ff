# device/main.py's cycle with Home Assistant discovery due (as after a reconnect or HA's
# birth message), under heap_lock: the configs made at start go out as they are.
import gc
import micropython
import main

app = main.App()
app.start()
app.cycle()  # the first cycle publishes "online" and the configs; outside the lock
app.client.poll(50)


def cycles(n):
    for i in range(n):
        app.ha.due = True  # every cycle: all configs again
        app.cycle()
        app.client.poll(5)


gc.collect()
micropython.heap_lock()
try:
    cycles(20)
finally:
    micropython.heap_unlock()
print("ok", app.seq, len(app.ha.configs), max(len(p) for t, p in app.ha.configs),
      len(app.client._tx), app.ha.due)
app.client.disconnect()
