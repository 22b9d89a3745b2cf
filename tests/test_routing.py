"""NanoMQ's URI rules on raw request-targets, and one JSON error path for everything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanoadmin.http.pipeline import parse_query, parse_query_pairs, split_api_target
from tests.support import BASIC_ADMIN, Client, ClientFactory, basic_settings, raw_request
from tests.support.openapi import Servers


def request_bytes(method: str, target: str, body: bytes = b"", extra: str = "") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: t\r\nAuthorization: {BASIC_ADMIN}\r\n{extra}"
    if body or method in ("POST", "PUT"):
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + body


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/api/v4", ([], "")),
        ("/api/v4/", ([], "")),
        ("/api/v4?x=1", ([], "x=1")),
        ("/api/v4/?x=1", None),
        ("/api/v4/brokers", (["brokers"], "")),
        ("/api/v4/brokers/", (["brokers"], "")),
        ("/api/v4/clients/a%2Fb", (["clients", "a%2Fb"], "")),
        # NanoMQ keeps empty segments (rest_api.c uri_parse_tree): client id "" here, and an
        # empty name where "brokers" is looked for there.
        ("/api/v4/clients//", (["clients", ""], "")),
        ("/api/v4//brokers", (["", "brokers"], "")),
        ("/api/v4/?", None),
        ("/api/v4?", ([], "")),
        ("/api/v4%2Fbrokers", ([], "")),
        ("/api/v4%2Fx/brokers", (["brokers"], "")),
        ("http://h:8081/api/v4/brokers?a=b", (["brokers"], "a=b")),
        ("http://h:8081/api/v4/", None),
        ("/api/v4/clients?x=1&y=2", (["clients"], "x=1&y=2")),
    ],
)
def test_split_api_target(target: str, expected: tuple[list[str], str] | None) -> None:
    assert split_api_target(target) == expected


def test_parse_query_keeps_only_complete_pairs_undecoded() -> None:
    assert parse_query("a=1&b=&=c&d&e=%20") == {"a": "1", "e": "%20"}
    assert parse_query("ab") == {}
    assert parse_query("a=1&a=2") == {"a": "2"}
    assert parse_query_pairs("a=1&a=2&b=c=d") == [("a", "1"), ("a", "2"), ("b", "c=d")]


async def send(client: Client, data: bytes) -> tuple[int, dict[str, str], bytes]:
    return await raw_request(client.server.port, data)


async def test_index_forms(basic_client: Client) -> None:
    for target in ("/api/v4", "/api/v4/", "/api/v4?x=1"):
        status, headers, body = await send(basic_client, request_bytes("GET", target))
        assert status == 200, target
        assert body.startswith(b'{"code":0,"data":[{"path":"/brokers/"'), target
    status, headers, body = await send(basic_client, request_bytes("GET", "/api/v4/?x=1"))
    assert status == 404
    assert body.startswith(b'{"code":102,"message":')


async def test_trailing_slash_and_raw_path(basic_client: Client) -> None:
    status, _, body = await send(basic_client, request_bytes("GET", "/api/v4/brokers/"))
    assert status == 200
    assert b'"sysdescr":"NanoMQ Broker"' in body
    # nng routes the decoded /api/v4/brokers to NanoMQ, which reads the raw target: nothing
    # but "%2Fbrokers" after /api/v4, no "/", so no segment at all: the endpoint index.
    status, _, body = await send(basic_client, request_bytes("GET", "/api/v4%2Fbrokers"))
    assert status == 200
    assert body.startswith(b'{"code":0,"data":[{"path":"/brokers/"')


async def test_unknown_path_is_404_json(basic_client: Client) -> None:
    for target in ("/api/v4/nothing", "/api/v4/brokers/extra", "/elsewhere", "/api/v4x"):
        status, headers, body = await send(basic_client, request_bytes("GET", target))
        assert status == 404, target
        assert headers["content-type"] == "application/json", target
        assert body.startswith(b'{"code":102,"message":"'), target


async def test_wrong_method_is_405_with_allow(basic_client: Client) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH", "HEAD"):
        status, headers, body = await send(basic_client, request_bytes(method, "/api/v4/brokers"))
        assert status == 405, method
        assert headers["allow"] == "GET"
        assert headers["content-type"] == "application/json"
        if method != "HEAD":
            assert body.startswith(b'{"code":102,')


async def test_error_content_type_is_json_whatever_the_request_says(basic_client: Client) -> None:
    status, headers, _ = await send(
        basic_client,
        request_bytes(
            "GET", "/api/v4/nope", extra="Content-Type: application/x-www-form-urlencoded\r\n"
        ),
    )
    assert status == 404
    assert headers["content-type"] == "application/json"


async def test_oversized_body_is_413_before_auth(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(basic_settings(tmp_path, max_body="1024"))
    body = b"x" * 2048
    data = (
        f"POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    status, headers, payload = await raw_request(client.server.port, data)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert payload.startswith(b'{"code":109,"message":')
    # A chunked body declares no length: it is read only after auth, and held to the same
    # limit then.
    chunked = (
        b"POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n%s\r\n800\r\n" + b"y" * 2048 + b"\r\n0\r\n\r\n"
    )
    status, _, payload = await raw_request(client.server.port, chunked % b"")
    assert status == 401
    assert payload.startswith(b'{"code":104')
    authorized = b"Authorization: " + BASIC_ADMIN.encode() + b"\r\n"
    status, _, payload = await raw_request(client.server.port, chunked % authorized)
    assert status == 413
    assert payload.startswith(b'{"code":109')


async def test_status_needs_no_auth(basic_client: Client) -> None:
    response = await basic_client.get("/status")
    assert response.status == 200
    assert (await response.json())["code"] == 0


async def test_json_bodies_are_compact(basic_client: Client) -> None:
    response = await basic_client.get("/api/v4/nodes", headers={"Authorization": BASIC_ADMIN})
    text = await response.text()
    assert response.headers["Content-Type"] == "application/json"
    assert text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)


async def test_undeclared_method_on_status_is_405(servers: Servers) -> None:
    for target in ("/status", "/openapi.json"):
        response = await servers.plain.post(target)
        assert response.status == 405
        assert response.headers["Allow"] == "GET"


async def test_encoded_line_break_in_a_path_is_matched_raw(servers: Servers) -> None:
    response = await servers.plain.get(
        "/api/v4/clients/a%0Ab", headers={"Authorization": BASIC_ADMIN}
    )
    assert response.status == 200
    assert await response.json() == {"code": 0, "data": []}
