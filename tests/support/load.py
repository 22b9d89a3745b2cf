"""Load, faults and state integrity against a real server process on loopback.

Each test prints one summary line (run pytest with -s to see them): requests sent, answers by
status, latency percentiles, the /status probe's worst latency and the server's resident memory.
The figures are reported, not asserted, except the limits the issue sets: no 5xx, every request
answered exactly once, /status within a second, memory growth within 50 MB.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nanoadmin.http.limits import MAX_FIELD_SIZE
from tests.support import BASIC_ADMIN, write_conf
from tests.support.processes import (
    ServerProcess,
    free_port,
    start_process,
    stop_process,
    wait_until_serving,
)
from tests.support.rawhttp import (
    ConnectionClosed,
    HttpResponse,
    RawConnection,
    StatusProbe,
    log_records,
    percentile,
    request_bytes,
    rss_kib,
)

HTTP_SERVER = """  port = 8081
  ip_addr = "127.0.0.1"
  username = admin
  password = public
  auth_type = basic
  max_body = 1MB"""

ACCESS_LINE = re.compile(r'nanoadmin\.access: \S+ "(\S+) (\S*)" (\d{3}) ')
RID = re.compile(r"[?&]rid=(\d+)")


# -- the server as a process -------------------------------------------------------------------


@contextmanager
def server(conf: Path, log: Path, *args: str) -> Iterator[ServerProcess]:
    """``nanoadmin start`` on a free loopback port, its log in a file (a pipe nobody reads
    would fill up under load and stall the server), SIGTERM on exit."""
    port = free_port()
    with log.open("a+") as log_file:
        process = start_process(
            "start",
            "--conf",
            str(conf),
            "-p",
            str(port),
            "--log-level",
            "info",
            *args,
            log=log_file,
        )
        try:
            wait_until_serving(port, process)
            yield ServerProcess(process, port, log_file)
        finally:
            stop_process(process)


@dataclass
class LogSummary:
    """A server log sorted into what the tests care about."""

    records: int = 0
    malformed_lines: int = 0
    disconnect_tracebacks: int = 0
    other_multiline: list[str] = field(default_factory=list)
    access: list[tuple[str, str, int]] = field(default_factory=list, repr=False)

    @classmethod
    def read(cls, log: Path) -> LogSummary:
        summary = cls()
        for record in log_records(log.read_text(errors="replace")):
            summary.records += 1
            match = ACCESS_LINE.search(record)
            if match is not None and "\n" not in record:
                summary.access.append((match[1], match[2], int(match[3])))
            if "\n" not in record and "Traceback" not in record:
                if "malformed HTTP request from" in record:
                    summary.malformed_lines += 1
                continue
            first_line = record.split("\n", 1)[0]
            last_line = record.rstrip().rsplit("\n", 1)[-1]
            if "nanoadmin.errors: unhandled error" in first_line and last_line.startswith(
                "ConnectionResetError"
            ):
                summary.disconnect_tracebacks += 1  # a finding: see test_client_disconnect_*
            else:
                summary.other_multiline.append(record)
        return summary

    def rid_counts(self) -> Counter[int]:
        return Counter(int(m[1]) for _, target, _ in self.access for m in RID.finditer(target))

    def statuses(self) -> Counter[int]:
        return Counter(status for _, _, status in self.access)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


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


# -- 4. load and faults ------------------------------------------------------------------------

LOAD_SECONDS = 20.0
WARMUP_SECONDS = 2.0
# The 200 connections: kind -> how many.
MIX = {
    "valid": 110,
    "pipeline": 30,
    "invalid": 24,
    "malformed": 10,
    "slow": 10,
    "disconnect": 8,
    "big-body": 4,
    "many-headers": 4,
}
PIPELINE_DEPTH = 4
BIG_BODY = 10 * 1024 * 1024
MANY_HEADERS = 10_000


@dataclass(frozen=True)
class Call:
    """A request and what a correct answer to it looks like."""

    method: str
    target: str
    body: bytes | None
    status: int
    code: int | None  # the JSON code wanted; None: not checked
    shape: str  # a key the JSON body must hold, "text" for /prometheus, "" for none
    auth: str | None = BASIC_ADMIN
    publish: bool = False

    def request(self) -> bytes:
        return request_bytes(self.method, self.target, auth=self.auth, body=self.body)

    def check(self, response: HttpResponse) -> str | None:
        """None when ``response`` answers this call, else what is wrong."""
        if response.status != self.status:
            return f"{self.method} {self.target}: status {response.status}, wanted {self.status}"
        if self.shape == "text":
            ok = response.body.startswith(b"# TYPE nanomq_connections_count")
            return None if ok else f"{self.target}: not the prometheus text"
        if not response.is_json:
            return f"{self.method} {self.target}: {response.status} is not JSON"
        body = response.json()
        if not isinstance(body, dict):
            return f"{self.target}: body is not an object"
        if self.code is not None and body.get("code") != self.code:
            return f"{self.method} {self.target}: code {body.get('code')}, wanted {self.code}"
        if self.shape and not _has_shape(body, self.shape):
            return f"{self.target}: no {self.shape!r} in the answer (answer to another request?)"
        return None


def _has_shape(body: dict[str, object], key: str) -> bool:
    if key in body:
        return True
    data = body.get("data")
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and key in data[0]


def valid_call(rid: int) -> Call:
    """Requests that must succeed, tagged with ``rid``; each answer has a shape of its own."""
    q = f"?rid={rid}"
    choice = rid % 7
    if choice == 0:
        return Call("GET", "/api/v4/brokers" + q, None, 200, 0, "sysdescr")
    if choice == 1:
        return Call("GET", "/api/v4/nodes" + q, None, 200, 0, "connections")
    if choice == 2:
        return Call("GET", "/api/v4/metrics" + q, None, 200, None, "cpuinfo")
    if choice == 3:
        return Call("GET", "/api/v4/prometheus" + q, None, 200, None, "text")
    if choice == 4:
        return Call("GET", "/api/v4/subscriptions" + q, None, 200, 0, "topic")
    body = json.dumps({"topic": f"load/{rid}", "payload": "x", "qos": rid % 3}).encode()
    return Call("POST", "/api/v4/mqtt/publish" + q, body, 200, 0, "", publish=True)


def invalid_call(rid: int) -> Call:
    """Well-formed HTTP that nanoadmin must refuse with a JSON error (and keep the connection)."""
    q = f"?rid={rid}"
    choice = rid % 9
    if choice == 0:
        return Call("GET", "/api/v4/brokers" + q, None, 401, 103, "", basic("admin", "wrong"))
    if choice == 1:
        return Call("GET", "/api/v4/brokers" + q, None, 401, 104, "", None)
    if choice == 2:
        return Call("GET", "/api/v4/no-such-thing" + q, None, 404, None, "message")
    if choice == 3:
        return Call("POST", "/api/v4/brokers" + q, b"{}", 405, 102, "message")
    if choice == 4:
        return Call("POST", "/api/v4/mqtt/publish" + q, b"{not json", 400, 109, "message")
    if choice == 5:
        return Call("GET", f"/api/v4/clients?bogus=1&rid={rid}", None, 400, 108, "message")
    if choice == 6:
        body = b'{"topic": "a/+", "payload": "x"}'
        return Call("POST", "/api/v4/mqtt/publish" + q, body, 200, 108, "message")
    if choice == 7:
        return Call("DELETE", "/api/v4/clients/ghost" + q, None, 404, 112, "message")
    return Call("GET", "/elsewhere" + q, None, 404, None, "message", None)


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


@dataclass
class Load:
    """Everything the load run sent and saw."""

    port: int
    deadline: float = 0.0
    rids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    sent: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    answered: Counter[int] = field(default_factory=Counter)
    sent_rids: dict[int, str] = field(default_factory=dict)
    abandoned: set[int] = field(default_factory=set)
    # Refused by the HTTP layer, whose access log line shows "UNKNOWN /" rather than the target.
    unlogged: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    non_json_errors: Counter[str] = field(default_factory=Counter)
    publishes_ok: int = 0

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def took(self, kind: str, started: float) -> None:
        self.latencies.setdefault(kind, []).append(time.perf_counter() - started)

    def latency_figures(self) -> str:
        """p50/p99/max per kind, and for the fast kinds together (slow and 10 MB requests
        take as long as the client makes them take)."""
        fast = [
            t for kind in ("valid", "pipeline", "invalid") for t in self.latencies.get(kind, [])
        ]
        parts = []
        for name, values in [("fast", fast), *sorted(self.latencies.items())]:
            parts.append(
                f"{name} n={len(values)} p50 {percentile(values, 0.5) * 1000:.1f} "
                f"p99 {percentile(values, 0.99) * 1000:.1f} max {max(values, default=0) * 1000:.1f}"
            )
        return "latency ms: " + ", ".join(parts)

    def new_rid(self, kind: str) -> int:
        rid = next(self.rids)
        self.sent[kind] += 1
        self.sent_rids[rid] = kind
        return rid

    def saw(self, kind: str, response: HttpResponse, rid: int | None = None) -> None:
        self.outcomes[f"{kind} {response.status}"] += 1
        if rid is not None:
            self.answered[rid] += 1
        if response.status >= 500:
            self.server_errors.append(f"{kind}: {response.status} {response.body[:200]!r}")
        elif response.status >= 400 and not response.is_json:
            self.non_json_errors[f"{kind} {response.status} {response.version}"] += 1

    def answer(self, kind: str, rid: int, spec: Call, response: HttpResponse) -> None:
        self.saw(kind, response, rid)
        problem = spec.check(response)
        if problem is not None:
            self.problems.append(f"{kind} rid={rid}: {problem}")
        elif spec.publish:
            self.publishes_ok += 1

    def lost(self, kind: str, rid: int, why: str) -> None:
        self.problems.append(f"{kind} rid={rid}: no answer ({why})")


async def _finish(load: Load, kind: str, conn: RawConnection) -> None:
    extra = await conn.finish()
    if extra:
        load.problems.append(f"{kind}: {len(extra)} bytes nobody asked for: {extra[:120]!r}")


async def valid_worker(load: Load, make: Callable[[int], Call], kind: str) -> None:
    """Request, answer, request...: keep-alive, a fresh connection every 50 requests."""
    while load.running():
        conn = await RawConnection.open(load.port)
        try:
            for _ in range(50):
                if not load.running():
                    break
                rid = load.new_rid(kind)
                spec = make(rid)
                started = time.perf_counter()
                await conn.send(spec.request())
                try:
                    response = await conn.response()
                except (ConnectionClosed, TimeoutError) as exc:
                    load.lost(kind, rid, repr(exc))
                    return
                load.took(kind, started)
                load.answer(kind, rid, spec, response)
        finally:
            await _finish(load, kind, conn)


async def pipeline_worker(load: Load) -> None:
    """PIPELINE_DEPTH requests in one write, then their answers, in order."""
    kind = "pipeline"
    conn = await RawConnection.open(load.port)
    try:
        while load.running():
            batch = [
                (rid, valid_call(rid))
                for rid in (load.new_rid(kind) for _ in range(PIPELINE_DEPTH))
            ]
            started = time.perf_counter()
            await conn.send(b"".join(spec.request() for _, spec in batch))
            for rid, spec in batch:
                try:
                    response = await conn.response()
                except (ConnectionClosed, TimeoutError) as exc:
                    load.lost(kind, rid, repr(exc))
                    return
                load.took(kind, started)
                load.answer(kind, rid, spec, response)
    finally:
        await _finish(load, kind, conn)


async def malformed_worker(load: Load, index: int) -> None:
    """Broken HTTP on a fresh connection, every other time after a valid request on it."""
    kind = "malformed"
    for round_ in itertools.count(index):
        if not load.running():
            return
        name, data = MALFORMED[round_ % len(MALFORMED)]
        conn = await RawConnection.open(load.port)
        try:
            if round_ % 2:
                rid = load.new_rid(kind)
                spec = Call("GET", f"/api/v4/brokers?rid={rid}", None, 200, 0, "sysdescr")
                response = await call(conn, spec.method, spec.target)
                load.answer(kind, rid, spec, response)
            load.sent[f"malformed: {name}"] += 1
            with contextlib.suppress(ConnectionError, OSError):
                await conn.send(data)
            try:
                response = await conn.response(timeout=5.0)
            except ConnectionClosed:
                load.outcomes[f"{kind} closed"] += 1
            else:
                load.saw(f"{kind} ({name})", response)
                if not 400 <= response.status < 500:
                    load.problems.append(f"malformed {name}: answered {response.status}")
        finally:
            await conn.close()
        await asyncio.sleep(0.05)


async def slow_worker(load: Load) -> None:
    """Headers byte by byte, 2 ms apart, on a keep-alive connection."""
    kind = "slow"
    conn = await RawConnection.open(load.port)
    try:
        while load.running():
            rid = load.new_rid(kind)
            spec = Call("GET", f"/api/v4/brokers?rid={rid}", None, 200, 0, "sysdescr")
            started = time.perf_counter()
            await conn.send_slowly(spec.request(), 0.002)
            try:
                response = await conn.response()
            except (ConnectionClosed, TimeoutError) as exc:
                load.lost(kind, rid, repr(exc))
                return
            load.took(kind, started)
            load.answer(kind, rid, spec, response)
    finally:
        await _finish(load, kind, conn)


async def disconnect_worker(load: Load, index: int) -> None:
    """Send the headers and part of the body, then vanish (FIN or RST)."""
    kind = "disconnect"
    targets = ("/api/v4/mqtt/publish", "/api/v4/mqtt/subscribe", "/api/v4/config_update")
    for round_ in itertools.count(index):
        if not load.running():
            return
        rid = load.new_rid(kind)
        load.abandoned.add(rid)
        target = f"{targets[round_ % 3]}?rid={rid}"
        if round_ % 4 == 3:
            head = request_bytes(
                "POST", target, auth=BASIC_ADMIN, headers=(("Transfer-Encoding", "chunked"),)
            )
            partial = head + b"1000\r\n" + b"{" * 100
        else:
            head = request_bytes(
                "POST", target, auth=BASIC_ADMIN, headers=(("Content-Length", "4096"),)
            )
            partial = head + (b"{" * 1000 if round_ % 4 else b"")
        conn = await RawConnection.open(load.port)
        with contextlib.suppress(ConnectionError, OSError):
            await conn.send(partial)
        await asyncio.sleep(0.02)
        if round_ % 2:
            conn.abort()
        else:
            await conn.close()
        await asyncio.sleep(0.1)


async def big_body_worker(load: Load, index: int) -> None:
    """A 10 MB body, with Content-Length or chunked: 413 {"code":109} before auth."""
    kind = "big-body"
    for round_ in itertools.count(index):
        if not load.running():
            return
        rid = load.new_rid(kind)
        target = f"/api/v4/mqtt/publish?rid={rid}"
        if round_ % 2:
            head = request_bytes("POST", target, headers=(("Transfer-Encoding", "chunked"),))
            chunk = b"x" * (1 << 20)
            body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)) + b"0\r\n\r\n"
        else:
            head = request_bytes("POST", target, headers=(("Content-Length", str(BIG_BODY)),))
            body = b"x" * BIG_BODY
        spec = Call("POST", target, None, 413, 109, "message")
        conn = await RawConnection.open(load.port)
        try:
            started = time.perf_counter()
            reset = False
            try:
                await conn.send(head + body)
            except (ConnectionError, OSError):
                reset = True
            try:
                response = await conn.response()
            except (ConnectionClosed, TimeoutError) as exc:
                load.outcomes[f"{kind} reset" if reset else f"{kind} lost"] += 1
                if not reset:
                    load.lost(kind, rid, repr(exc))
                load.abandoned.add(rid)
            else:
                load.took(kind, started)
                load.answer(kind, rid, spec, response)
        finally:
            await conn.close()
        await asyncio.sleep(1.0)


async def many_headers_worker(load: Load) -> None:
    """10 000 headers: the HTTP layer must refuse it with a 4xx, never a 5xx."""
    kind = "many-headers"
    filler = tuple((f"X-Filler-{n}", "v") for n in range(MANY_HEADERS))
    while load.running():
        rid = load.new_rid(kind)
        load.unlogged.add(rid)
        data = request_bytes("GET", f"/api/v4/brokers?rid={rid}", auth=BASIC_ADMIN, headers=filler)
        conn = await RawConnection.open(load.port)
        try:
            with contextlib.suppress(ConnectionError, OSError):
                await conn.send(data)
            try:
                response = await conn.response()
            except ConnectionClosed:
                load.outcomes[f"{kind} closed"] += 1
                load.abandoned.add(rid)
            else:
                load.saw(kind, response, rid)
                if not 400 <= response.status < 500:
                    load.problems.append(f"{kind}: answered {response.status}")
        finally:
            await conn.close()
        await asyncio.sleep(0.2)


def workers(load: Load) -> list[Awaitable[None]]:
    jobs: list[Awaitable[None]] = []
    jobs.extend(valid_worker(load, valid_call, "valid") for _ in range(MIX["valid"]))
    jobs.extend(pipeline_worker(load) for _ in range(MIX["pipeline"]))
    jobs.extend(valid_worker(load, invalid_call, "invalid") for _ in range(MIX["invalid"]))
    jobs.extend(malformed_worker(load, index) for index in range(MIX["malformed"]))
    jobs.extend(slow_worker(load) for _ in range(MIX["slow"]))
    jobs.extend(disconnect_worker(load, index) for index in range(MIX["disconnect"]))
    jobs.extend(big_body_worker(load, index) for index in range(MIX["big-body"]))
    jobs.extend(many_headers_worker(load) for _ in range(MIX["many-headers"]))
    assert len(jobs) == sum(MIX.values()) == 200
    return jobs


async def run_load(load: Load, seconds: float) -> None:
    load.deadline = time.monotonic() + seconds
    results = await asyncio.wait_for(
        asyncio.gather(*workers(load), return_exceptions=True), seconds + 25
    )
    for result in results:
        if isinstance(result, BaseException):
            load.problems.append(f"worker failed: {result!r}")


async def test_load_and_faults_200_connections_for_20_seconds(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, HTTP_SERVER)
    conf_before = conf.read_bytes()
    log = tmp_path / "server.log"
    with server(conf, log) as srv:
        pid = srv.process.pid
        rss_start = rss_kib(pid)
        rids = itertools.count(1)
        warmup = Load(srv.port, rids=rids)
        await run_load(warmup, WARMUP_SECONDS)
        await asyncio.sleep(1.0)
        rss_before = rss_kib(pid)
        conn = await RawConnection.open(srv.port)
        received_before = prometheus_values(await call(conn, "GET", "/api/v4/prometheus"))

        load = Load(srv.port, rids=rids)
        probe = StatusProbe(srv.port)
        probe.start()
        started = time.monotonic()
        try:
            await run_load(load, LOAD_SECONDS)
        finally:
            probe.stop()
        elapsed = time.monotonic() - started

        received_after = prometheus_values(await call(conn, "GET", "/api/v4/prometheus"))
        await conn.close()
        await asyncio.sleep(1.5)
        rss_after = rss_kib(pid)
        rss_peak = int(Path(f"/proc/{pid}/status").read_text().split("VmHWM:")[1].split()[0])
    logged = LogSummary.read(log)
    rid_log = logged.rid_counts()

    answered = sum(load.answered.values())
    status_max = max(probe.latencies, default=0.0)
    print(
        f"\nLOAD {elapsed:.1f}s x {sum(MIX.values())} connections: "
        f"requests sent {sum(load.sent.values())} ({dict(load.sent)}), "
        f"answered {answered} ({answered / elapsed:.0f}/s), "
        f"answers {dict(sorted(load.outcomes.items()))}, "
        f"{load.latency_figures()}; "
        f"/status probes {len(probe.latencies)} "
        f"p50 {percentile(probe.latencies, 0.5) * 1000:.1f} ms "
        f"p99 {percentile(probe.latencies, 0.99) * 1000:.1f} ms max {status_max * 1000:.1f} ms; "
        f"RSS start {rss_start / 1024:.1f} MiB, after warm-up {rss_before / 1024:.1f} MiB, "
        f"after run {rss_after / 1024:.1f} MiB (growth {(rss_after - rss_before) / 1024:+.1f} MiB, "
        f"peak {rss_peak / 1024:.1f} MiB); "
        f"non-JSON 4xx {dict(load.non_json_errors)}; "
        f"log: {logged.records} records, access statuses {dict(logged.statuses())}, "
        f"malformed-HTTP lines {logged.malformed_lines}, "
        f"disconnect tracebacks {logged.disconnect_tracebacks}"
    )

    for phase in (warmup, load):
        assert not phase.server_errors, phase.server_errors[:10]
        assert not phase.problems, phase.problems[:10]
        # Exactly once: each request the client saw answered was answered once and logged
        # once; one it abandoned was logged at most once; every other one was answered.
        assert all(count == 1 for count in phase.answered.values())
        assert not [
            (rid, phase.sent_rids[rid], rid_log[rid])
            for rid in phase.answered
            if rid_log[rid] != (0 if rid in phase.unlogged else 1)
        ], "not logged once"
        assert not [rid for rid in phase.abandoned if rid_log[rid] > 1]
        unanswered = set(phase.sent_rids) - set(phase.answered) - phase.abandoned
        assert not unanswered, sorted(unanswered)[:10]
    sent = load.sent_rids.keys() | warmup.sent_rids.keys()
    assert not [rid for rid in rid_log if rid not in sent], "logged but never sent"
    assert received_after["messages_received"] - received_before["messages_received"] == (
        load.publishes_ok
    )
    assert load.outcomes["big-body 413"] > 0 and load.outcomes["slow 200"] > 0
    # /status throughout, each within a second.
    assert not probe.failures, probe.failures[:5]
    assert len(probe.latencies) >= LOAD_SECONDS / (probe.interval + 1.0)
    assert status_max < 1.0, f"/status took {status_max:.3f}s"
    # No leak: within 50 MB of the warmed-up figure, and of the figure at start too.
    assert rss_after - rss_before <= 50 * 1024, (rss_before, rss_after)
    assert rss_after - rss_start <= 50 * 1024, (rss_start, rss_after)
    # D7: the HTTP layer's own refusals (broken request line, bad header bytes, 10 000 headers)
    # are JSON too.
    assert not load.non_json_errors, dict(load.non_json_errors)
    # The log: no 5xx at all (a client leaving mid-body is a 400 nobody reads), no tracebacks.
    five_xx = [(m, t, s) for m, t, s in logged.access if s >= 500]
    assert not five_xx, five_xx[:3]
    other_multiline = logged.other_multiline
    assert not other_multiline, other_multiline[:3]
    assert conf.read_bytes() == conf_before, "a cut-off config_update changed the file"


# -- malformed HTTP and client disconnects, one request at a time --------------------------------


async def _exchange(port: int, data: bytes, *, first: bool) -> HttpResponse | None:
    conn = await RawConnection.open(port)
    try:
        if not first:  # after a good request: aiohttp treats a bad *first* request line apart
            assert (await call(conn, "GET", "/status", auth=None)).status == 200
        with contextlib.suppress(ConnectionError, OSError):
            await conn.send(data)
        try:
            return await conn.response(timeout=5.0)
        except ConnectionClosed:
            return None
    finally:
        await conn.close()


async def test_malformed_http_is_logged_as_one_line(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    answers: dict[str, tuple[int, str, bool] | None] = {}
    with server(write_conf(tmp_path, HTTP_SERVER), log) as srv:
        for name, data in MALFORMED:
            for first in (True, False):
                response = await _exchange(srv.port, data, first=first)
                answers[f"{name} (first={first})"] = (
                    None
                    if response is None
                    else (response.status, response.version, response.is_json)
                )
    print(f"\nMALFORMED answers (status, version, JSON): {answers}")
    # D7: JSON everywhere, the HTTP layer's own 400s included.
    assert all(answer is not None and answer[::2] == (400, True) for answer in answers.values())
    logged = LogSummary.read(log)
    text = log.read_text()
    assert "Traceback" not in text and not logged.other_multiline, text[-2000:]
    # One line for each malformed request (besides its access line).
    assert logged.malformed_lines == len(answers), text[-2000:]


async def test_client_disconnect_mid_body_is_not_a_server_error(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with server(write_conf(tmp_path, HTTP_SERVER), log) as srv:
        for target in ("/api/v4/mqtt/publish", "/api/v4/mqtt/subscribe", "/api/v4/config_update"):
            conn = await RawConnection.open(srv.port)
            head = request_bytes(
                "POST", target, auth=BASIC_ADMIN, headers=(("Content-Length", "4096"),)
            )
            await conn.send(head + b"{" * 1000)
            await asyncio.sleep(0.1)
            await conn.close()
        await asyncio.sleep(0.3)
        conn = await RawConnection.open(srv.port)
        assert (await call(conn, "GET", "/status", auth=None)).status == 200
        await conn.close()
    logged = LogSummary.read(log)
    print(
        f"\nDISCONNECT access statuses {dict(logged.statuses())}, "
        f"tracebacks {logged.disconnect_tracebacks}"
    )
    assert "Traceback" not in log.read_text()
    assert not [status for _, _, status in logged.access if status >= 500]


@pytest.mark.parametrize(
    "after_secret",
    [b"\x01", b" " * 10 + b"x" * (MAX_FIELD_SIZE + 10)],
    ids=["control byte", "longer than max_field_size"],
)
async def test_malformed_authorization_header_never_reaches_the_log(
    tmp_path: Path, after_secret: bytes
) -> None:
    log = tmp_path / "server.log"
    secret = BASIC_ADMIN.split()[1].encode()
    with server(write_conf(tmp_path, HTTP_SERVER), log) as srv:
        data = (
            b"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
            + secret
            + after_secret
            + b"\r\n\r\n"
        )
        response = await _exchange(srv.port, data, first=False)
    assert response is not None and response.status == 400 and response.is_json
    assert secret not in response.body
    assert secret.decode() not in log.read_text()
    assert LogSummary.read(log).malformed_lines == 1


# -- 5. state integrity ------------------------------------------------------------------------

HAMMER_SECONDS = 4.0


def real_filter(topic: str) -> str:
    if topic.startswith("$share/"):
        parts = topic.split("/", 2)
        if len(parts) == 3:
            return parts[2]
    return topic


def basic_variant(k: int) -> dict[str, object]:
    return {
        "property_size": 100 + k,
        "msq_len": 1000 + k,
        "qos_duration": 10 + k,
        "allow_anonymous": k % 2 == 0,
    }


@dataclass
class Hammer:
    port: int
    clients: list[str]
    victims: list[str]
    deadline: float = 0.0
    publishes_ok: int = 0
    kicks_ok: Counter[str] = field(default_factory=Counter)
    kicks_refused: int = 0
    # (client, topic) -> the last answered operation on it: ("sub", qos, code) / ("unsub", 0, code)
    ledger: dict[tuple[str, str], tuple[str, int, int]] = field(default_factory=dict)
    ops: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    config_posts: int = 0

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def expect(self, what: str, response: HttpResponse, status: int, codes: tuple[int, ...]) -> int:
        self.ops[f"{what} {response.status}:{response.code()}"] += 1
        code = response.code()
        if response.status != status or code not in codes:
            self.problems.append(f"{what}: {response.status} {response.body[:200]!r}")
        return code if isinstance(code, int) else -1


async def hammer_worker(h: Hammer, role: str, w: int) -> None:
    conn = await RawConnection.open(h.port)
    rng = random.Random(w)
    topics = [f"hammer/{w}/{j}" for j in range(4)] + [f"$share/g/hammer/{w}/{j}" for j in range(2)]
    topics += [f"hammer/+/{w}/#", f"$share/h/hammer/+/{w}/#"]
    try:
        while h.running():
            if role == "publish":
                topic = rng.choice(
                    [
                        f"hammer/{rng.randrange(12)}/{rng.randrange(4)}",
                        "alerts/x",
                        "site/1/a/b/temp",
                        f"cmd/{rng.choice(h.clients)}",
                        f"hammer/{w}/q/{rng.randrange(9)}",
                    ]
                )
                body = {
                    "topic": topic,
                    "payload": "p",
                    "qos": rng.randrange(3),
                    "retain": rng.random() < 0.1,
                }
                response = await call(conn, "POST", "/api/v4/mqtt/publish", body)
                if h.expect("publish", response, 200, (0,)) == 0:
                    h.publishes_ok += 1
            elif role == "subscribe":
                client, topic = rng.choice(h.clients), rng.choice(topics)
                if rng.random() < 0.7:
                    qos = rng.randrange(3)
                    body = {"topic": topic, "clientid": client, "qos": qos}
                    response = await call(conn, "POST", "/api/v4/mqtt/subscribe", body)
                    h.ledger[(client, topic)] = (
                        "sub",
                        qos,
                        h.expect("subscribe", response, 200, (0, 112)),
                    )
                else:
                    body = {"topic": topic, "clientid": client}
                    response = await call(conn, "POST", "/api/v4/mqtt/unsubscribe", body)
                    h.ledger[(client, topic)] = (
                        "unsub",
                        0,
                        h.expect("unsubscribe", response, 200, (0, 112)),
                    )
            elif role == "kick":
                victim = rng.choice(h.victims)
                response = await call(conn, "DELETE", f"/api/v4/clients/{victim}")
                if response.status == 200:
                    h.expect("kick", response, 200, (0,))
                    h.kicks_ok[victim] += 1
                else:
                    h.expect("kick", response, 404, (112,))
                    h.kicks_refused += 1
                await asyncio.sleep(0.01)
            elif role == "configure":
                k = rng.randrange(1000)
                target = "/api/v4/configuration" if k % 2 else "/api/v4/configuration/basic"
                response = await call(conn, "POST", target, {"data": {"basic": basic_variant(k)}})
                h.expect("configure", response, 200, (0,))
                h.config_posts += 1
            else:
                target = rng.choice(
                    [
                        "/api/v4/clients?_limit=50&_page=3",
                        "/api/v4/subscriptions?_limit=100&_page=2",
                        "/api/v4/topic-tree",
                        "/api/v4/prometheus",
                        "/api/v4/nodes",
                        "/api/v4/metrics",
                        "/api/v4/configuration/basic",
                    ]
                )
                response = await call(conn, "GET", target)
                h.ops[f"read {response.status}"] += 1
                if response.status != 200:
                    h.problems.append(f"GET {target}: {response.status}")
    finally:
        await conn.close()


def tree_paths(levels: list[list[dict[str, object]]]) -> dict[str, list[str]]:
    """/topic-tree's breadth-first levels back into ``filter -> [clientid, ...]``."""
    found: dict[str, list[str]] = {}
    parents: list[str | None] = [None]  # the root
    counts = [int(str(levels[0][0]["cld_cnt"]))]
    for row in levels[1:]:
        position = 0
        below: list[str | None] = []
        below_counts: list[int] = []
        for parent, count in zip(parents, counts, strict=True):
            for node in row[position : position + count]:
                path = str(node["topic"]) if parent is None else f"{parent}/{node['topic']}"
                if "clientid" in node:
                    found[path] = sorted(map(str, node["clientid"]))  # type: ignore[call-overload]
                below.append(path)
                below_counts.append(int(str(node["cld_cnt"])))
            position += count
        assert position == len(row), "cld_cnt does not add up to the next level"
        parents, counts = below, below_counts
    return found


async def get_json(conn: RawConnection, target: str) -> dict[str, object]:
    response = await call(conn, "GET", target)
    assert response.status == 200, (target, response.status, response.body[:200])
    body = response.json()
    assert isinstance(body, dict)
    return body


async def paged(conn: RawConnection, path: str, limit: int) -> tuple[list[object], int]:
    items: list[object] = []
    for page in itertools.count(1):
        body = await get_json(conn, f"{path}?_page={page}&_limit={limit}")
        data, meta = body["data"], body["meta"]
        assert isinstance(data, list) and isinstance(meta, dict)
        items.extend(data)
        if not meta["hasnext"]:
            return items, int(meta["count"])
    raise AssertionError("unreachable")


async def test_concurrent_writes_leave_every_view_consistent(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with server(write_conf(tmp_path, HTTP_SERVER), log, "--mock-clients", "500") as srv:
        conn = await RawConnection.open(srv.port)
        clients_before = await get_json(conn, "/api/v4/clients")
        subs_before = await get_json(conn, "/api/v4/subscriptions")
        received_before = prometheus_values(await call(conn, "GET", "/api/v4/prometheus"))
        assert isinstance(clients_before["data"], list) and isinstance(subs_before["data"], list)
        ids = [str(c["client_id"]) for c in clients_before["data"]]
        assert len(ids) == 500
        victims = random.Random(7).sample(ids, 150)
        h = Hammer(srv.port, ids, victims)
        h.deadline = time.monotonic() + HAMMER_SECONDS
        roles = (
            ["publish"] * 10 + ["subscribe"] * 12 + ["kick"] * 6 + ["configure"] * 6 + ["read"] * 6
        )
        results = await asyncio.wait_for(
            asyncio.gather(
                *(hammer_worker(h, role, w) for w, role in enumerate(roles)), return_exceptions=True
            ),
            HAMMER_SECONDS + 20,
        )
        h.problems.extend(f"worker failed: {r!r}" for r in results if isinstance(r, BaseException))

        clients = (await get_json(conn, "/api/v4/clients"))["data"]
        subs = (await get_json(conn, "/api/v4/subscriptions"))["data"]
        nodes = (await get_json(conn, "/api/v4/nodes"))["data"]
        metrics = await get_json(conn, "/api/v4/metrics")
        prom = prometheus_values(await call(conn, "GET", "/api/v4/prometheus"))
        tree = (await get_json(conn, "/api/v4/topic-tree"))["data"]
        section = (await get_json(conn, "/api/v4/configuration/basic"))["data"]
        assert isinstance(section, dict)
        basic_now = section["basic"]
        clients_paged, clients_count = await paged(conn, "/api/v4/clients", 37)
        subs_paged, subs_count = await paged(conn, "/api/v4/subscriptions", 53)
        await conn.close()
    logged = LogSummary.read(log)

    assert isinstance(clients, list) and isinstance(subs, list) and isinstance(nodes, list)
    assert isinstance(tree, list) and isinstance(basic_now, dict)
    kicked = set(h.kicks_ok)
    print(
        f"\nSTATE {HAMMER_SECONDS:.0f}s x {len(roles)} connections on 500 mock clients: "
        f"operations {sum(h.ops.values())} ({dict(sorted(h.ops.items()))}), "
        f"publishes ok {h.publishes_ok}, kicks ok {len(kicked)} refused {h.kicks_refused}, "
        f"config POSTs {h.config_posts}; after: clients {len(clients)}, subscriptions {len(subs)}, "
        f"prometheus {prom}"
    )
    assert not h.problems, h.problems[:10]
    assert all(n == 1 for n in h.kicks_ok.values()), "a client was kicked twice"

    # /clients: exactly the clients not kicked, in their original order.
    client_ids = [str(c["client_id"]) for c in clients]
    assert client_ids == [i for i in ids if i not in kicked]
    connected = sum(1 for c in clients if c["conn_state"] == "connected")
    assert clients_paged == clients and clients_count == len(clients)
    # /subscriptions: only live clients, no duplicates; the seeded ones untouched; the
    # hammered ones exactly what the last answered operation on each (client, filter) left.
    pairs = [(str(s["clientid"]), str(s["topic"])) for s in subs]
    assert len(pairs) == len(set(pairs))
    assert {c for c, _ in pairs} <= set(client_ids)
    seeded = [
        s
        for s in subs_before["data"]
        if str(s["clientid"]) not in kicked and "hammer/" not in str(s["topic"])
    ]
    assert [s for s in subs if "hammer/" not in str(s["topic"])] == seeded
    expected = {
        (client, topic, qos)
        for (client, topic), (op, qos, code) in h.ledger.items()
        if op == "sub" and code == 0 and client not in kicked
    }
    actual = {
        (str(s["clientid"]), str(s["topic"]), int(s["qos"]))
        for s in subs
        if "hammer/" in str(s["topic"])
    }
    assert actual == expected
    assert subs_paged == subs and subs_count == len(subs)
    # Every count agrees with the listings.
    subscribers = len({c for c, _ in pairs})
    filters = {real_filter(t) for _, t in pairs}
    assert nodes[0]["connections"] == len(clients)
    assert metrics["connections"] == connected
    assert prom["sessions_count"] == len(clients)
    assert prom["connections_count"] == connected
    assert prom["subscribers_count"] == subscribers
    assert prom["topics_count"] == len(filters)
    assert prom["sessions_max"] == 500
    assert prom["connections_max"] >= connected and prom["subscribers_max"] >= subscribers
    assert prom["topics_max"] >= len(filters)
    assert prom["messages_received"] - received_before["messages_received"] == h.publishes_ok
    # The topic tree holds exactly the live filters, each with its subscribers.
    by_filter: dict[str, list[str]] = {}
    for client, topic in pairs:
        by_filter.setdefault(real_filter(topic), []).append(client)
    assert tree_paths(tree) == {f: sorted(c) for f, c in by_filter.items()}
    # The basic section is one POSTed variant whole, never a mix of two.
    assert any(
        all(basic_now[key] == value for key, value in basic_variant(k).items()) for k in range(1000)
    )
    assert "Traceback" not in log.read_text()
    assert not [s for s in logged.statuses() if s >= 500]


# -- 5. SIGKILL during a burst of config_update ------------------------------------------------

KILL_ROUNDS = 5


def config_text(tag: str, password: str, lines: int = 48) -> bytes:
    """A complete, valid HOCON config (about 4 KB with 48 padding lines); ``tag`` fills every
    padding line, so that a mix of two variants cannot go unnoticed."""
    filler = tag * (60 // len(tag))
    padding = "".join(f"# {tag} padding line {n:04d} {filler}\n" for n in range(lines))
    return (
        f"# nanoadmin robustness test config: {tag}\n{padding}"
        "mqtt {\n    property_size = 32\n    max_packet_size = 10MB\n    max_mqueue_len = 2048\n}\n"
        'listeners.tcp {\n    bind = "127.0.0.1:1883"\n}\n'
        'http_server {\n    port = 8081\n    ip_addr = "127.0.0.1"\n    username = admin\n'
        f"    password = {password}\n    auth_type = basic\n}}\n"
        "auth {\n    allow_anonymous = true\n    no_match = allow\n    deny_action = ignore\n}\n"
    ).encode()


PASSWORDS = {b"original": "original-pw", b"variant-a": "pass-a", b"variant-b": "pass-b"}


def password_of(content: bytes) -> str:
    tag = content.split(b"config: ", 1)[1].split(b"\n", 1)[0]
    return PASSWORDS[tag]


async def config_burst(
    srv: ServerProcess, auth: str, bodies: tuple[bytes, bytes], kill_after: float
) -> tuple[int, int]:
    """Six connections POST config_update, alternating the bodies, until SIGKILL lands."""
    acks = 0
    sent = 0

    async def worker(w: int) -> None:
        nonlocal acks, sent
        conn = await RawConnection.open(srv.port)
        try:
            for n in itertools.count(w):
                sent += 1
                await conn.send(
                    request_bytes("POST", "/api/v4/config_update", auth=auth, body=bodies[n % 2])
                )
                response = await conn.response(timeout=5.0)
                assert response.status == 200 and response.json() == {"code": 0}, response
                acks += 1
        except (ConnectionClosed, ConnectionError, OSError):
            return
        finally:
            await conn.close()

    async def killer() -> None:
        await asyncio.sleep(kill_after)
        srv.process.kill()

    await asyncio.wait_for(
        asyncio.gather(killer(), *(worker(w) for w in range(6))), kill_after + 15
    )
    return sent, acks


def test_sigkill_during_config_update_burst_leaves_old_or_new_file(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "nanomq.conf"
    original = config_text("original", PASSWORDS[b"original"])
    a = config_text("variant-a", PASSWORDS[b"variant-a"])
    b = config_text("variant-b", PASSWORDS[b"variant-b"])
    path.write_bytes(original)
    log = tmp_path / "server.log"
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    rounds: list[str] = []
    for round_ in range(KILL_ROUNDS):
        before = path.read_bytes()
        kill_after = rng.uniform(0.05, 0.6)
        with server(path, log) as srv:
            sent, acks = asyncio.run(
                config_burst(srv, basic("admin", password_of(before)), (a, b), kill_after)
            )
            assert srv.process.wait(timeout=5) == -9
        content = path.read_bytes()
        which = {original: "original", a: "A", b: "B"}.get(content, f"MIXED ({len(content)} B)")
        temps = sorted(p.name for p in folder.iterdir() if p.name != "nanomq.conf")
        rounds.append(
            f"round {round_}: kill at {kill_after * 1000:.0f} ms, sent {sent}, acked {acks}, "
            f"file {which}, stray files {temps}"
        )
        assert content in (original, a, b), rounds[-1]
        if acks:  # an acknowledged update is durable
            assert content in (a, b), rounds[-1]
    # What a kill inside write_atomically leaves beside the file: a half-written temp file.
    # Neither it nor any stray left above stops the next start, which reads the file whole.
    (folder / ".nanomq.conf.999999.tmp").write_bytes(a[: len(a) // 2])
    with server(path, log) as srv:

        async def check() -> tuple[int, int]:
            conn = await RawConnection.open(srv.port)
            try:
                status = (await call(conn, "GET", "/status", auth=None)).status
                auth = basic("admin", password_of(path.read_bytes()))
                brokers = await call(conn, "GET", "/api/v4/brokers", auth=auth)
                return status, brokers.status
            finally:
                await conn.close()

        assert asyncio.run(check()) == (200, 200)
    print(f"\nSIGKILL seed {seed}: " + "; ".join(rounds))
    assert "Traceback" not in log.read_text()


async def test_status_answers_within_a_second_during_a_large_config_update(
    tmp_path: Path,
) -> None:
    conf = tmp_path / "nanomq.conf"
    conf.write_bytes(config_text("original", PASSWORDS[b"original"]))
    body = config_text("variant-a", PASSWORDS[b"variant-a"], lines=3000)
    log = tmp_path / "server.log"
    with server(conf, log) as srv:
        probe = StatusProbe(srv.port, interval=0.05)
        probe.start()
        try:
            await asyncio.sleep(0.3)
            conn = await RawConnection.open(srv.port)
            started = time.perf_counter()
            auth = basic("admin", PASSWORDS[b"original"])
            response = await call(conn, "POST", "/api/v4/config_update", body, auth=auth)
            took = time.perf_counter() - started
            await conn.close()
            await asyncio.sleep(0.3)
        finally:
            probe.stop()
    status_max = max(probe.latencies, default=0.0)
    print(
        f"\nCONFIG_UPDATE of {len(body)} bytes took {took * 1000:.0f} ms; /status probes "
        f"{len(probe.latencies)}, max {status_max * 1000:.0f} ms"
    )
    assert response.status == 200 and response.json() == {"code": 0}
    assert conf.read_bytes() == body
    assert not probe.failures
    assert status_max < 1.0, f"/status took {status_max:.3f}s during one config_update"
