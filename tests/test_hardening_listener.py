"""The listener's guards, attacked from loopback: heads, bodies, connections, CPU before auth.

Each test runs a real server process, sends what a hostile client would, and asserts the bound
(the answer, the time it takes, the server's resident memory) and that a real client is still
served meanwhile. Counts and times are bounded; the bounds come from nanoadmin.http.limits.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from nanoadmin.http.limits import (
    BODY_READ_TIMEOUT,
    HEAD_READ_TIMEOUT,
    IDLE_TIMEOUT,
    MAX_BASIC_CREDENTIAL,
    MAX_HEAD_BYTES,
    WANTED_OPEN_FILES,
)
from tests.support.processes import ServerProcess, running_server
from tests.support.rawhttp import ConnectionClosed, RawConnection, percentile, rss_kib

# Out of `make check`'s quick loop (hostile connections held for seconds); `make test` runs it.
pytestmark = pytest.mark.slow

PASSWORD = "hardening-pw"
AUTH = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
BROKERS = f"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n\r\n".encode()


def conf(folder: Path, extra: str = "") -> Path:
    path = folder / "nanomq.conf"
    path.write_text(
        f"http_server {{\n  username = admin\n  password = {PASSWORD}\n}}\n{extra}",
    )
    return path


@contextmanager
def server(folder: Path, extra: str = "") -> Iterator[ServerProcess]:
    with running_server("--conf", str(conf(folder, extra)), "--log-level", "warning") as srv:
        yield srv


async def timed_brokers(port: int) -> float:
    """One real client's GET /api/v4/brokers on a new connection: its latency in seconds."""
    started = time.perf_counter()
    conn = await RawConnection.open(port)
    try:
        await conn.send(BROKERS)
        response = await conn.response(timeout=5.0)
    finally:
        await conn.close()
    assert response.status == 200, response
    return time.perf_counter() - started


@asynccontextmanager
async def connections(port: int, count: int) -> AsyncIterator[list[RawConnection]]:
    opened = await asyncio.gather(*(RawConnection.open(port) for _ in range(count)))
    try:
        yield list(opened)
    finally:
        for conn in opened:
            conn.abort()
        # The sockets close on the loop's next turns: give it them before anything blocks it.
        await asyncio.sleep(0.05)


STILL_OPEN = -1


async def answer_status(conn: RawConnection, timeout: float) -> int | None:
    """The status of the one answer the server sends; None when it closes without one,
    STILL_OPEN when neither happens within ``timeout``."""
    try:
        return (await conn.response(timeout=timeout)).status
    except ConnectionClosed:
        return None
    except TimeoutError:
        return STILL_OPEN


def big_header_lines(total: int) -> bytes:
    line = b"X-Padding: " + b"p" * 1000 + b"\r\n"
    return line * (total // len(line) + 1)


async def test_half_sent_heads_are_capped_in_bytes_and_memory(tmp_path: Path) -> None:
    """Before the guard, 150 connections sending big header lines without end took 3.8 GB."""
    count = 300
    with server(tmp_path) as srv:
        baseline = rss_kib(srv.process.pid)
        async with connections(srv.port, count) as conns:
            head = b"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\n" + big_header_lines(MAX_HEAD_BYTES)
            for conn in conns:
                with contextlib.suppress(ConnectionError):
                    await conn.send(head)
            statuses = await asyncio.gather(*(answer_status(c, 5.0) for c in conns))
            peak = rss_kib(srv.process.pid)
            latency = await timed_brokers(srv.port)
        await asyncio.sleep(0.5)
        after = rss_kib(srv.process.pid)
    print(
        f"\nHEADS {count} x {len(head)} B: statuses {set(statuses)}, RSS {baseline // 1024} -> "
        f"{peak // 1024} -> {after // 1024} MiB, brokers {latency * 1000:.0f} ms"
    )
    assert statuses == [431] * count
    # 300 heads of 32 KiB are 10 MB; a thousand cost under 200 MB.
    assert (peak - baseline) // 1024 < 60
    assert (after - baseline) // 1024 < 20
    assert latency < 1.0


@pytest.mark.slow
async def test_a_head_must_arrive_in_time_and_idle_connections_close(tmp_path: Path) -> None:
    """Slowloris heads, silent connections, authenticated bodies that stop and idle keep-alive
    connections, at once: each is closed at its deadline, and real clients are served."""
    with server(tmp_path) as srv:
        started = time.monotonic()
        async with connections(srv.port, 40) as conns:
            slow, silent, bodies, idle = conns[:10], conns[10:20], conns[20:30], conns[30:]
            for conn in slow:
                await conn.send(b"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\n")
            for conn in bodies:
                await conn.send(
                    b"POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: x\r\nAuthorization: "
                    + AUTH.encode()
                    + b"\r\nContent-Length: 1000\r\n\r\n{"
                )
            for conn in idle:
                await conn.send(BROKERS)
                assert (await conn.response()).status == 200
            latencies: list[float] = []

            async def trickle_and_probe() -> None:
                while time.monotonic() - started < HEAD_READ_TIMEOUT + 1:
                    for conn in slow:
                        with contextlib.suppress(ConnectionError, OSError):
                            await conn.send(b"X")
                    latencies.append(await timed_brokers(srv.port))
                    await asyncio.sleep(0.2)

            probing = asyncio.create_task(trickle_and_probe())
            first = await asyncio.gather(
                *(answer_status(c, HEAD_READ_TIMEOUT + 5) for c in slow + silent + bodies)
            )
            head_closed = time.monotonic() - started
            await probing
            idle_answers = await asyncio.gather(*(answer_status(c, IDLE_TIMEOUT + 5) for c in idle))
            idle_closed = time.monotonic() - started
    print(
        f"\nDEADLINES: heads/bodies closed after {head_closed:.1f} s with {set(first)}, "
        f"idle after {idle_closed:.1f} s; brokers p99 {percentile(latencies, 0.99) * 1000:.0f} ms"
    )
    assert first == [408] * 20 + [408] * 10
    assert HEAD_READ_TIMEOUT - 1 < head_closed < HEAD_READ_TIMEOUT + 3
    assert BODY_READ_TIMEOUT <= HEAD_READ_TIMEOUT + 3
    assert idle_answers == [None] * len(idle)  # closed, nothing sent
    assert IDLE_TIMEOUT - 1 < idle_closed < IDLE_TIMEOUT + 5
    assert percentile(latencies, 0.99) < 0.5


async def test_unauthenticated_bodies_are_never_read(tmp_path: Path) -> None:
    """Before, 2,000 chunked bodies without a last chunk were read before auth: 2.7 GB."""
    count = 300
    chunk = b"a" * 60_000
    with server(tmp_path) as srv:
        baseline = rss_kib(srv.process.pid)
        async with connections(srv.port, count) as conns:
            for conn in conns:
                await conn.send(
                    b"POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n100000\r\n" + chunk
                )
            started = time.monotonic()
            statuses = await asyncio.gather(*(answer_status(c, 5.0) for c in conns))
            took = time.monotonic() - started
            peak = rss_kib(srv.process.pid)
            latency = await timed_brokers(srv.port)
    print(
        f"\nBODIES {count} x {len(chunk)} B unauthenticated: {set(statuses)} in {took:.2f} s, "
        f"RSS {baseline // 1024} -> {peak // 1024} MiB"
    )
    assert statuses == [401] * count
    assert took < 3.0
    assert (peak - baseline) // 1024 < 60
    assert latency < 1.0


async def test_at_the_cap_idle_then_slow_connections_are_shed(tmp_path: Path) -> None:
    cap = 40
    with server(tmp_path, f"nanoadmin {{ max_connections = {cap} }}\n") as srv:
        async with connections(srv.port, cap) as idle:
            for conn in idle:
                await conn.send(BROKERS)
                assert (await conn.response()).status == 200
            # Full of idle keep-alive connections: a new client sheds the oldest of them.
            assert await timed_brokers(srv.port) < 1.0
            assert await answer_status(idle[0], 2.0) is None
            for conn in idle[1:]:  # the others still serve
                await conn.send(BROKERS)
                assert (await conn.response()).status == 200
        async with connections(srv.port, cap) as slow:
            for conn in slow:
                await conn.send(b"GET /api/v4/brokers HTTP/1.1\r\n")
            await asyncio.sleep(0.2)
            # Full of heads that do not finish: a new client sheds the one that began first,
            # and only as many as it takes (the clients below come one after another).
            latencies = [await timed_brokers(srv.port) for _ in range(20)]
            answers = await asyncio.gather(*(answer_status(conn, 0.5) for conn in slow))
        async with connections(srv.port, cap) as busy:
            for conn in busy:  # every connection with a request in progress
                await conn.send(
                    b"POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: x\r\nAuthorization: "
                    + AUTH.encode()
                    + b"\r\nContent-Length: 100\r\n\r\n{"
                )
            await asyncio.sleep(0.3)
            refused = await RawConnection.open(srv.port)
            response = await refused.response(timeout=2.0)
            await refused.close()
    print(f"\nCAP {cap}: brokers max {max(latencies) * 1000:.0f} ms with the cap full of heads")
    assert max(latencies) < 1.0
    assert answers == [None] + [STILL_OPEN] * (cap - 1)
    assert response.status == 503
    assert response.is_json


def test_the_soft_open_files_limit_is_raised(tmp_path: Path) -> None:
    with server(tmp_path) as srv:
        limits = Path(f"/proc/{srv.process.pid}/limits").read_text()
    soft, hard = next(
        line.split()[3:5] for line in limits.splitlines() if line.startswith("Max open files")
    )
    expected = WANTED_OPEN_FILES if hard == "unlimited" else min(int(hard), WANTED_OPEN_FILES)
    assert int(soft) >= expected


async def test_garbage_basic_credentials_cost_no_one_else(tmp_path: Path) -> None:
    """Before, a 127 KB garbage credential took 22 ms to decode: four such clients took
    everyone's median from 1.7 to 94 ms. Now a head that large is refused by size, and a
    credential over MAX_BASIC_CREDENTIAL is refused before it is decoded."""
    garbage = "Basic " + "Z" * (MAX_BASIC_CREDENTIAL + 1)
    request = f"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nAuthorization: {garbage}\r\n\r\n"
    with server(tmp_path) as srv:
        stop = asyncio.Event()
        refused: list[object] = []

        async def attacker() -> None:
            conn = await RawConnection.open(srv.port)
            try:
                while not stop.is_set():
                    await conn.send(request.encode())
                    refused.append((await conn.response()).code())
            finally:
                await conn.close()

        attackers = [asyncio.create_task(attacker()) for _ in range(4)]
        latencies = [await timed_brokers(srv.port) for _ in range(60)]
        stop.set()
        await asyncio.gather(*attackers)
    median = sorted(latencies)[len(latencies) // 2]
    print(f"\nGARBAGE BASIC: {len(refused)} refused; others' median {median * 1000:.1f} ms")
    assert set(refused) == {103}
    assert len(refused) > 100
    assert median < 0.02


@pytest.mark.parametrize(
    "request_line", [b"OPTIONS * HTTP/1.1", b"CONNECT example.org:443 HTTP/1.1"]
)
async def test_targets_without_a_path_get_json(tmp_path: Path, request_line: bytes) -> None:
    with server(tmp_path) as srv:
        conn = await RawConnection.open(srv.port)
        await conn.send(request_line + b"\r\nHost: x\r\n\r\n")
        response = await conn.response()
        await conn.close()
    assert response.status == 404
    assert response.is_json
    assert response.code() == 102
