"""Malformed HTTP and client disconnects, one request at a time, against a real server process.

Every malformed request gets a JSON 400 and one log line, a client leaving mid-body is no server
error, and a malformed Authorization header never reaches the log.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from nanoadmin.http.limits import MAX_FIELD_SIZE
from tests.support import BASIC_ADMIN, write_conf
from tests.support.processes import HTTP_SERVER, LogSummary, logged_server
from tests.support.rawhttp import (
    MALFORMED,
    ConnectionClosed,
    HttpResponse,
    RawConnection,
    call,
    request_bytes,
)


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
    with logged_server(write_conf(tmp_path, HTTP_SERVER), log) as srv:
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
    assert "Traceback" not in text, text[-2000:]
    assert not logged.other_multiline, text[-2000:]
    # One line for each malformed request (besides its access line).
    assert logged.malformed_lines == len(answers), text[-2000:]


async def test_client_disconnect_mid_body_is_not_a_server_error(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with logged_server(write_conf(tmp_path, HTTP_SERVER), log) as srv:
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
    with logged_server(write_conf(tmp_path, HTTP_SERVER), log) as srv:
        data = (
            b"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
            + secret
            + after_secret
            + b"\r\n\r\n"
        )
        response = await _exchange(srv.port, data, first=False)
    assert response is not None
    assert response.status == 400
    assert response.is_json
    assert secret not in response.body
    assert secret.decode() not in log.read_text()
    assert LogSummary.read(log).malformed_lines == 1
