#!/usr/bin/env python3
"""What hostile input costs a tickertape binary: each input from issue #17, sent
to a server started here, with what the server answered and the CPU and memory
it spent (read from /proc). Run it on two builds to compare them side by side:

    scripts/hostile.py target/release/tickertape [/path/to/older/tickertape]

Standard library only; Linux only (/proc). Every server is started on a free
port of 127.0.0.1 and stopped at the end.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

TOKEN = "publish-token-0123456789"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, args=()):
        self.port = free_port()
        env = dict(os.environ, NO_COLOR="1", RUST_LOG="error")
        self.process = subprocess.Popen(
            [binary, "--addr", f"127.0.0.1:{self.port}", "--publish-token", TOKEN, *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"{binary} did not start")

    def cpu_ms(self):
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / TICKS

    def rss_mib(self):
        pages = int(open(f"/proc/{self.process.pid}/statm").read().split()[1])
        return pages * PAGE / 2**20

    def stop(self):
        self.process.kill()
        self.process.wait()


def exchange(port, request, timeout=5.0, read_for=None):
    """Sends `request` (bytes) and reads until the server closes, `timeout`
    passes, or `read_for` seconds (for streams); returns what came."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(request)
        except OSError:
            pass
        data = b""
        end = time.monotonic() + (read_for or timeout)
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            data += chunk
        return data


def head_of(data):
    return data.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def status(data):
    line = head_of(data).split("\r\n", 1)[0]
    return line or "(closed, no answer)"


def costly(server, name, request):
    before = server.cpu_ms()
    started = time.monotonic()
    data = exchange(server.port, request, timeout=10)
    took = (time.monotonic() - started) * 1000
    print(f"  {name}: {status(data)}; server CPU {server.cpu_ms() - before:.0f} ms, {took:.0f} ms wall")


def run(binary):
    print(f"== {binary}")
    server = Server(binary, ["--no-simulator", "--symbols", "AAPL,MSFT"])
    try:
        # Framing of a stream on a first request.
        data = exchange(server.port, b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n", read_for=0.5)
        head = head_of(data).lower()
        framing = [h for h in ("content-length", "transfer-encoding") if f"\r\n{h}:" in head]
        print(f"  first-request stream framing: {', '.join(framing)}")
        data = exchange(server.port, b"GET /events HTTP/1.0\r\n\r\n", read_for=0.5)
        print(f"  HTTP/1.0 stream: chunked={'transfer-encoding: chunked' in head_of(data).lower()}")

        # Quadratic inputs.
        cookie = "_".join(f"S{n}" for n in range(60000))[: 380 * 1024]
        costly(server, "GET / with a 380 KiB watchlist cookie",
               f"GET / HTTP/1.1\r\nHost: t\r\nCookie: tickertape_watchlist={cookie}\r\nConnection: close\r\n\r\n".encode())
        cookie = "_".join(f"S{n}" for n in range(2000))[:4096].rsplit("_", 1)[0]
        costly(server, "GET / with a 4 KiB watchlist cookie (a browser's longest)",
               f"GET / HTTP/1.1\r\nHost: t\r\nCookie: tickertape_watchlist={cookie}\r\nConnection: close\r\n\r\n".encode())
        for count in (13000, 9000):
            symbols = ",".join(f"U{n}" for n in range(count))
            costly(server, f"GET /api/snapshot?symbols= with {count} unknown symbols",
                   f"GET /api/snapshot?symbols={symbols} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())

        # Extreme numbers.
        body = json.dumps([{"symbol": "BIG", "price": 1e307}, {"symbol": "BIG", "price": 1.5e307}])
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/api/prices", data=body.encode(), method="POST",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        try:
            answer = urllib.request.urlopen(request, timeout=5)
            code = answer.status
        except urllib.error.HTTPError as error:
            code = error.code
        snapshot = json.load(urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/snapshot", timeout=5))
        big = [q for q in snapshot["quotes"] if q["symbol"] == "BIG"]
        print(f"  POST prices 1e307 then 1.5e307: {code}; in the snapshot: {big[0] if big else 'nothing'}")

        # Unfinished 400 KB heads, held open.
        rss = server.rss_mib()
        held = []
        for _ in range(150):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.setblocking(False)
            try:
                s.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 400_000)
            except OSError:
                pass
            held.append(s)
        time.sleep(1.0)
        print(f"  150 unfinished 400 KB heads: RSS {rss:.0f} -> {server.rss_mib():.0f} MiB after 1 s", end="")
        time.sleep(11.0)
        open_now = answered = 0
        for s in held:
            s.setblocking(False)
            while True:
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    open_now += 1
                    break
                except OSError:
                    break
                if not chunk:
                    break
                answered += chunk.startswith(b"HTTP/1.1 ")
            s.close()
        print(f", {server.rss_mib():.0f} MiB after 12 s; {open_now} of 150 still open then, "
              f"{answered} answered")
    finally:
        server.stop()


if __name__ == "__main__":
    for binary in sys.argv[1:] or ["target/release/tickertape"]:
        run(binary)
