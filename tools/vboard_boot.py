# Runs first in each process of the virtual board (tools/vboard.py), as a board's firmware
# would: machine.reset() and machine.unique_id() as on hardware, then boot.py and main.py
# from the board's filesystem (the current directory) when this is a reset, not a soft one.
import os
import sys
import machine as _machine


class _Machine:
    def __getattr__(self, name):
        return getattr(_machine, name)

    def reset(self):
        sys.exit(0)  # the virtual board starts a fresh process, running main.py

    def soft_reset(self):
        sys.exit(0)

    def unique_id(self):
        return b"\x76\x62\x6f\x61\x72\x64"


sys.modules["machine"] = _Machine()

if os.getenv("VBOARD_RUN_MAIN") == "1":
    for _name in ("boot.py", "main.py"):
        try:
            _f = open(_name)
        except OSError:
            continue
        _src = _f.read()
        _f.close()
        exec(_src, {"__name__": "__main__"})
