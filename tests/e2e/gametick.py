#!/usr/bin/env python3
"""A game tick over UDP: one small sequence-numbered, timestamped datagram
every INTERVAL, echoed by the far end with its own receive time, so each
packet gives a one-way delay each way (the namespaces share this machine's
clock) and the round trip:

  gametick.py echo PORT                      until killed
  gametick.py send HOST PORT SECONDS [INTERVAL_MS] [SIZE]

`send` prints one JSON line: sent, received, lost (no echo within 1 s of
the last send), and for up (client -> echo), down (echo -> client) and rtt
the p50, p99 and max in ms.
"""
import json
import socket
import struct
import sys
import time

HDR = struct.Struct("!Qdd")  # seq, send time, echo's receive time


def echo(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        data, addr = s.recvfrom(2048)
        if len(data) < HDR.size:
            continue
        seq, t0, _ = HDR.unpack_from(data)
        s.sendto(HDR.pack(seq, t0, time.time()) + data[HDR.size:], addr)


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] * 1000, 2)


def send(host, port, seconds, interval_ms=20.0, size=120):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.setblocking(False)
    interval = interval_ms / 1000.0
    n = int(seconds / interval)
    pad = b"\0" * max(0, size - HDR.size)
    up, down, rtt = {}, {}, {}
    start = time.monotonic()
    seq = 0
    end = start + n * interval + 1.0
    while True:
        now = time.monotonic()
        if seq < n and now >= start + seq * interval:
            try:
                s.send(HDR.pack(seq, time.time(), 0.0) + pad)
            except OSError:
                pass
            seq += 1
            continue
        if now >= end:
            break
        wake = start + seq * interval if seq < n else end
        import select
        r, _, _ = select.select([s], [], [], max(0.0, wake - now))
        while r:
            try:
                data = s.recv(2048)
            except BlockingIOError:
                break
            t = time.time()
            if len(data) < HDR.size:
                continue
            q, t0, te = HDR.unpack_from(data)
            if q in rtt:
                continue
            rtt[q] = t - t0
            up[q] = te - t0
            down[q] = t - te
    out = {"sent": n, "received": len(rtt), "lost": n - len(rtt)}
    for name, d in (("up", up), ("down", down), ("rtt", rtt)):
        v = list(d.values())
        out[name] = {"p50": pct(v, 50), "p99": pct(v, 99),
                     "max": pct(v, 100)}
    worst = sorted(up.items(), key=lambda kv: -kv[1])[:3]
    out["worst_up"] = [[q, round(v * 1000, 1)] for q, v in worst]
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo(int(sys.argv[2]))
    else:
        a = sys.argv[2:]
        send(a[0], int(a[1]), float(a[2]),
             float(a[3]) if len(a) > 3 else 20.0,
             int(a[4]) if len(a) > 4 else 120)
