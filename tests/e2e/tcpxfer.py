#!/usr/bin/env python3
"""A TCP transfer whose bytes are verified: `recv PORT` listens once and
prints the sha256 and byte count of what arrived; `send HOST PORT FILE`
connects and streams FILE. Both sides bound their time so a broken tunnel
fails the test instead of hanging it."""
import hashlib
import socket
import sys


def recv(port, timeout):
    # Dual-stack: the same test runs over IPv4 and IPv6 inside the tunnel.
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind(("::", port))
    srv.listen(1)
    srv.settimeout(timeout)
    conn, _ = srv.accept()
    conn.settimeout(timeout)
    h = hashlib.sha256()
    n = 0
    while True:
        b = conn.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(h.hexdigest(), n)


def send(host, port, path, timeout):
    s = socket.create_connection((host, port), timeout=timeout)
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                break
            s.sendall(b)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()


if __name__ == "__main__":
    t = 120
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]), t)
    else:
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4], t)
