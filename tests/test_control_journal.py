"""The control API's door and its request journal, through a real server: what it keeps,
what it never keeps, its filters and its bounds."""

from __future__ import annotations

import gc
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from nanoadmin.http.limits import JOURNAL_BODY_MAX, JOURNAL_TARGET_MAX
from tests.support import BASIC_ADMIN, Client, ClientFactory, KeyPair, basic_auth, jwt_settings
from tests.support.api import AUTH, RULES_CONF
from tests.support.control import CONTROL, call, control_settings
from tests.support.rawhttp import rss_kib


async def test_without_control_its_paths_answer_as_any_unknown_path(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(control_settings(tmp_path, control=False))
    for path in (f"{CONTROL}/", f"{CONTROL}/requests", f"{CONTROL}/faults"):
        control = await client.get(path, headers=AUTH)
        unknown = await client.get(path.replace("_nanoadmin", "_nothing"), headers=AUTH)
        body, other = await control.json(), await unknown.json()
        assert (control.status, body["code"]) == (unknown.status, other["code"]) == (404, 102)
        assert body["message"] == other["message"].replace("_nothing", "_nanoadmin")


async def test_control_takes_the_same_basic_auth_as_the_api(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(control_settings(tmp_path))
    for headers in ({}, {"Authorization": basic_auth("admin", "wrong")}, {"Authorization": "x"}):
        api = await client.get("/api/v4/brokers", headers=headers)
        control = await client.get(f"{CONTROL}/requests", headers=headers)
        assert control.status == api.status == 401
        assert (await control.json())["code"] == (await api.json())["code"]
    index = await call(client, "GET", f"{CONTROL}/")
    assert index["data"]["journal_size"] == 1000
    assert f"{CONTROL}/faults/{{index}}" in index["data"]["endpoints"]


async def test_control_takes_a_jwt_on_a_jwt_server(
    make_client: ClientFactory, tmp_path: Path, keypair: KeyPair
) -> None:
    settings = jwt_settings(tmp_path, keypair.public_path)
    settings = replace(settings, nanoadmin=replace(settings.nanoadmin, control=True))
    client = await make_client(settings)
    basic = await client.get(f"{CONTROL}/requests", headers={"Authorization": BASIC_ADMIN})
    assert basic.status == 401
    token = keypair.token()
    bearer = await client.get(f"{CONTROL}/requests", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status == 200
    entries = (await bearer.json())["data"]
    assert [(e["auth"]["scheme"], e["auth"]["outcome"]) for e in entries] == []
    await client.get("/api/v4/nodes", headers={"Authorization": f"Bearer {token}"})
    entries = (await call_bearer(client, token))["data"]
    assert [(e["target"], e["auth"]) for e in entries] == [
        ("/api/v4/nodes", {"scheme": "bearer", "outcome": "accepted"})
    ]
    assert token not in json.dumps(entries)


async def call_bearer(client: Client, token: str) -> dict[str, Any]:
    response = await client.get(f"{CONTROL}/requests", headers={"Authorization": f"Bearer {token}"})
    body: dict[str, Any] = await response.json()
    return body


async def test_the_journal_keeps_each_request_and_never_a_credential(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(control_settings(tmp_path))
    before = time.time()
    await client.get("/api/v4/brokers?x=1", headers=AUTH)
    await client.get("/api/v4/brokers", headers={"Authorization": basic_auth("admin", "guess")})
    await client.get("/api/v4/nope", headers=AUTH)
    await client.post(
        "/api/v4/mqtt/publish",
        data=json.dumps({"topic": "t/1", "payload": "hi", "qos": 0, "clientid": "c"}),
        headers=AUTH,
    )
    # A PEM header cut off, as a body may hold one (split so that no file here holds a key).
    pem_start = "-----BEGIN " + "PRIVATE KEY-----"
    secret_conf = f'http_server {{ password = "s3cret-pass" }}\nkey = "{pem_start}abc'
    await client.post("/api/v4/config_update", data=secret_conf, headers=AUTH)
    await client.get("/status")
    await call(client, "GET", f"{CONTROL}/faults")
    entries = (await call(client, "GET", f"{CONTROL}/requests"))["data"]
    assert [(e["method"], e["target"], e["status"]) for e in entries] == [
        ("GET", "/api/v4/brokers?x=1", 200),
        ("GET", "/api/v4/brokers", 401),
        ("GET", "/api/v4/nope", 404),
        ("POST", "/api/v4/mqtt/publish", 200),
        ("POST", "/api/v4/config_update", entries[4]["status"]),
        ("GET", "/status", 200),
    ]
    assert [e["auth"] for e in entries[:3]] == [
        {"scheme": "basic", "outcome": "accepted"},
        {"scheme": "basic", "outcome": "refused"},
        {"scheme": "basic", "outcome": "accepted"},
    ]
    assert entries[5]["auth"] == {"scheme": "none", "outcome": "none"}
    assert [e["code"] for e in entries[:4]] == [0, 103, entries[2]["code"], 0]
    assert entries[2]["code"] is not None
    ids = [e["id"] for e in entries]
    assert ids == sorted(set(ids))
    assert all(before <= e["time"] <= time.time() for e in entries)
    assert all(e["duration_ms"] >= 0 for e in entries)
    publish = entries[3]
    assert json.loads(publish["body"])["topic"] == "t/1"
    assert publish["body_size"] == len(
        json.dumps({"topic": "t/1", "payload": "hi", "qos": 0, "clientid": "c"})
    )
    everything = json.dumps(entries)
    for secret in ("s3cret-pass", BASIC_ADMIN.split()[1], "guess", "BEGIN PRIVATE KEY", "abc"):
        assert secret not in everything
    assert 'password = "******"' in entries[4]["body"]


async def test_journal_filters_and_clearing(make_client: ClientFactory, tmp_path: Path) -> None:
    client = await make_client(control_settings(tmp_path))
    for path in ("/api/v4/clients", "/api/v4/clients/ref-sub-1", "/api/v4/nodes"):
        await client.get(path, headers=AUTH)
    await client.delete("/api/v4/clients/nobody", headers=AUTH)
    middle = (await call(client, "GET", f"{CONTROL}/requests"))["data"][1]

    async def targets(query: str) -> list[str]:
        entries = (await call(client, "GET", f"{CONTROL}/requests?{query}"))["data"]
        return [e["target"] for e in entries]

    assert await targets("method=DELETE") == ["/api/v4/clients/nobody"]
    assert await targets("method=get&path=/api/v4/clients*") == [
        "/api/v4/clients",
        "/api/v4/clients/ref-sub-1",
    ]
    assert await targets("status=404") == ["/api/v4/clients/nobody"]
    assert await targets(f"after={middle['id']}") == ["/api/v4/nodes", "/api/v4/clients/nobody"]
    assert len(await targets(f"since={middle['time']}")) == 3
    assert await targets(f"since={time.time() + 60}") == []
    for query, named in (
        ("status=abc", "status"),
        ("status=99", "status"),
        ("since=nan", "since"),
        ("after=-1", "after"),
        ("method=G%20T", "method"),
        ("colour=red", "colour"),
        ("&".join(f"a{n}=1" for n in range(20)), "query parameters"),
    ):
        error = await call(client, "GET", f"{CONTROL}/requests?{query}", status=400)
        assert error["code"] == 108, (query, error)
        assert named in error["message"], (query, error)
    await call(client, "DELETE", f"{CONTROL}/requests")
    assert await targets("") == []


async def test_the_journal_is_a_ring_of_its_size_and_cuts_what_it_keeps(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    big_body_conf = RULES_CONF.replace(
        "http_server { port = 8081 }", "http_server { port = 8081, max_body = 1MB }"
    )
    client = await make_client(control_settings(tmp_path, big_body_conf, journal_size=5))
    long_target = "/api/v4/clients?" + "x" * 12_000
    for _ in range(3):
        await client.get(long_target, headers=AUTH)
    huge = json.dumps({"topic": "t", "payload": "p" * 500_000, "qos": 0, "clientid": "c"})
    for index in range(10):
        await client.post("/api/v4/mqtt/publish", data=huge, headers=AUTH)
        await client.get(f"/api/v4/nodes?n={index}", headers=AUTH)
    entries = (await call(client, "GET", f"{CONTROL}/requests"))["data"]
    assert len(entries) == 5
    assert entries[-1]["target"] == "/api/v4/nodes?n=9"
    posts = [e for e in entries if e["method"] == "POST"]
    assert posts
    assert all(e["body_size"] == len(huge) for e in posts)
    assert all(len(e["body"]) <= JOURNAL_BODY_MAX + 3 for e in posts)
    # The whole journal's answer stays small whatever was sent.
    assert len(json.dumps(entries)) < 5 * (JOURNAL_BODY_MAX + JOURNAL_TARGET_MAX + 500)
    cut = await make_client(control_settings(tmp_path, journal_size=3))
    for _ in range(2):
        await cut.get(long_target, headers=AUTH)
    kept = (await call(cut, "GET", f"{CONTROL}/requests"))["data"]
    assert all(len(e["target"]) <= JOURNAL_TARGET_MAX + 3 for e in kept)
    assert kept[0]["target"].startswith("/api/v4/clients?xxx")


async def test_journal_size_zero_keeps_nothing(make_client: ClientFactory, tmp_path: Path) -> None:
    client = await make_client(control_settings(tmp_path, journal_size=0))
    await client.get("/api/v4/nodes", headers=AUTH)
    assert (await call(client, "GET", f"{CONTROL}/requests"))["data"] == []
    assert (await call(client, "GET", f"{CONTROL}/"))["data"]["journal_size"] == 0


@pytest.mark.slow  # 2,000 requests of 200 KB, about 10 s
async def test_a_full_journal_of_huge_requests_stays_small_in_memory(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """An attacker's journal: every entry at the caps. Uncut, 2,000 such bodies would hold
    400 MB; cut and masked, the ring holds a few MB."""
    conf = RULES_CONF.replace("http_server { port = 8081 }", "http_server { max_body = 1MB }")
    client = await make_client(control_settings(tmp_path, conf, journal_size=2000))
    body = json.dumps({"topic": "t", "payload": "p" * 200_000, "password": "x" * 1000})
    target = "/api/v4/mqtt/publish?" + "q" * 8000
    gc.collect()
    before = rss_kib(os.getpid())
    for _ in range(2000):
        await client.post(target, data=body, headers=AUTH)
    gc.collect()
    grown_mib = (rss_kib(os.getpid()) - before) / 1024
    print(f"\n2,000 requests of {len(body) + len(target):,} bytes: RSS +{grown_mib:.1f} MiB")
    entries = (await call(client, "GET", f"{CONTROL}/requests"))["data"]
    assert len(entries) == 2000
    assert all("x" * 100 not in e["body"] for e in entries)
    assert grown_mib < 60, f"RSS grew {grown_mib:.1f} MiB"
