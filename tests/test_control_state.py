"""State at run time through real servers: export, round trip over every GET endpoint, PUT,
reset, mock clients one at a time, and the clock."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from nanoadmin.api import ROUTES
from nanoadmin.model.scenario import parse_scenario, reference_scenario
from tests.support import Client, ClientFactory, KeyPair, jwt_settings
from tests.support.api import AUTH, get, post, prometheus
from tests.support.control import CONTROL, call, control_settings

# What a GET endpoint's parameters are filled with; every GET route must be listed.
PARAMETERS = {
    "clientid": "ref-sub-1",
    "username": "alice",
    "section": "bridges",
    "ruleid": "rule:1",
    "name": "emqx",
}
# Figures that come from what happened (messages counted, time, high-water marks, process
# memory), not from the state.
HISTORY = ("/brokers", "/nodes", "/metrics", "/prometheus")


def get_targets() -> list[str]:
    targets = []
    for method, pattern, _ in ROUTES:
        if method == "GET":
            path = pattern
            for name, value in PARAMETERS.items():
                path = path.replace(f"{{{name}}}", value)
            assert "{" not in path, pattern
            targets.append("/api/v4" + path)
    return targets


async def answers(client: Client) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for target in get_targets():
        response = await client.get(target, headers=AUTH)
        text = await response.text()
        if target.endswith(HISTORY):
            continue
        seen[target] = (response.status, json.loads(text))
    prometheus = await (await client.get("/api/v4/prometheus", headers=AUTH)).text()
    seen["prometheus counts"] = sorted(
        line for line in prometheus.splitlines() if "_count " in line and "message" not in line
    )
    metrics = await get(client, "/api/v4/metrics")
    nodes = await get(client, "/api/v4/nodes")
    seen["connections"] = (metrics["connections"], nodes["data"][0]["connections"])
    return seen


async def changed_server(make_client: ClientFactory, tmp_path: Path) -> Client:
    """The reference scenario, then a day's worth of changes through both APIs."""
    client = await make_client(control_settings(tmp_path), reference_scenario())
    await post(client, "/api/v4/mqtt/publish", {"topic": "s/1", "payload": "on", "retain": True})
    await post(
        client,
        "/api/v4/mqtt/publish",
        {"topic": "bin/1", "payload": "AP8=", "decoding": "base64", "retain": True, "qos": 1},
    )
    await call(
        client,
        "POST",
        f"{CONTROL}/clients",
        {
            "client_id": "new/one",
            "username": "carol",
            "proto_ver": 5,
            "will_topic": "w/1",
            "will_msg": "bye",
            "subscriptions": [{"topic": "a/#", "qos": 2}, {"topic": "$share/g/b", "qos": 1}],
        },
    )
    await call(client, "POST", f"{CONTROL}/clients/ref-pubsub-2/disconnect")
    await post(client, "/api/v4/bridges/switch/emqx", {"data": {"bridge_switch": False}})
    await post(
        client,
        "/api/v4/rules",
        {"rawsql": 'SELECT * FROM "x"', "actions": [{"name": "sqlite", "params": {"table": "t"}}]},
    )
    return client


async def test_an_export_fed_back_reproduces_every_get_answer(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    original = await changed_server(make_client, tmp_path)
    expected = await answers(original)
    exported = (await call(original, "GET", f"{CONTROL}/state"))["data"]
    assert "bridge-secret" not in json.dumps(exported)
    assert [c["client_id"] for c in exported["clients"]][-1] == "new/one"
    assert {"topic": "bin/1", "payload_base64": "AP8=", "qos": 1} in exported["retained"]

    # As --scenario at start, and as a PUT into a server started with nothing.
    started = await make_client(control_settings(tmp_path), parse_scenario(exported, "export"))
    assert await answers(started) == expected
    empty = await make_client(control_settings(tmp_path), parse_scenario({}, "empty"))
    assert await answers(empty) != expected
    await call(empty, "PUT", f"{CONTROL}/state", exported)
    assert await answers(empty) == expected
    # The masked bridge password fed back kept the real one, which the config holds.
    bridges = await call(empty, "GET", f"{CONTROL}/state")
    assert bridges["data"] == exported


async def test_a_bad_state_is_refused_naming_the_entry_and_nothing_changes(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await changed_server(make_client, tmp_path)
    before = await answers(client)
    for body, named in (
        ({"clients": [{"client_id": "a"}, {"client_id": "a"}]}, "clients[1]"),
        ({"clients": [{"client_id": "a", "qos": 1}]}, "qos"),
        ({"retained": [{"topic": "a/+", "payload": "x"}]}, "retained[0]"),
        ({"bridges": [{"name": "b", "server": "nope"}]}, "bridges[0]"),
        ({"rules": [{"rawsql": "x", "actions": [{"name": "kafka"}]}]}, "rules[0]"),
        ({"sessions": []}, "sessions"),
    ):
        error = await call(client, "PUT", f"{CONTROL}/state", body, status=400)
        assert error["code"] == 108, error
        assert named in error["message"], (named, error)
    for raw in ("{", "[]", ""):
        error = await call(client, "PUT", f"{CONTROL}/state", raw, status=400)
        assert error["code"] == 109
    assert await answers(client) == before


async def test_reset_goes_back_to_the_start(make_client: ClientFactory, tmp_path: Path) -> None:
    fresh = await make_client(control_settings(tmp_path), reference_scenario())
    at_start = await answers(fresh)
    client = await changed_server(make_client, tmp_path)
    await call(client, "PUT", f"{CONTROL}/clock", {"offset_s": 60})
    assert await answers(client) != at_start
    await call(client, "POST", f"{CONTROL}/reset")
    assert await answers(client) == at_start
    assert (await call(client, "GET", f"{CONTROL}/clock"))["data"]["offset_s"] == 0


async def test_rules_in_a_state_need_the_rule_engine(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(control_settings(tmp_path, "http_server { port = 8081 }\n"))
    state = (await call(client, "GET", f"{CONTROL}/state"))["data"]
    assert "rules" not in state
    rules = [{"rawsql": "x", "actions": [{"name": "sqlite", "params": {"table": "t"}}]}]
    error = await call(client, "PUT", f"{CONTROL}/state", {"rules": rules}, status=400)
    assert "rule engine" in error["message"]


async def test_mock_clients_one_at_a_time(make_client: ClientFactory, tmp_path: Path) -> None:
    client = await make_client(control_settings(tmp_path), reference_scenario())
    added = await call(client, "POST", f"{CONTROL}/clients", {"client_id": "m1"})
    assert added["data"]["conn_state"] == "connected"
    listed = await get(client, "/api/v4/clients/m1")
    assert listed["data"][0]["client_id"] == "m1"
    duplicate = await call(client, "POST", f"{CONTROL}/clients", {"client_id": "m1"}, status=400)
    assert "duplicate" in duplicate["message"] or "m1" in duplicate["message"]
    bad = await call(client, "POST", f"{CONTROL}/clients", {"client_id": ""}, status=400)
    assert bad["code"] == 108
    before = await prometheus(client)
    await call(client, "POST", f"{CONTROL}/clients/m1/disconnect")
    after = await prometheus(client)
    assert after["connections_count"] == before["connections_count"] - 1
    assert after["sessions_count"] == before["sessions_count"]
    assert (await get(client, "/api/v4/clients/m1"))["data"][0]["conn_state"] == "disconnected"
    await call(client, "POST", f"{CONTROL}/clients/m1/connect")
    assert (await get(client, "/api/v4/clients/m1"))["data"][0]["conn_state"] == "connected"
    await call(client, "POST", f"{CONTROL}/clients/ghost/connect", status=404)
    await call(client, "POST", f"{CONTROL}/clients", {"client_id": "with%2Fslash"})
    await call(client, "POST", f"{CONTROL}/clients/with%252Fslash/disconnect")


@pytest.mark.parametrize("offset", ["7200", '"soon"', "true", "1e300", "null"])
async def test_a_bad_clock_offset_is_refused(
    make_client: ClientFactory, tmp_path: Path, offset: str
) -> None:
    client = await make_client(control_settings(tmp_path))
    if offset == "7200":
        for body in ("{}", '{"offset": 1}'):
            error = await call(client, "PUT", f"{CONTROL}/clock", body, status=400)
            assert "offset" in error["message"]
        return
    error = await call(client, "PUT", f"{CONTROL}/clock", f'{{"offset_s": {offset}}}', status=400)
    assert error["code"] == 108
    assert (await call(client, "GET", f"{CONTROL}/clock"))["data"]["offset_s"] == 0


async def test_the_clock_expires_every_token_at_once_and_moves_uptime(
    make_client: ClientFactory, tmp_path: Path, keypair: KeyPair
) -> None:
    settings = jwt_settings(tmp_path, keypair.public_path)
    client = await make_client(
        replace(settings, nanoadmin=replace(settings.nanoadmin, control=True))
    )
    tokens = [keypair.token(ttl=ttl) for ttl in (600, 3600, 6000)]
    for token in tokens:
        response = await client.get("/api/v4/nodes", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200
    bearer = {"Authorization": f"Bearer {tokens[2]}"}
    response = await client.put(f"{CONTROL}/clock", data='{"offset_s": 7200}', headers=bearer)
    assert response.status == 200
    for token in tokens:
        response = await client.get("/api/v4/nodes", headers={"Authorization": f"Bearer {token}"})
        assert (response.status, (await response.json())["code"]) == (401, 116)
    # A token made for the server's moved clock is accepted.
    late = keypair.token(exp=int(time.time()) + 7200 + 600)
    response = await client.get("/api/v4/nodes", headers={"Authorization": f"Bearer {late}"})
    body = await response.json()
    assert response.status == 200
    assert body["data"][0]["uptime"].startswith("2 Hours")
