# Installed as network.mpy beside mqtt_as for the benchmark only: the unix port has no
# `network` module and its `machine` has no unique_id(), both of which mqtt_as imports. A
# station interface that is always up; its RAM counts against mqtt_as's smallest heap
# (about 1 KB, said in the README), as a board's built-in module would not.
import sys


class _Machine:
    def unique_id():
        return b"bench"


sys.modules["machine"] = _Machine
STA_IF = 0
STAT_IDLE = 1000


class WLAN:
    def __init__(self, interface):
        pass

    def active(self, *on):
        return True

    def isconnected(self):
        return True

    def connect(self, *ssid_and_password):
        pass

    def disconnect(self):
        pass

    def status(self):
        return 1010  # STAT_GOT_IP

    def config(self, *args, **kwargs):
        pass
