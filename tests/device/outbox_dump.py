# Prints what an outbox holds, in order, and takes and acks the first five:
#   micropython outbox_dump.py PATH SIZE
import sys
from outbox import Outbox

ob = Outbox(sys.argv[1], int(sys.argv[2]))
buf = bytearray(256)
print("count", ob.count)
k = 0
while True:
    sl = ob.take(buf)
    if not sl:
        break
    h = sl & 3
    tl = buf[5] << 8 | buf[6]
    print("msg", bytes(buf[7 : 7 + tl]).decode(), bytes(buf[9 + tl : h + (sl >> 2)]).decode())
    if k < 5:
        ob.ack()
    k += 1
ob.close()
