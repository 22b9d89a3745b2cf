"""Replays every recorded NanoMQ 0.25.6 exchange against nanoadmin and compares the answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nanoadmin.model.scenario import reference_scenario
from nanoadmin.settings import load_settings
from tests.support import FIXTURES, ClientFactory, raw_request

EXCHANGES = [
    json.loads(line)
    for line in (FIXTURES / "reference" / "nanomq-0.25.6-exchanges.jsonl").read_text().splitlines()
]
# The config NanoMQ ran with while recording: exchange 73 posts it back verbatim.
REFERENCE_CONF = next(e for e in EXCHANGES if e["seq"] == 73)["request"]["body"]

# Values that differ from run to run or from machine to machine.
VARYING_KEYS = {
    "datetime",
    "uptime",
    "memory",
    "cpuinfo",
    "num_taskq_thread",
    "max_taskq_thread",
    "parallel",
}
VARYING_PROMETHEUS = ("messages_", "memory_usage", "cpu_usage")
MASK = "******"

# Deliberate differences (nanoadmin.md §2 and §3), by exchange seq: the expected status and body.
DIFFERENCES: dict[int, tuple[int, Any]] = {
    21: (
        200,
        {"code": 0, "data": ..., "meta": {"page": 1, "limit": 10, "count": 2, "hasnext": False}},
    ),
    61: (200, {"code": 0}),
    62: (200, {"code": 0}),
    63: (200, {"data": [{"topic": "a/b", "code": 0}], "code": 0}),
    64: (200, {"data": [{"topic": "a/b", "code": 0}], "code": 0}),
    87: (404, {"code": 115}),
}


def request_bytes(exchange: dict[str, Any]) -> bytes:
    request = exchange["request"]
    body = (request["body"] or "").encode()
    lines = [request["request_line"]]
    for name, value in request["headers"].items():
        if name.lower() not in ("content-length", "connection"):
            lines.append(f"{name}: {value}")
    if body or request["method"] in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def strip_messages(value: Any) -> Any:
    """Error bodies gain a human "message" right after "code" (D3); check it, then drop it."""
    if isinstance(value, dict):
        if value.get("code", 0) != 0 and "message" in value:
            keys = list(value)
            assert keys[keys.index("code") + 1] == "message"
            assert isinstance(value["message"], str)
            assert value["message"]
        return {k: strip_messages(v) for k, v in value.items() if k != "message"}
    if isinstance(value, list):
        return [strip_messages(v) for v in value]
    return value


def compare(expected: Any, actual: Any, where: str) -> None:
    """Same key names in the same order everywhere, same values except the varying ones."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key, value in expected.items():
            if key in VARYING_KEYS:
                assert type(actual[key]) is type(value), f"{where}.{key}"
            elif key == "password" and actual[key] == MASK:  # D6
                continue
            else:
                compare(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        assert len(actual) == len(expected), where
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            compare(want, got, f"{where}[{index}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def compare_prometheus(expected: str, actual: str) -> None:
    want, got = expected.splitlines(), actual.splitlines()
    assert len(got) == len(want)
    assert actual.endswith("\n")
    for line_want, line_got in zip(want, got, strict=True):
        if line_want.startswith("#") or not line_want.startswith(("nanomq_",)):
            assert line_got == line_want
            continue
        name_want, value_want = line_want.split()
        name_got, value_got = line_got.split()
        assert name_got == name_want
        float(value_got)
        if not name_want.removeprefix("nanomq_").startswith(VARYING_PROMETHEUS):
            assert value_got == value_want, name_want


@pytest.fixture
async def reference_port(make_client: ClientFactory, tmp_path: Path) -> int:
    conf = tmp_path / "nanomq.conf"
    conf.write_text(REFERENCE_CONF)
    client = await make_client(load_settings(str(conf), environ={}), reference_scenario())
    assert client.server.port is not None
    return client.server.port


async def test_every_recorded_exchange(reference_port: int) -> None:
    matched = differing = 0
    for exchange in EXCHANGES:
        seq, name = exchange["seq"], exchange["name"]
        status, headers, raw = await raw_request(reference_port, request_bytes(exchange))
        where = f"#{seq} {name}"
        if seq in DIFFERENCES:
            want_status, want_body = DIFFERENCES[seq]
            body = strip_messages(json.loads(raw))
            assert status == want_status, where
            if isinstance(want_body, dict) and want_body.get("data") is ...:
                assert body["meta"] == want_body["meta"], where
                assert [c["client_id"] for c in body["data"]] == ["ref-sub-1", "ref-pubsub-2"]
            else:
                assert body == want_body, where
            differing += 1
            continue
        assert status == exchange["status"], f"{where}: {status} != {exchange['status']}"
        if exchange.get("body_json") is not None:
            assert headers["content-type"] == "application/json", where
            compare(exchange["body_json"], strip_messages(json.loads(raw)), where)
        elif exchange["status"] == 204:
            # curl dropped the 12 bytes NanoMQ sent with its 204 ({"code":108}); they are here,
            # with the message D3 adds.
            assert exchange["headers"]["Content-Length"] == "12"
            assert headers["content-length"] == str(len(raw))
            assert strip_messages(json.loads(raw)) == {"code": 108}, where
        elif exchange["headers"].get("Content-Type") == "text/plain":
            assert headers["content-type"] == "text/plain", where
            compare_prometheus(exchange["body"], raw.decode())
        else:
            assert raw == exchange["body"].encode(), where
        matched += 1
    assert matched + differing == len(EXCHANGES) == 92
    assert differing == len(DIFFERENCES)
    print(f"conformance: {matched} exchanges matched, {differing} differ as documented")
