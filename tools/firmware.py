"""Build the rp2 firmware of boards/rp2040_ppp from a MicroPython checkout: `make firmware`.

    python tools/firmware.py --micropython DIR [--picotool SRC] [--out DIR] [--jobs N]

DIR is a MicroPython checkout with the submodules the rp2 port needs (`make -C ports/rp2
submodules` fetches them): lib/pico-sdk, lib/tinyusb, lib/lwip, lib/mbedtls and
lib/micropython-lib (for the `bundle-networking` manifest). The definition is
boards/rp2040_ppp/firmware/ (the board `PICO_PPP`: RPI_PICO without CYW43, lwIP + network.PPP
+ mbedTLS, 1 MiB littlefs). Known good: MicroPython af47daf3b0 with the commits its lib/ pins.

pico-sdk 2.x wants picotool at build time and, without one, downloads its source from GitHub.
--picotool SRC (a picotool 2.2.0 source tree) builds it here first, offline; an installed
picotool is found by cmake's usual search (picotool_DIR).

The result is OUT/micropython-rp2-pico-ppp.uf2 (default build/silicon/): put the RP2040 B1
bootrom (bootrom-b1.bin) beside it and point LEANMQTT_SILICON at OUT. Nothing here is
committed: the sources and the firmware are MicroPython's and its dependencies'.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD_DIR = os.path.join(ROOT, "boards", "rp2040_ppp", "firmware")
BOARD = "PICO_PPP"
UF2 = "micropython-rp2-pico-ppp.uf2"
# What the rp2 port compiles from each submodule; a missing one fails late and obscurely
# inside cmake, so it is named here first.
NEEDED = {
    "lib/pico-sdk": "CMakeLists.txt",
    "lib/tinyusb": "src/tusb.c",
    "lib/lwip": "src/core/tcp.c",
    "lib/mbedtls": "library/ssl_tls.c",
    "lib/micropython-lib": "micropython/bundles/bundle-networking/manifest.py",
}


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def check_checkout(mp):
    if not os.path.isfile(os.path.join(mp, "ports", "rp2", "CMakeLists.txt")):
        sys.exit("firmware: %s is not a MicroPython checkout (no ports/rp2/CMakeLists.txt)" % mp)
    missing = [d for d, f in NEEDED.items() if not os.path.isfile(os.path.join(mp, d, f))]
    if missing:
        sys.exit("firmware: submodules missing in %s: %s\n  fetch them with:  make -C %s/ports/rp2"
                 " BOARD=RPI_PICO_W submodules" % (mp, ", ".join(missing), mp))


def build_picotool(src, sdk, work, jobs):
    """picotool from source into work/picotool; returns the folder picotool_DIR wants."""
    inst = os.path.join(work, "picotool")
    cfg = os.path.join(inst, "lib", "cmake", "picotool")
    if os.path.isfile(os.path.join(cfg, "picotoolConfig.cmake")):
        return cfg
    bld = os.path.join(work, "picotool-build")
    t = time.time()
    run(["cmake", "-S", src, "-B", bld, "-DPICO_SDK_PATH=" + sdk, "-DCMAKE_INSTALL_PREFIX=" + inst,
         "-DPICOTOOL_NO_LIBUSB=1", "-DCMAKE_BUILD_TYPE=Release"], stdout=subprocess.DEVNULL)
    run(["cmake", "--build", bld, "-j", str(jobs)], stdout=subprocess.DEVNULL)
    run(["cmake", "--install", bld], stdout=subprocess.DEVNULL)
    print("firmware: picotool built in %.0f s" % (time.time() - t))
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--micropython", required=True, help="MicroPython checkout with submodules")
    ap.add_argument("--picotool", help="picotool source tree (2.2.0) to build first, offline")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "silicon"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    mp = os.path.abspath(a.micropython)
    check_checkout(mp)
    for tool in ("cmake", "arm-none-eabi-gcc", "make"):
        if not shutil.which(tool):
            sys.exit("firmware: %s is missing; on Debian: apt-get install cmake gcc-arm-none-eabi"
                     " libnewlib-arm-none-eabi" % tool)
    out = os.path.abspath(a.out)
    work = os.path.join(ROOT, "build", "firmware")
    os.makedirs(work, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    extra = []
    if a.picotool:
        extra.append("-Dpicotool_DIR=" + build_picotool(os.path.abspath(a.picotool),
                                                         os.path.join(mp, "lib", "pico-sdk"),
                                                         work, a.jobs))
    bld = os.path.join(work, "rp2")
    t = time.time()
    run(["cmake", "-S", os.path.join(mp, "ports", "rp2"), "-B", bld, "-DMICROPY_BOARD=" + BOARD,
         "-DMICROPY_BOARD_DIR=" + BOARD_DIR] + extra, stdout=subprocess.DEVNULL)
    run(["cmake", "--build", bld, "-j", str(a.jobs)], stdout=subprocess.DEVNULL)
    dst = os.path.join(out, UF2)
    shutil.copyfile(os.path.join(bld, "firmware.uf2"), dst)
    with open(dst, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print("firmware: %s (%d B, sha256 %s) in %.0f s" % (dst, os.path.getsize(dst), digest,
                                                      time.time() - t))
    if not os.path.exists(os.path.join(out, "bootrom-b1.bin")):
        print("firmware: put the RP2040 B1 bootrom (bootrom-b1.bin) beside it, then"
              " LEANMQTT_SILICON=%s make test" % out)


if __name__ == "__main__":
    main()
