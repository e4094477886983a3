#!/usr/bin/env python3
"""A UDP stream with sequence numbers, to measure what a tunnel does to
order, loss and duplication:

  udpseq.py recv PORT SECONDS        counts until SECONDS of silence after
                                     the first packet (or 3x SECONDS total
                                     without any), prints one JSON line
  udpseq.py send HOST PORT RATE_PPS COUNT [SIZE]

The JSON: received, unique, duplicates, lost (never arrived, of max seq+1),
reordered (arrived after a higher seq), max_seq.
"""
import json
import socket
import struct
import sys
import time


def recv(port, idle):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", port))
    s.settimeout(idle * 3)
    seen = set()
    received = dups = reordered = 0
    highest = -1
    first = True
    while True:
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        if first:
            s.settimeout(idle)
            first = False
        if len(data) < 8:
            continue
        (seq,) = struct.unpack("!Q", data[:8])
        received += 1
        if seq in seen:
            dups += 1
            continue
        seen.add(seq)
        if seq < highest:
            reordered += 1
        else:
            highest = seq
    total = highest + 1 if highest >= 0 else 0
    print(json.dumps({"received": received, "unique": len(seen),
                      "duplicates": dups, "reordered": reordered,
                      "lost": total - len(seen), "max_seq": highest}))


def send(host, port, rate, count, size):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = b"\0" * max(0, size - 8)
    start = time.monotonic()
    for i in range(count):
        due = start + i / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        s.sendto(struct.pack("!Q", i) + pad, (host, port))


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]), float(sys.argv[3]))
    else:
        size = int(sys.argv[6]) if len(sys.argv) > 6 else 200
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
             int(sys.argv[5]), size)
