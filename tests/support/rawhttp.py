"""A raw-socket HTTP/1.1 client for load and fault tests: exact bytes, keep-alive, pipelines.

aiohttp's client tidies requests up; these helpers send what they are given, byte by byte if
asked, and read responses by hand so that a missing or a second response cannot go unnoticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import BASIC_ADMIN

READ_TIMEOUT = 10.0
LOG_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


class ConnectionClosed(Exception):
    """The server closed (or reset) the connection before a whole response arrived."""


@dataclass(frozen=True)
class HttpResponse:
    version: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def is_json(self) -> bool:
        if not self.headers.get("content-type", "").startswith("application/json"):
            return False
        try:
            json.loads(self.body)
        except ValueError:
            return False
        return True

    def json(self) -> object:
        return json.loads(self.body)

    def code(self) -> object:
        """The JSON body's ``code``, or None when there is none."""
        if not self.is_json:
            return None
        body = self.json()
        return body.get("code") if isinstance(body, dict) else None


def request_bytes(
    method: str,
    target: str,
    *,
    auth: str | None = None,
    body: bytes | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    close: bool = False,
) -> bytes:
    """One HTTP/1.1 request; Content-Length is set whenever there is a body."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    if auth is not None:
        lines.append(f"Authorization: {auth}")
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body is not None:
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def parse_head(head: bytes) -> tuple[str, int, dict[str, str]]:
    status_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    version, status, *_ = status_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return version, int(status), headers


class RawConnection:
    """One TCP connection to the server, used for any number of requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, timeout: float = 5.0) -> RawConnection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, limit=1 << 20), timeout
        )
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_slowly(self, data: bytes, pause: float) -> None:
        """Byte by byte, ``pause`` seconds apart (a slow or hostile client)."""
        for index in range(len(data)):
            self.writer.write(data[index : index + 1])
            await self.writer.drain()
            await asyncio.sleep(pause)

    async def response(self, timeout: float = READ_TIMEOUT, *, head: bool = False) -> HttpResponse:
        """Read exactly one response (``head``: to a HEAD request, so without its body);
        ConnectionClosed if the connection ends first."""
        try:
            head_bytes = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
            version, status, headers = parse_head(head_bytes)
            length = 0 if head else int(headers.get("content-length", "0"))
            body = await asyncio.wait_for(self.reader.readexactly(length), timeout)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ConnectionClosed(repr(exc)) from None
        return HttpResponse(version, status, headers, body)

    async def finish(self, timeout: float = 5.0) -> bytes:
        """Half-close, then read to EOF: whatever arrives is a response nobody asked for."""
        extra = b""
        with contextlib.suppress(ConnectionError, OSError):
            if self.writer.can_write_eof():
                self.writer.write_eof()
            extra = await asyncio.wait_for(self.reader.read(), timeout)
        await self.close()
        return extra

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)

    def abort(self) -> None:
        """Drop the connection at once (RST), as a client that dies mid-request does."""
        transport = self.writer.transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def rss_kib(pid: int) -> int:
    """Resident memory of process ``pid`` in KiB, from /proc/PID/status (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def log_records(text: str) -> list[str]:
    """A log file split into records: a record is its first line plus any continuation lines."""
    records: list[str] = []
    for line in text.splitlines():
        if LOG_RECORD_START.match(line) or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return records


@dataclass
class StatusProbe:
    """GET /status every ``interval`` seconds on its own keep-alive connection, in a thread.

    A thread with blocking sockets, so that the load generator's event loop cannot delay the
    probe: each latency is the server's, not the client's.
    """

    port: int
    interval: float = 0.15
    timeout: float = 5.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="status-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 2)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _run(self) -> None:
        request = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        sock: socket.socket | None = None
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    if sock is None:
                        sock = self._connect()
                    sock.sendall(request)
                    status = self._read_one(sock)
                    elapsed = time.perf_counter() - started
                    self.latencies.append(elapsed)
                    if status != 200:
                        self.failures.append(f"status {status}")
                except OSError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    self.latencies.append(time.perf_counter() - started)
                    if sock is not None:
                        sock.close()
                    sock = None
                self._stop.wait(self.interval)
        finally:
            if sock is not None:
                sock.close()

    @staticmethod
    def _read_one(sock: socket.socket) -> int:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed before the response head")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        _, status, headers = parse_head(head)
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed before the response body")
            rest += chunk
        if len(rest) != length:
            raise ConnectionError(f"{len(rest) - length} bytes after the response")
        return status


async def call(
    conn: RawConnection,
    method: str,
    target: str,
    body: object = None,
    *,
    auth: str | None = BASIC_ADMIN,
) -> HttpResponse:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    await conn.send(request_bytes(method, target, auth=auth, body=data))
    return await conn.response()


def prometheus_values(response: HttpResponse) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in response.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split()
            values[name.removeprefix("nanomq_")] = int(float(value))
    return values


# Broken HTTP, by name: the HTTP layer must refuse each with a JSON 4xx.
MALFORMED: tuple[tuple[str, bytes], ...] = (
    ("broken request line", b"GET /api/v4/brokers HTTP/1.1 extra\r\nHost: x\r\n\r\n"),
    ("bad header bytes", b"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nBad\x01Header: y\r\n\r\n"),
    ("NUL in a header value", b"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n"),
    ("header line without colon", b"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"),
    ("bad HTTP version", b"GET /api/v4/brokers HTTP/9.9\r\nHost: x\r\n\r\n"),
    ("TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32) + b"\r\n\r\n"),
    (
        "negative length",
        b"POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    ),
    (
        "length and chunked",
        b"POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "200 KB header",
        b"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 200_000 + b"\r\n\r\n",
    ),
)
