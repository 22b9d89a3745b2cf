"""Fault rules through a real server: each effect as a client sees it, the seeded draws, the
bounds, the refusals, and the fault file read at start."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from nanoadmin.app import create_app
from nanoadmin.config import ConfigError
from nanoadmin.http.limits import MAX_FAULT_DELAY_MS, MAX_FAULT_RULES
from nanoadmin.model.scenario import reference_scenario
from tests.support import Client, ClientFactory
from tests.support.api import AUTH
from tests.support.control import CONTROL, call, control_settings


async def put_rules(client: Client, *rules: dict[str, Any], seed: int = 7) -> Any:
    return await call(client, "PUT", f"{CONTROL}/faults", {"seed": seed, "rules": list(rules)})


async def fired(client: Client) -> list[int]:
    view = (await call(client, "GET", f"{CONTROL}/faults"))["data"]
    return [rule["fired"] for rule in view["rules"]]


async def test_an_error_rule_answers_in_nanomq_shape_for_matching_requests_only(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(control_settings(tmp_path))
    await put_rules(
        client,
        {"match": {"method": "GET", "path": "/clients*"}, "error": {"status": 503, "code": 102}},
        {"match": {"path": "/nodes"}, "error": {"status": 500, "code": 101, "message": "boom"}},
    )
    response = await client.get("/api/v4/clients?_page=1", headers=AUTH)
    assert (response.status, await response.json()) == (
        503,
        {"code": 102, "message": "fault rule 0"},
    )
    # Before auth: a broker that is down is down for everyone.
    response = await client.get("/api/v4/nodes")
    assert (response.status, await response.json()) == (500, {"code": 101, "message": "boom"})
    assert (await client.delete("/api/v4/clients/nobody", headers=AUTH)).status == 404
    assert (await client.get("/api/v4/brokers", headers=AUTH)).status == 200
    assert await fired(client) == [1, 1]
    entries = (await call(client, "GET", f"{CONTROL}/requests"))["data"]
    assert [(e["status"], e.get("fault")) for e in entries[-4:]] == [
        (503, 0),
        (500, 1),
        (404, None),
        (200, None),
    ]


async def test_delay_drop_truncate_and_hang_as_a_client_sees_them(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(control_settings(tmp_path))
    await put_rules(
        client,
        {"match": {"path": "/brokers"}, "delay_ms": 300},
        {"match": {"path": "/nodes"}, "drop": True},
        {"match": {"path": "/clients"}, "truncate": True},
        {"match": {"path": "/metrics"}, "hang": True},
        {"match": {"path": "/topic-tree"}, "delay_ms": [50, 100], "error": {"status": 502}},
    )
    started = time.monotonic()
    response = await client.get("/api/v4/brokers", headers=AUTH)
    assert response.status == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.get("/api/v4/nodes", headers=AUTH)
    response = await client.get("/api/v4/clients", headers=AUTH)
    assert response.status == 200
    declared = int(response.headers["Content-Length"])
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    assert declared > 100
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await client.get("/api/v4/metrics", headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.5))
    assert time.monotonic() - started < 2
    started = time.monotonic()
    response = await client.get("/api/v4/topic-tree", headers=AUTH)
    assert response.status == 502
    assert 0.05 <= time.monotonic() - started < 2
    # The held request is let go once its client leaves: the server is answering as before.
    await asyncio.sleep(0.5)
    assert await fired(client) == [1, 1, 1, 1, 1]
    entries = (await call(client, "GET", f"{CONTROL}/requests?path=/api/v4/nodes"))["data"]
    assert [(e["status"], e["fault"]) for e in entries] == [(None, 1)]


async def test_probability_is_drawn_from_the_seed_and_times_stops_a_rule(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    async def outcomes(client: Client) -> list[int]:
        statuses = []
        for _ in range(40):
            statuses.append((await client.get("/api/v4/nodes", headers=AUTH)).status)
        return statuses

    rule = {"match": {"path": "/nodes"}, "error": {"status": 503}, "probability": 0.5}
    runs = []
    for name in ("a", "b", "c"):
        folder = tmp_path / name
        folder.mkdir()
        client = await make_client(control_settings(folder))
        await put_rules(client, rule, seed=42 if name != "c" else 43)
        runs.append(await outcomes(client))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert 8 <= runs[0].count(503) <= 32
    client = await make_client(control_settings(tmp_path))
    await put_rules(client, {"match": {"path": "/nodes"}, "drop": True, "times": 2})
    for _ in range(2):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.get("/api/v4/nodes", headers=AUTH)
    assert [(await client.get("/api/v4/nodes", headers=AUTH)).status for _ in range(3)] == [200] * 3
    assert await fired(client) == [2]


async def test_faults_never_touch_the_control_api_or_paths_outside_api_v4(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(control_settings(tmp_path))
    await put_rules(client, {"match": {"path": "*"}, "error": {"status": 503}})
    assert (await client.get("/api/v4/brokers", headers=AUTH)).status == 503
    assert (await client.get("/status")).status == 200
    assert (await client.get(f"{CONTROL}/faults", headers=AUTH)).status == 200
    await call(client, "DELETE", f"{CONTROL}/faults")
    assert (await client.get("/api/v4/brokers", headers=AUTH)).status == 200


async def test_rules_are_added_removed_and_cleared_one_at_a_time(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(control_settings(tmp_path))
    for path in ("/nodes", "/brokers", "/metrics"):
        await call(client, "POST", f"{CONTROL}/faults", {"match": {"path": path}, "drop": True})
    view = await call(client, "DELETE", f"{CONTROL}/faults/1")
    assert [r["match"]["path"] for r in view["data"]["rules"]] == ["/nodes", "/metrics"]
    missing = await call(client, "DELETE", f"{CONTROL}/faults/2", status=404)
    assert missing["code"] == 108
    await call(client, "DELETE", f"{CONTROL}/faults/x", status=404)
    await call(client, "DELETE", f"{CONTROL}/faults")
    assert (await call(client, "GET", f"{CONTROL}/faults"))["data"]["rules"] == []


BAD_RULES = [
    ({"match": {"path": "/nodes"}, "drop": True, "colour": 1}, 108, "rules[0].colour"),
    ({"match": {"path": "/nodes"}}, 107, "needs an effect"),
    ({"drop": True}, 107, "rules[0].match"),
    ({"match": {"method": "GET"}, "drop": True}, 107, "match.path"),
    ({"match": {"path": 5}, "drop": True}, 108, "match.path"),
    ({"match": {"path": "/nothing*"}, "drop": True}, 108, "matches no endpoint"),
    ({"match": {"path": "clients"}, "drop": True}, 108, "start with /"),
    ({"match": {"path": "/nodes", "method": "BREW"}, "drop": True}, 108, "match.method"),
    ({"match": {"path": "/nodes"}, "drop": True, "probability": 1.5}, 108, "probability"),
    ({"match": {"path": "/nodes"}, "drop": True, "probability": "1"}, 108, "probability"),
    ({"match": {"path": "/nodes"}, "delay_ms": -1}, 108, "delay_ms"),
    ({"match": {"path": "/nodes"}, "delay_ms": MAX_FAULT_DELAY_MS + 1}, 108, "delay_ms"),
    ({"match": {"path": "/nodes"}, "delay_ms": [300, 100]}, 108, "low above high"),
    ({"match": {"path": "/nodes"}, "delay_ms": [1, 2, 3]}, 108, "delay_ms"),
    ({"match": {"path": "/nodes"}, "drop": True, "hang": True}, 108, "at most one"),
    ({"match": {"path": "/nodes"}, "drop": False}, 108, "rules[0].drop"),
    ({"match": {"path": "/nodes"}, "error": {"status": 200}}, 108, "error.status"),
    ({"match": {"path": "/nodes"}, "error": {"status": 503, "x": 1}}, 108, "error.x"),
    ({"match": {"path": "/nodes"}, "drop": True, "times": 0}, 108, "times"),
]


@pytest.mark.parametrize(("rule", "code", "named"), BAD_RULES)
async def test_a_bad_rule_is_refused_naming_its_field_and_nothing_changes(
    make_client: ClientFactory, tmp_path: Path, rule: dict[str, Any], code: int, named: str
) -> None:
    client = await make_client(control_settings(tmp_path))
    before = await put_rules(client, {"match": {"path": "/brokers"}, "delay_ms": 1})
    error = await call(client, "PUT", f"{CONTROL}/faults", {"rules": [rule]}, status=400)
    assert error["code"] == code, error
    assert named in error["message"]
    assert "\n" not in error["message"]
    error = await call(client, "POST", f"{CONTROL}/faults", rule, status=400)
    assert error["code"] == code, error
    assert (await call(client, "GET", f"{CONTROL}/faults"))["data"] == before["data"]


async def test_bad_bodies_and_the_rule_cap(make_client: ClientFactory, tmp_path: Path) -> None:
    client = await make_client(control_settings(tmp_path))
    for body, code in (("{", 109), ("[]", 109), ('{"rules": {}}', 108), ('{"seed": "x"}', 108)):
        error = await call(client, "PUT", f"{CONTROL}/faults", body, status=400)
        assert error["code"] == code, (body, error)
    rule = {"match": {"path": "/nodes"}, "delay_ms": 1}
    too_many = {"rules": [rule] * (MAX_FAULT_RULES + 1)}
    error = await call(client, "PUT", f"{CONTROL}/faults", too_many, status=400)
    assert str(MAX_FAULT_RULES) in error["message"]
    await call(client, "PUT", f"{CONTROL}/faults", {"rules": [rule] * MAX_FAULT_RULES})
    error = await call(client, "POST", f"{CONTROL}/faults", rule, status=400)
    assert str(MAX_FAULT_RULES) in error["message"]
    assert len((await call(client, "GET", f"{CONTROL}/faults"))["data"]["rules"]) == MAX_FAULT_RULES


async def test_a_fault_file_applies_from_the_start(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    toml = tmp_path / "faults.toml"
    toml.write_text(
        'seed = 3\n[[rules]]\nmatch = { method = "GET", path = "/nodes" }\n'
        "error = { status = 503, code = 102 }\ntimes = 1\n"
    )
    client = await make_client(control_settings(tmp_path, faults=toml))
    assert (await client.get("/api/v4/nodes", headers=AUTH)).status == 503
    assert (await client.get("/api/v4/nodes", headers=AUTH)).status == 200
    as_json = tmp_path / "faults.json"
    as_json.write_text(json.dumps({"rules": [{"match": {"path": "/brokers"}, "drop": True}]}))
    client = await make_client(control_settings(tmp_path, faults=as_json))
    assert (await call(client, "GET", f"{CONTROL}/faults"))["data"]["rules"][0]["drop"] is True


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"rules": [{"match": {"path": "/nope"}, "drop": true}]}', "matches no endpoint"),
        ("rules = 3\n", "rules"),
        ("[[rules]\n", "faults.bad"),
    ],
)
def test_a_bad_fault_file_stops_the_start_naming_the_file(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "faults.bad"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        create_app(control_settings(tmp_path, faults=path), reference_scenario())
    assert named in str(caught.value)
    assert str(path) in str(caught.value)
