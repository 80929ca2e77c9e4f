#!/usr/bin/env python3
# Usage: python3 scripts/send-floor.py   (loopback only; opens 10,000 sockets)
# How long do 5,000 sends of 64 bytes to 5,000 connected loopback TCP
# sockets take on this machine, with nothing else to do? (The kernel floor
# under a server's fan-out to 5,000 recipients.)
import socket, time, statistics
N = 5000
lst = socket.socket(); lst.bind(("127.0.0.1", 0)); lst.listen(4096)
addr = lst.getsockname()
clients, servers = [], []
for i in range(N):
    c = socket.socket(); c.connect(addr); clients.append(c)
    s, _ = lst.accept(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); servers.append(s)
payload = b"x" * 64
runs = []
for rep in range(7):
    t0 = time.perf_counter()
    for s in servers:
        s.send(payload)
    runs.append((time.perf_counter() - t0) * 1000)
    for c in clients:
        c.recv(4096)
print("5000 sends: ms per run", [round(r, 1) for r in runs], "median", round(statistics.median(runs), 1))
