"""A short soak: hostile sockets held open against a server while real clients are measured.

    .venv/bin/python bench/soak.py                 # 1,000 slowloris + 1,000 half-sent bodies, 30 s
    .venv/bin/python bench/soak.py --seconds 5 --slowloris 100 --bodies 100   # a quick look

The server runs as its own process on a free 127.0.0.1 port (``--python`` and ``--cwd`` run
another checkout's). Two crowds of hostile connections are kept at their size for the whole
run, each reopened when the server closes it, as an attacker would: slowloris sockets send a
request line and then a header byte now and then, never finishing the head; half-sent bodies
send a head announcing a chunked body and part of one, without credentials, and stop. Either
keeps its socket, answered or not, until the server closes it; it is then reopened after
``--reopen-delay`` seconds. A real
client meanwhile asks GET /api/v4/brokers with Basic credentials on a new connection every
20 ms, from a process of its own. It prints the real client's p50, p99 and max, its failures,
the server's resident memory before, at its peak and after, and what the hostile sockets got.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

HOST = "127.0.0.1"
PASSWORD = "soak-password"
AUTH = "Basic YWRtaW46c29hay1wYXNzd29yZA=="  # admin:soak-password
BROKERS = (
    f"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nConnection: close\r\n\r\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Hostile:
    opened: int = 0
    answers: Counter[str] = field(default_factory=Counter)


async def hold(
    kind: str, port: int, stop: asyncio.Event, tally: Hostile, reopen_delay: float
) -> None:
    """Keep one hostile connection of ``kind`` open until ``stop``, reopening it when closed."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError as exc:
            tally.answers[f"connect failed: {exc.strerror}"] += 1
            await asyncio.sleep(0.2)
            continue
        tally.opened += 1
        answered = ""
        try:
            if kind == "slowloris":
                writer.write(b"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\n")
            else:
                writer.write(
                    b"POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n10000\r\n" + b"a" * 32_000
                )
            await writer.drain()
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(64), 2.0)
                except TimeoutError:
                    if kind == "slowloris":
                        writer.write(b"X")
                        await writer.drain()
                    continue
                if not data:
                    tally.answers["closed" if not answered else answered] += 1
                    break
                if data.startswith(b"HTTP/"):
                    # An answer: a hostile client keeps the socket all the same.
                    answered = data.split(b" ", 2)[1].decode()
        except (ConnectionError, OSError):
            tally.answers["reset"] += 1
        finally:
            writer.close()
        await asyncio.sleep(reopen_delay)


def probe(port: int, seconds: float, results: Connection) -> None:
    """The real client, in a process of its own: the hostile crowds' event loop and its GIL
    must not add to the latencies it measures."""
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            with socket.create_connection((HOST, port), timeout=5) as sock:
                sock.sendall(BROKERS.encode())
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            if data.startswith(b"HTTP/1.1 200"):
                latencies.append(time.perf_counter() - started)
            else:
                failures[data.split(b"\r\n", 1)[0].decode(errors="replace") or "empty"] += 1
        except OSError as exc:
            failures[type(exc).__name__] += 1
        time.sleep(0.02)
    results.send((latencies, dict(failures)))


async def soak(args: argparse.Namespace, port: int, pid: int) -> None:
    stop = asyncio.Event()
    slow, bodies = Hostile(), Hostile()
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    before = rss_mib(pid)
    tasks = [
        asyncio.create_task(hold("slowloris", port, stop, slow, args.reopen_delay))
        for _ in range(args.slowloris)
    ]
    tasks += [
        asyncio.create_task(hold("body", port, stop, bodies, args.reopen_delay))
        for _ in range(args.bodies)
    ]
    await asyncio.sleep(2.0)  # let the crowds form before measuring
    receiving, sending = multiprocessing.Pipe(duplex=False)
    measuring = multiprocessing.get_context("fork").Process(
        target=probe, args=(port, args.seconds, sending)
    )
    measuring.start()
    peak = before
    while measuring.is_alive():
        await asyncio.sleep(0.5)
        peak = max(peak, rss_mib(pid))
    latencies, failed = receiving.recv()
    failures.update(failed)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(2.0)
    after = rss_mib(pid)
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")
    print(
        f"real client: {len(latencies)} answered, {sum(failures.values())} failed {dict(failures)}"
    )
    if ordered:
        print(
            f"  latency p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"max {ordered[-1] * 1000:.1f} ms"
        )
    print(f"server RSS: {before:.1f} MiB before, {peak:.1f} MiB at peak, {after:.1f} MiB after")
    for name, tally in (("slowloris", slow), ("half-sent bodies", bodies)):
        print(f"{name}: {tally.opened} connections opened; answers {dict(tally.answers)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="nanoadmin's soak (see the module docstring)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to measure")
    parser.add_argument("--slowloris", type=int, default=1000, help="slowloris sockets held")
    parser.add_argument("--bodies", type=int, default=1000, help="half-sent bodies held")
    parser.add_argument(
        "--reopen-delay", type=float, default=0.5, help="seconds before a closed socket reopens"
    )
    parser.add_argument("--python", default=sys.executable, help="the server's interpreter")
    parser.add_argument("--cwd", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.slowloris + args.bodies + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="nanoadmin-soak-") as tmp:
        conf = Path(tmp) / "nanomq.conf"
        conf.write_text(f"http_server {{\n  username = admin\n  password = {PASSWORD}\n}}\n")
        log = (Path(tmp) / "server.log").open("w")
        server = subprocess.Popen(
            [args.python, "-m", "nanoadmin", "start", "--conf", str(conf), "-p", str(port)]
            + ["--log-level", "error"],
            cwd=args.cwd,
            stdout=log,
            stderr=log,
        )
        try:
            for _ in range(300):
                with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                    break
                time.sleep(0.05)
            else:
                print("soak: the server did not start", file=sys.stderr)
                return 1
            print(
                f"nanoadmin soak: {args.slowloris} slowloris + {args.bodies} half-sent bodies "
                f"held for {args.seconds:g} s; {os.cpu_count()} CPUs"
            )
            asyncio.run(soak(args, port, server.pid))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
