"""The load test's workload: 200 connections of eight kinds, and the tally of what they saw.

Each kind of connection is a worker; every request is tagged with a request id (``?rid=N``) so
that its answer, and its access log line, can be told apart from any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from tests.support import BASIC_ADMIN, basic_auth
from tests.support.rawhttp import (
    MALFORMED,
    ConnectionClosed,
    HttpResponse,
    RawConnection,
    percentile,
    request_bytes,
)

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
# Generous: on a busy two-core runner an answer can take seconds; every request must still
# be answered, which the test asserts, but how fast is a figure, not a pass mark.
LOAD_TIMEOUT = 30.0


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
        return Call("GET", "/api/v4/brokers" + q, None, 401, 103, "", basic_auth("admin", "wrong"))
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
    extra = await conn.finish(LOAD_TIMEOUT)
    if extra:
        load.problems.append(f"{kind}: {len(extra)} bytes nobody asked for: {extra[:120]!r}")


async def valid_worker(load: Load, make: Callable[[int], Call], kind: str) -> None:
    """Request, answer, request...: keep-alive, a fresh connection every 50 requests."""
    while load.running():
        conn = await RawConnection.open(load.port, LOAD_TIMEOUT)
        try:
            for _ in range(50):
                if not load.running():
                    break
                rid = load.new_rid(kind)
                spec = make(rid)
                started = time.perf_counter()
                await conn.send(spec.request())
                try:
                    response = await conn.response(timeout=LOAD_TIMEOUT)
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
    conn = await RawConnection.open(load.port, LOAD_TIMEOUT)
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
                    response = await conn.response(timeout=LOAD_TIMEOUT)
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
        conn = await RawConnection.open(load.port, LOAD_TIMEOUT)
        try:
            if round_ % 2:
                rid = load.new_rid(kind)
                spec = Call("GET", f"/api/v4/brokers?rid={rid}", None, 200, 0, "sysdescr")
                await conn.send(request_bytes(spec.method, spec.target, auth=BASIC_ADMIN))
                response = await conn.response(timeout=LOAD_TIMEOUT)
                load.answer(kind, rid, spec, response)
            load.sent[f"malformed: {name}"] += 1
            with contextlib.suppress(ConnectionError, OSError):
                await conn.send(data)
            try:
                response = await conn.response(timeout=LOAD_TIMEOUT)
            except ConnectionClosed:
                load.outcomes[f"{kind} closed"] += 1
            except TimeoutError:
                load.problems.append(f"malformed {name}: no answer in {LOAD_TIMEOUT}s")
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
    conn = await RawConnection.open(load.port, LOAD_TIMEOUT)
    try:
        while load.running():
            rid = load.new_rid(kind)
            spec = Call("GET", f"/api/v4/brokers?rid={rid}", None, 200, 0, "sysdescr")
            started = time.perf_counter()
            await conn.send_slowly(spec.request(), 0.002)
            try:
                response = await conn.response(timeout=LOAD_TIMEOUT)
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
        conn = await RawConnection.open(load.port, LOAD_TIMEOUT)
        with contextlib.suppress(ConnectionError, OSError):
            await conn.send(partial)
        await asyncio.sleep(0.02)
        if round_ % 2:
            conn.abort()
        else:
            await conn.close()
        await asyncio.sleep(0.1)


async def big_body_worker(load: Load, index: int) -> None:
    """A 10 MB body: with Content-Length, 413 {"code":109} before auth; chunked and without
    credentials, 401 {"code":104} before a byte of it is read."""
    kind = "big-body"
    for round_ in itertools.count(index):
        if not load.running():
            return
        rid = load.new_rid(kind)
        target = f"/api/v4/mqtt/publish?rid={rid}"
        if round_ % 2:
            # No declared length, no credentials: refused by auth before any of it is read.
            head = request_bytes("POST", target, headers=(("Transfer-Encoding", "chunked"),))
            chunk = b"x" * (1 << 20)
            body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)) + b"0\r\n\r\n"
            spec = Call("POST", target, None, 401, 104, "message", auth=None)
        else:
            head = request_bytes("POST", target, headers=(("Content-Length", str(BIG_BODY)),))
            body = b"x" * BIG_BODY
            spec = Call("POST", target, None, 413, 109, "message")
        conn = await RawConnection.open(load.port, LOAD_TIMEOUT)
        try:
            started = time.perf_counter()
            reset = False
            try:
                await conn.send(head + body)
            except (ConnectionError, OSError):
                reset = True
            try:
                response = await conn.response(timeout=LOAD_TIMEOUT)
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
        conn = await RawConnection.open(load.port, LOAD_TIMEOUT)
        try:
            with contextlib.suppress(ConnectionError, OSError):
                await conn.send(data)
            try:
                response = await conn.response(timeout=LOAD_TIMEOUT)
            except ConnectionClosed:
                load.outcomes[f"{kind} closed"] += 1
                load.abandoned.add(rid)
            except TimeoutError:
                load.problems.append(f"{kind}: no answer in {LOAD_TIMEOUT}s")
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
        asyncio.gather(*workers(load), return_exceptions=True), seconds + 2 * LOAD_TIMEOUT + 10
    )
    for result in results:
        if isinstance(result, BaseException):
            load.problems.append(f"worker failed: {result!r}")
