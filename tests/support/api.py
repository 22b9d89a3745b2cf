"""Requests to a test server with admin credentials, and the config with rules and a bridge."""

from __future__ import annotations

import json
from typing import Any

from tests.support import BASIC_ADMIN, Client

AUTH = {"Authorization": BASIC_ADMIN}


async def get(client: Client, path: str) -> Any:
    response = await client.get(path, headers=AUTH)
    assert response.status == 200, (path, response.status, await response.text())
    return await response.json()


async def post(client: Client, path: str, body: Any, status: int = 200) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    response = await client.post(path, data=data, headers=AUTH)
    assert response.status == status, (path, response.status, await response.text())
    return await response.json() if response.status != 204 else None


async def prometheus(client: Client) -> dict[str, float]:
    response = await client.get("/api/v4/prometheus", headers=AUTH)
    assert response.headers["Content-Type"] == "text/plain"
    values = {}
    for line in (await response.text()).splitlines():
        if not line.startswith("#"):
            name, value = line.split()
            values[name.removeprefix("nanomq_")] = float(value)
    return values


RULES_CONF = """
http_server { port = 8081 }
rules.repub {
  rules = [ { enabled = true, address = "mqtt-tcp://127.0.0.1:1883", topic = "out", sql = "SELECT * FROM \\"in\\"" } ]
}
bridges.mqtt.emqx {
  server = "mqtt-tcp://broker.example:1883"
  proto_ver = 4
  username = u
  password = "bridge-secret"
  forwards = [ { remote_topic = "fwd/t", local_topic = "t/#" } ]
  subscription = [ { remote_topic = "cmd/1", local_topic = "c1", qos = 1 } ]
}
"""
