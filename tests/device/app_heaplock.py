# One full cycle of device/main.py's loop on the unix board, under heap_lock: sensors into
# the payload buffer, one publish, the link serviced.
import sys
import gc
import micropython
import main

n = int(sys.argv[1])
app = main.App()
app.start()
app.cycle()  # the first cycle also publishes "online"; outside the lock
app.client.poll(50)


def cycles(n):
    # In a function: a new module-level name would allocate a dict slot under the lock.
    for i in range(n):
        app.cycle()
        app.client.poll(5)


gc.collect()
micropython.heap_lock()
try:
    cycles(n)
finally:
    micropython.heap_unlock()
for _ in range(100):  # the last PUBACK, within a second
    if not app.client.pending():
        break
    app.client.poll(10)
print("ok", app.seq, app.errors, app.client.pending())
app.client.disconnect()
