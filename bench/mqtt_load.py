"""The MQTT listener under load: real clients publishing while /api/v4/clients is polled.

    .venv/bin/python bench/mqtt_load.py            # 1000 clients, 6000 msg/s offered, 10 s
    .venv/bin/python bench/mqtt_load.py --smoke    # 100 clients, 1000 msg/s, 1 s

Loopback only, bounded in time. Two servers, each its own process pinned to one CPU (the load
to the others): one without the listener (as many mock clients), one with ``--mqtt``. Half the
clients subscribe to a topic of their own, the other half publish QoS 0 to those topics at
``--rate`` in all, while wrk (or bench/loadgen.py where wrk is missing) polls
``/api/v4/clients?_page=1&_limit=100`` in 1 s slices that take turns: listener off, listener
idle, listener under the publish load. It prints the messages published and delivered per
second, the API's req/s in each phase with the paired ratios, the server's CPU cost per message
and its resident memory. On two CPUs the MQTT load generator shares the load CPU with wrk: a
loaded req/s far below what the server's spare CPU allows says that CPU ran out, not the server.
With ``--check``, exit status 1 when fewer than 5000 msg/s were delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
BASIC = "Basic YWRtaW46cHVibGlj"  # admin:public
API_PATH = "/api/v4/clients?_page=1&_limit=100"
TARGET_MSGS = 5000
PAYLOAD = b"x" * 64


def _cpus() -> tuple[set[int] | None, set[int] | None]:
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return {allowed[-1]}, set(allowed[:-1])


SERVER_CPUS, LOAD_CPUS = _cpus()


def pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(log: Path, mqtt_port: int | None, mock_clients: int = 0) -> Server:
    port = free_port()
    argv = [PYTHON, "-m", "nanoadmin", "start", "--conf", str(PROJECT / "conf" / "nanomq.conf")]
    argv += ["-p", str(port), "--log-level", "warning"]
    if mqtt_port is not None:
        argv += ["--mqtt", f"{HOST}:{mqtt_port}"]
    if mock_clients:
        argv += ["--mock-clients", str(mock_clients)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOMQ_")}
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            cwd=PROJECT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
            preexec_fn=pinned(SERVER_CPUS),
        )
    server = Server(process, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}; see {log}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5) as sock:
                sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(12).startswith(b"HTTP/1.1 200"):
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("server did not start in time")


# -- HTTP load -------------------------------------------------------------------------------


def http_load(wrk: str | None, port: int, seconds: float) -> subprocess.Popen[str]:
    """Start polling the API for ``seconds``; :func:`http_result` reads req/s."""
    if wrk is not None:
        argv = [wrk, "-t1", "-c32", f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
        argv += ["-H", f"Authorization: {BASIC}", f"http://{HOST}:{port}{API_PATH}"]
    else:
        argv = [PYTHON, str(BENCH / "loadgen.py"), "--port", str(port), "--path", API_PATH]
        argv += ["--header", f"Authorization: {BASIC}", "--duration", str(seconds)]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=pinned(LOAD_CPUS),
    )


def http_result(process: subprocess.Popen[str]) -> float:
    out, err = process.communicate(timeout=120)
    if process.returncode != 0:
        raise RuntimeError(f"HTTP load failed: {err.strip()}")
    if out.lstrip().startswith("{"):
        return float(json.loads(out)["rps"])
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return float(found.group(1))


# -- MQTT load -------------------------------------------------------------------------------


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    length, header = len(body), bytearray((first,))
    while True:
        byte, length = length & 0x7F, length >> 7
        header.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(header) + body


def connect_packet(client_id: str) -> bytes:
    return _packet(0x10, _string("MQTT") + b"\x04\x02\x00\x3c" + _string(client_id))


class BenchClient(asyncio.Protocol):
    """Counts what the server sends: CONNACK and SUBACK wake a waiter, PUBLISHes are counted."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.received = 0
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            length, shift, index = 0, 0, pos + 1
            while index < size:
                byte = buffer[index]
                index += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            else:
                break
            if index + length > size:
                break
            kind = buffer[pos] >> 4
            pos = index + length
            if kind == 3:
                self.received += 1
            elif self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(kind)
        self.buffer = buffer[pos:]

    async def request(self, data: bytes) -> int:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(data)
        return await asyncio.wait_for(self.waiter, 10)


async def connect_all(port: int, count: int) -> tuple[list[BenchClient], list[BenchClient], float]:
    """``count`` clients: half subscribed to bench/<i>, half publishing to them."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    gate = asyncio.Semaphore(100)

    async def one(index: int) -> BenchClient:
        async with gate:
            _, client = await loop.create_connection(BenchClient, HOST, port)
            assert await client.request(connect_packet(f"bench-{index}")) == 2
            if index % 2 == 0:
                subscribe = _packet(0x82, b"\x00\x01" + _string(f"bench/{index}") + b"\x00")
                assert await client.request(subscribe) == 9
            return client

    clients = await asyncio.gather(*(one(i) for i in range(count)))
    return list(clients[0::2]), list(clients[1::2]), time.monotonic() - started


async def publish_for(
    subscribers: list[BenchClient], publishers: list[BenchClient], rate: float, seconds: float
) -> tuple[int, int, float]:
    """Publish QoS 0 at ``rate`` msg/s for ``seconds``: (sent, delivered, elapsed)."""
    packets = [_packet(0x30, _string(f"bench/{2 * i}") + PAYLOAD) for i in range(len(subscribers))]
    received_before = sum(s.received for s in subscribers)
    started = time.monotonic()
    sent = 0
    turn = 0
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= seconds:
            break
        due = int(rate * elapsed) - sent
        for _ in range(due):
            publisher = publishers[turn % len(publishers)]
            assert publisher.transport is not None
            publisher.transport.write(packets[turn % len(packets)])
            turn += 1
        sent += max(due, 0)
        await asyncio.sleep(0.005)
    elapsed = time.monotonic() - started
    # Let what is on its way arrive (bounded: at most 2 s).
    for _ in range(100):
        if sum(s.received for s in subscribers) - received_before >= sent:
            break
        await asyncio.sleep(0.02)
    return sent, sum(s.received for s in subscribers) - received_before, elapsed


async def measure(
    off: Server, server: Server, mqtt_port: int, args: argparse.Namespace, wrk: str | None
) -> dict[str, float]:
    """1 s slices of polling, taking turns: the server without the listener, the one with it
    idle (clients connected), and the same under the publish load. A shared machine's speed
    swings within seconds; slices that take turns see the same machine."""
    loop = asyncio.get_running_loop()
    subscribers, publishers, connect_s = await connect_all(mqtt_port, args.clients)
    figures = {"connect_s": connect_s, "rss_idle_mb": server.rss_mb()}
    rates: dict[str, list[float]] = {"off": [], "idle": [], "loaded": []}
    sent = delivered = 0
    elapsed = cpu_loaded = generator = 0.0
    for index in range(max(1, round(args.seconds))):
        order = ["off", "idle", "loaded"]
        order = order[index % 3 :] + order[: index % 3]
        for phase in order:
            poll = http_load(wrk, (off if phase == "off" else server).port, 1.0)
            if phase == "loaded":
                cpu, ours = server.cpu_seconds(), sum(os.times()[:2])
                slice_sent, slice_delivered, slice_s = await publish_for(
                    subscribers, publishers, args.rate, 1.0
                )
                sent, delivered, elapsed = (
                    sent + slice_sent,
                    delivered + slice_delivered,
                    elapsed + slice_s,
                )
                generator += sum(os.times()[:2]) - ours
            await loop.run_in_executor(None, poll.wait)
            if phase == "loaded":
                cpu_loaded += server.cpu_seconds() - cpu
            rates[phase].append(http_result(poll))
    # The listener's own cost: publishing alone, no polling.
    cpu = server.cpu_seconds()
    alone, _, _ = await publish_for(subscribers, publishers, args.rate, max(1.0, args.seconds / 5))
    figures["cpu_us_per_msg"] = (server.cpu_seconds() - cpu) / alone * 1e6 if alone else 0.0
    for name, values in rates.items():
        figures[f"rps_{name}"] = statistics.median(values)
    pairs = list(zip(rates["off"], rates["idle"], rates["loaded"], strict=True))
    figures["idle_vs_off"] = statistics.median(idle / off_ for off_, idle, _ in pairs)
    figures["loaded_vs_idle"] = statistics.median(loaded / idle for _, idle, loaded in pairs)
    figures.update(
        sent=sent,
        delivered=delivered,
        elapsed=elapsed,
        cpu_loaded=cpu_loaded / elapsed,
        generator_cpu=generator / elapsed,
        rss_loaded_mb=server.rss_mb(),
    )
    for client in subscribers + publishers:
        if client.transport is not None:
            client.transport.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=6000.0, help="msg/s offered in all")
    parser.add_argument("--seconds", type=float, default=10.0, help="1 s slices of each phase")
    parser.add_argument("--smoke", action="store_true", help="100 clients, 1000 msg/s, 1 s")
    parser.add_argument("--check", action="store_true", help="exit 1 below 5000 msg/s")
    args = parser.parse_args(argv)
    if args.smoke:
        args.clients, args.rate, args.seconds = 100, 1000.0, 1.0
    if LOAD_CPUS is not None:
        os.sched_setaffinity(0, LOAD_CPUS)
    wrk = shutil.which("wrk")
    with tempfile.TemporaryDirectory(prefix="nanoadmin-mqtt-bench-") as tmp:
        log = Path(tmp) / "servers.log"
        # As many mock clients as the other will have real ones: the same size of page.
        off = start_server(log, None, mock_clients=args.clients)
        try:
            rss_off = off.rss_mb()
            mqtt_port = free_port()
            server = start_server(log, mqtt_port)
            try:
                figures = asyncio.run(measure(off, server, mqtt_port, args, wrk))
            finally:
                server.stop()
        finally:
            off.stop()
    elapsed = figures["elapsed"]
    sent_rate = figures["sent"] / elapsed
    delivered_rate = figures["delivered"] / elapsed
    generator_name = "wrk -t1 -c32" if wrk else "bench/loadgen.py (Python; wrk unavailable)"
    print(
        f"MQTT listener: {args.clients} clients ({args.clients // 2} publishing QoS 0 to "
        f"{args.clients - args.clients // 2} subscribers, 64-byte payloads); API polled with "
        f"{generator_name} in 1 s slices taking turns, {round(args.seconds)} of each phase"
    )
    print(f"  connecting {args.clients} clients: {figures['connect_s']:.2f} s")
    print(
        f"  messages: {args.rate:,.0f}/s offered, {sent_rate:,.0f}/s published, "
        f"{delivered_rate:,.0f}/s delivered (target ≥ {TARGET_MSGS:,}/s "
        f"{'ok' if delivered_rate >= TARGET_MSGS else 'MISSED'})"
    )
    print(
        f"  GET {API_PATH} req/s (median slice): listener off {figures['rps_off']:,.0f}, "
        f"listener idle {figures['rps_idle']:,.0f} (× {figures['idle_vs_off']:.2f} of off), "
        f"under the publish load {figures['rps_loaded']:,.0f} "
        f"(× {figures['loaded_vs_idle']:.2f} of idle)"
    )
    print(
        f"  server CPU: {figures['cpu_us_per_msg']:.0f} µs per message in and out (publishing "
        f"alone); {figures['cpu_loaded']:.0%} of its core while polled under the load; the MQTT "
        f"load generator took {figures['generator_cpu']:.0%} of the load core"
    )
    print(
        f"  server RSS: {rss_off:.1f} MB without the listener, {figures['rss_idle_mb']:.1f} MB "
        f"with {args.clients} clients, {figures['rss_loaded_mb']:.1f} MB after the load"
    )
    return 1 if args.check and delivered_rate < TARGET_MSGS else 0


if __name__ == "__main__":
    sys.exit(main())
