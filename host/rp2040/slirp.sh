#!/bin/sh
# The PPP peer of the emulated RP2040's UART0 (socat runs this on a pty): slirp in user
# space, the kernel needs no PPP. Inside, 10.0.2.2 is the host, mapped to 127.0.0.1.
# slirp takes its own PPP address from the host name, and a loopback answer ends IPCP
# ("Could not determine local IP address"): it runs in a UTS namespace of its own whose
# host name is 10.0.2.1 (as root; otherwise inside a user namespace, where that is allowed).
# slirp-fullbolt, not slirp: the plain binary exits at once on amd64 (a (u_int)-1 timeout
# makes its select() fail).
run='hostname 10.0.2.1 && exec slirp-fullbolt "host addr 127.0.0.1" ppp "mtu 1500" "mru 1500"'
if unshare --uts true 2>/dev/null; then
    exec unshare --uts sh -c "$run"
fi
exec unshare --user --map-root-user --uts sh -c "$run"
