"""GET /api/v4 (the index), /brokers and /nodes, shaped as NanoMQ 0.25.6 answers them."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from nanoadmin import NANOMQ_VERSION
from nanoadmin.api.info import format_uptime
from tests.support import BASIC_ADMIN, FIXTURES, Client

AUTH = {"Authorization": BASIC_ADMIN}


def recorded(name: str) -> dict[str, Any]:
    for line in (FIXTURES / "reference" / "nanomq-0.25.6-exchanges.jsonl").read_text().splitlines():
        exchange = json.loads(line)
        if exchange["name"] == name:
            return exchange  # type: ignore[no-any-return]
    raise KeyError(name)


async def test_index_is_the_recorded_41_entries(basic_client: Client) -> None:
    response = await basic_client.get("/api/v4", headers=AUTH)
    body = await response.text()
    assert body == recorded("GET endpoint list /api/v4")["body"]
    assert len(json.loads(body)["data"]) == 41


async def test_brokers_shape(basic_client: Client) -> None:
    response = await basic_client.get("/api/v4/brokers", headers=AUTH)
    body = await response.json()
    reference = recorded("GET brokers")["body_json"]
    assert list(body) == list(reference)
    (broker,) = body["data"]
    assert list(broker) == ["datetime", "node_status", "sysdescr", "uptime", "version"]
    assert broker["version"] == NANOMQ_VERSION == "0.25.6-8"
    assert broker["sysdescr"] == "NanoMQ Broker"
    assert broker["node_status"] == "Running"
    local_now = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    assert broker["datetime"].startswith(local_now[:13])
    assert re.fullmatch(r"\d+ Hours, \d+ minutes, \d+ seconds", broker["uptime"])


async def test_nodes_counts_sessions(basic_client: Client) -> None:
    body = await (await basic_client.get("/api/v4/nodes", headers=AUTH)).json()
    (node,) = body["data"]
    assert list(node) == ["connections", "node_status", "uptime", "version"]
    assert node["connections"] == 2  # the two reference clients


def test_uptime_format_is_never_singular() -> None:
    assert format_uptime(0) == "0 Hours, 0 minutes, 0 seconds"
    assert format_uptime(3661) == "1 Hours, 1 minutes, 1 seconds"
    assert format_uptime(90061) == "25 Hours, 1 minutes, 1 seconds"
