"""Every /api/v4 family through a real server: the model behaves like a broker."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from nanoadmin.appkeys import RUNTIME_KEY
from nanoadmin.model.scenario import parse_scenario
from nanoadmin.settings import load_settings
from tests.support import (
    BASIC_ADMIN,
    NANOMQ_ETC,
    PROJECT,
    Client,
    ClientFactory,
    KeyPair,
    basic_settings,
)

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


async def test_publish_counts_received_sent_and_dropped(basic_client: Client) -> None:
    before = await prometheus(basic_client)
    # sensors/+/temp (ref-sub-1) and sensors/room1/temp (ref-pubsub-2) both match.
    assert await post(
        basic_client, "/api/v4/mqtt/publish", {"topic": "sensors/room1/temp", "payload": "20"}
    ) == {"code": 0}
    after = await prometheus(basic_client)
    assert after["messages_received"] == before["messages_received"] + 1
    assert after["messages_sent"] == before["messages_sent"] + 2
    await post(basic_client, "/api/v4/mqtt/publish", {"topic": "nobody/listens", "payload": "x"})
    final = await prometheus(basic_client)
    assert final["messages_dropped"] == after["messages_dropped"] + 1
    assert final["messages_sent"] == after["messages_sent"]


async def test_publish_failures_are_200_with_108(basic_client: Client) -> None:
    for body in (
        {"topic": "a/b"},
        {"payload": "x"},
        {"topic": 5, "payload": "x"},
        {"topic": "a/+", "payload": "x"},
        {"topic": "a", "payload": "x", "qos": 3},
        {"topic": "a", "payload": "x", "retain": "yes"},
        {"topic": "a", "payload": "x", "properties": {"user_properties": [1]}},
    ):
        reply = await post(basic_client, "/api/v4/mqtt/publish", body)
        assert reply["code"] == 108 and reply["message"], body


async def test_retain_stores_and_empty_payload_clears(basic_client: Client) -> None:
    def runtime_retained() -> set[str]:
        return {m.topic for m in basic_client.app[RUNTIME_KEY].broker.retained()}

    await post(
        basic_client, "/api/v4/mqtt/publish", {"topic": "r/1", "payload": "on", "retain": True}
    )
    assert "r/1" in runtime_retained()
    await post(
        basic_client, "/api/v4/mqtt/publish", {"topic": "r/1", "payload": "", "retain": True}
    )
    assert "r/1" not in runtime_retained()


async def test_subscribe_kick_and_what_every_view_shows(basic_client: Client) -> None:
    reply = await post(
        basic_client, "/api/v4/mqtt/subscribe", {"topic": "x/#", "clientid": "ref-sub-1", "qos": 1}
    )
    assert reply == {"code": 0}
    subs = (await get(basic_client, "/api/v4/subscriptions/ref-sub-1"))["data"]
    assert {"clientid": "ref-sub-1", "topic": "x/#", "qos": 1} in subs
    tree = (await get(basic_client, "/api/v4/topic-tree"))["data"]
    assert any(node["topic"] == "x" for node in tree[1])
    assert (await prometheus(basic_client))["topics_count"] == 5

    assert (await basic_client.delete("/api/v4/clients/ref-sub-1", headers=AUTH)).status == 200
    assert (await get(basic_client, "/api/v4/clients/ref-sub-1"))["data"] == []
    assert (await get(basic_client, "/api/v4/subscriptions/ref-sub-1"))["data"] == []
    assert (await get(basic_client, "/api/v4/nodes"))["data"][0]["connections"] == 1
    assert (await get(basic_client, "/api/v4/metrics"))["connections"] == 1
    values = await prometheus(basic_client)
    assert values["connections_count"] == 1 and values["connections_max"] == 2
    assert values["subscribers_count"] == 1
    tree = (await get(basic_client, "/api/v4/topic-tree"))["data"]
    assert [node["topic"] for node in tree[1]] == ["cmd", "sensors"]
    response = await basic_client.delete("/api/v4/clients/ref-sub-1", headers=AUTH)
    assert response.status == 404 and (await response.json())["code"] == 112


async def test_subscribe_extension_errors(basic_client: Client) -> None:
    assert (
        await post(basic_client, "/api/v4/mqtt/subscribe", {"topic": "a", "clientid": "ghost"})
    )["code"] == 112
    assert (
        await post(
            basic_client, "/api/v4/mqtt/subscribe", {"topic": "a/#/b", "clientid": "ref-sub-1"}
        )
    )["code"] == 108
    await post(basic_client, "/api/v4/mqtt/subscribe", [], status=400)
    batch = await post(
        basic_client,
        "/api/v4/mqtt/subscribe_batch",
        [{"topic": "q/1", "clientid": "ref-sub-1"}, {"topic": "q/2", "clientid": "nobody"}, "junk"],
    )
    assert batch == {
        "data": [{"topic": "q/1", "code": 0}, {"topic": "q/2", "code": 112}, {"code": 108}],
        "code": 0,
    }


async def test_clients_paging_extension(make_client: ClientFactory, tmp_path: Path) -> None:
    scenario = parse_scenario(
        {
            "clients": [
                {"client_id": f"c{i:02d}", "subscriptions": [{"topic": f"t/{i}"}]}
                for i in range(25)
            ]
        },
        "inline",
    )
    client = await make_client(basic_settings(tmp_path), scenario)
    page = await get(client, "/api/v4/clients?_page=3&_limit=10")
    assert [c["client_id"] for c in page["data"]] == [f"c{i}" for i in range(20, 25)]
    assert list(page) == ["code", "data", "meta"]
    assert page["meta"] == {"page": 3, "limit": 10, "count": 25, "hasnext": False}
    page = await get(client, "/api/v4/subscriptions?_limit=5")
    assert page["meta"] == {"page": 1, "limit": 5, "count": 25, "hasnext": True}
    plain = await get(client, "/api/v4/clients")
    assert list(plain) == ["code", "data"] and len(plain["data"]) == 25
    for bad in ("_page=0", "_limit=abc", "_limit=1000000"):
        response = await client.get(f"/api/v4/clients?{bad}", headers=AUTH)
        assert response.status == 400 and (await response.json())["code"] == 108


async def test_client_listings_follow_every_change_of_clients(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    # Listings are served from a cache while the clients stay the same; it must never go stale,
    # and two servers in one process must never see each other's clients.
    def fleet(prefix: str) -> Any:
        clients = [{"client_id": f"{prefix}{i}", "username": "u"} for i in range(5)]
        return parse_scenario({"clients": clients}, "inline")

    first = await make_client(basic_settings(tmp_path), fleet("a"))
    second = await make_client(basic_settings(tmp_path), fleet("b"))
    paths = ("/api/v4/clients?_page=1&_limit=2", "/api/v4/clients", "/api/v4/clients/username/u")
    for path in paths:
        assert (await get(first, path)) == (await get(first, path))
        assert (await get(first, path))["data"][0]["client_id"] == "a0"
        assert (await get(second, path))["data"][0]["client_id"] == "b0"
    for path in paths:
        await get(first, path)
    assert (await first.delete("/api/v4/clients/a0", headers=AUTH)).status == 200
    page = await get(first, paths[0])
    assert [c["client_id"] for c in page["data"]] == ["a1", "a2"]
    assert page["meta"]["count"] == 4
    assert len((await get(first, paths[1]))["data"]) == 4
    assert len((await get(first, paths[2]))["data"]) == 4
    assert (await get(first, "/api/v4/clients/a0"))["data"] == []
    response = await first.get("/api/v4/clients?_page=0", headers=AUTH)
    assert response.status == 400 and (await response.json())["code"] == 108


async def test_configuration_post_shows_in_next_get(basic_client: Client) -> None:
    await post(
        basic_client,
        "/api/v4/configuration",
        {"data": {"basic": {"msq_len": 4096, "allow_anonymous": False, "url": 5}}},
    )
    basic = (await get(basic_client, "/api/v4/configuration/basic"))["data"]["basic"]
    assert basic["msq_len"] == 4096 and basic["allow_anonymous"] is False
    assert basic["url"] != 5  # wrong types are ignored, as NanoMQ does
    reload_view = (await get(basic_client, "/api/v4/reload"))["data"]
    assert reload_view["msq_len"] == 4096


async def test_password_change_takes_effect_on_next_request(basic_client: Client) -> None:
    await post(
        basic_client,
        "/api/v4/configuration/http_server",
        {"data": {"http_server": {"password": "n3w"}}},
    )
    response = await basic_client.get("/api/v4/brokers", headers=AUTH)
    assert response.status == 401
    fresh = {"Authorization": "Basic " + base64.b64encode(b"admin:n3w").decode()}
    response = await basic_client.get("/api/v4/configuration/http_server", headers=fresh)
    body = await response.json()
    assert response.status == 200 and body["data"]["http_server"]["password"] == "******"


async def test_switch_to_jwt_without_keys_is_refused(basic_client: Client) -> None:
    reply = await post(
        basic_client,
        "/api/v4/configuration/http_server",
        {"data": {"http_server": {"auth_type": "jwt"}}},
        status=400,
    )
    assert reply["code"] == 108
    assert (await basic_client.get("/api/v4/brokers", headers=AUTH)).status == 200


async def test_config_update_validates_and_writes_atomically(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    settings = basic_settings(tmp_path)
    assert settings.path is not None
    original = settings.path.read_text()
    client = await make_client(settings)
    for bad in ("http_server { port = [ }", "", "http_server { auth_type = nope }", "\xff"):
        reply = await post(client, "/api/v4/config_update", bad.encode("latin-1"), status=400)
        assert reply["code"] == 117 and reply["message"]
        assert settings.path.read_text() == original
    new = "http_server {\n  port = 8081\n  password = changed\n}\n"
    assert await post(client, "/api/v4/config_update", new) == {"code": 0}
    assert settings.path.read_text() == new
    assert not list(tmp_path.glob(".*.tmp"))
    # Nothing applies until a reload: then the new password is the one that works.
    assert (await client.get("/api/v4/brokers", headers=AUTH)).status == 200
    assert await post(client, "/api/v4/reload", {}) == {"code": 0}
    assert (await client.get("/api/v4/brokers", headers=AUTH)).status == 401


async def test_ctrl_stop_and_restart(basic_client: Client) -> None:
    runtime = basic_client.app[RUNTIME_KEY]
    await post(basic_client, "/api/v4/mqtt/subscribe", {"topic": "z", "clientid": "ref-sub-1"})
    assert await post(basic_client, "/api/v4/ctrl/RESTART", "") == {"code": 0}
    await asyncio.sleep(0.3)
    subs = (await get(basic_client, "/api/v4/subscriptions/ref-sub-1"))["data"]
    assert all(s["topic"] != "z" for s in subs)  # re-seeded
    response = await basic_client.post("/api/v4/ctrl/bogus", headers=AUTH)
    assert response.status == 404 and (await response.json())["code"] == 101
    assert not runtime.stop_event.is_set()
    assert await post(basic_client, "/api/v4/ctrl/stop", "") == {"code": 0}
    await asyncio.sleep(0.3)
    assert runtime.stop_event.is_set()


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


@pytest.fixture
async def full_client(make_client: ClientFactory, tmp_path: Path) -> Client:
    conf = tmp_path / "nanomq.conf"
    conf.write_text(RULES_CONF)
    return await make_client(load_settings(str(conf), environ={}))


async def test_rules_crud(full_client: Client) -> None:
    rules = await get(full_client, "/api/v4/rules")
    assert rules == {
        "data": [{"name": "repub", "rawsql": 'SELECT * FROM "in"', "id": 1, "enabled": True}],
        "code": 0,
    }
    created = await post(
        full_client,
        "/api/v4/rules",
        {"rawsql": 'SELECT * FROM "a"', "actions": [{"name": "sqlite", "params": {"table": "t1"}}]},
    )
    assert created == {
        "data": {"rawsql": 'SELECT * FROM "a"', "id": 2, "enabled": True},
        "actions": [],
        "code": 0,
    }
    dup = await post(
        full_client,
        "/api/v4/rules",
        {"rawsql": "x", "actions": [{"name": "sqlite", "params": {"table": "t1"}}]},
        status=400,
    )
    assert dup["code"] == 108
    bad = await post(
        full_client, "/api/v4/rules", {"rawsql": "x", "actions": [{"name": "kafka"}]}, status=400
    )
    assert bad["code"] == 111
    missing = await post(
        full_client,
        "/api/v4/rules",
        {"rawsql": "x", "actions": [{"name": "repub", "params": {}}]},
        status=400,
    )
    assert missing["code"] == 107
    response = await full_client.put(
        "/api/v4/rules/rule:2", data=json.dumps({"enabled": False}), headers=AUTH
    )
    assert (await response.json())["data"]["enabled"] is False
    response = await full_client.put(
        "/api/v4/rules/rule:2",
        data=json.dumps({"actions": [{"name": "repub", "params": {"topic": "a", "address": "b"}}]}),
        headers=AUTH,
    )
    assert response.status == 400 and (await response.json())["code"] == 108
    assert (await full_client.delete("/api/v4/rules/rule:2", headers=AUTH)).status == 200
    response = await full_client.get("/api/v4/rules/rule:2", headers=AUTH)
    assert response.status == 400 and (await response.json())["code"] == 107
    response = await full_client.get(
        "/api/v4/rules/2", headers=AUTH
    )  # the rule: prefix is required
    assert response.status == 400


async def test_bridges(full_client: Client) -> None:
    nodes = (await get(full_client, "/api/v4/bridges"))["data"]["bridge"]["nodes"]
    (node,) = nodes
    assert list(node) == [
        "name",
        "enable",
        "parallel",
        "connector",
        "forwards",
        "subscription",
        "tls",
    ]
    assert node["connector"]["password"] == "******"
    assert node["forwards"] == [{"remote_topic": "fwd/t", "local_topic": "t/#"}]
    assert (await get(full_client, "/api/v4/reload"))["data"]["bridge_mode"] is True
    await post(full_client, "/api/v4/mqtt/publish", {"topic": "t/x", "payload": "abc"})
    (metrics,) = (await get(full_client, "/api/v4/metrics"))["metrics"]
    assert (
        metrics["bridge name"] == "emqx"
        and metrics["sent messages"] == 1
        and metrics["sent bytes"] == 3
    )
    await post(
        full_client,
        "/api/v4/bridges/sub/emqx",
        {"data": {"subscription": [{"remote_topic": "cmd/2", "local_topic": "c2", "qos": 2}]}},
    )
    await post(
        full_client,
        "/api/v4/bridges/unsub/emqx",
        {"data": {"unsubscription": [{"topic": "cmd/1"}]}},
    )
    node = (await get(full_client, "/api/v4/bridges/emqx"))["data"]["bridge"]["nodes"][0]
    assert node["subscription"] == [{"remote_topic": "cmd/2", "local_topic": "c2", "qos": 2}]
    await post(full_client, "/api/v4/bridges/switch/emqx", {"data": {"bridge_switch": False}})
    assert (await get(full_client, "/api/v4/metrics"))["metrics"] == []
    await post(
        full_client, "/api/v4/bridges/unsub/emqx", {"data": {"unsubscription": []}}, status=404
    )
    assert (
        await post(
            full_client,
            "/api/v4/bridges/switch/nope",
            {"data": {"bridge_switch": True}},
            status=204,
        )
        is None
    )
    response = await full_client.put(
        "/api/v4/bridges/emqx",
        data=json.dumps({"emqx": {"server": "mqtt-tcp://h:1", "proto_ver": 5}}),
        headers=AUTH,
    )
    assert response.status == 200
    node = (await get(full_client, "/api/v4/bridges/emqx"))["data"]["bridge"]["nodes"][0]
    assert node["connector"]["server"] == "mqtt-tcp://h:1" and node["connector"]["proto_ver"] == 5
    assert (await full_client.delete("/api/v4/bridges/emqx", headers=AUTH)).status == 200
    assert (await get(full_client, "/api/v4/bridges"))["data"]["bridge"]["nodes"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v4/mqtt/publish"),
        ("POST", "/api/v4/mqtt/publish_batch"),
        ("POST", "/api/v4/mqtt/subscribe"),
        ("POST", "/api/v4/mqtt/unsubscribe_batch"),
        ("POST", "/api/v4/reload"),
        ("POST", "/api/v4/configuration"),
        ("POST", "/api/v4/configuration/basic"),
        ("POST", "/api/v4/rules"),
        ("PUT", "/api/v4/rules/rule:1"),
        ("PUT", "/api/v4/bridges/emqx"),
        ("POST", "/api/v4/bridges/switch/emqx"),
        ("POST", "/api/v4/bridges/sub/emqx"),
        ("POST", "/api/v4/bridges/unsub/emqx"),
    ],
)
async def test_bad_bodies_get_a_code_never_a_500(
    full_client: Client, method: str, path: str
) -> None:
    bodies: list[bytes] = [
        b"",
        b"{bad",
        b"[" * 5000 + b"]" * 5000,
        b'"just a string"',
        b"12",
        b"null",
        json.dumps({"data": "x" * 500_000, "topic": ["a"], "payload": {"x": 1}}).encode(),
        json.dumps([{"topic": 1}] * 3).encode(),
        json.dumps({"data": {"basic": [], "bridge_switch": "yes", "subscription": 5}}).encode(),
        "\u00ff\u0000".encode(),
    ]
    for body in bodies:
        response = await full_client.request(method, path, data=body, headers=AUTH)
        assert response.status in (200, 204, 400, 404), (body[:40], response.status)
        if response.status != 204:
            reply = await response.json()
            assert isinstance(reply.get("code"), int), body[:40]
            if response.status == 400:
                assert reply["code"] in (107, 108, 109, 111, 117), body[:40]


async def test_prometheus_is_valid_exposition(basic_client: Client) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    response = await basic_client.get("/api/v4/prometheus", headers=AUTH)
    text = await response.text()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert len(families) == 15
    assert families["nanomq_connections_count"].type == "gauge"
    assert families["nanomq_messages_received"].type == "counter"
    assert families["nanomq_sessions_count"].samples[0].value == 2


BIG = "1" * 5000  # past the 4300 digits Python's int() reads


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v4/rules/rule:{n}", None),
        ("DELETE", "/api/v4/rules/rule:{n}", None),
        ("PUT", "/api/v4/rules/rule:{n}", "{{}}"),
        ("PUT", "/api/v4/bridges/emqx", '{{"emqx": {{"proto_ver": "{n}"}}}}'),
        (
            "POST",
            "/api/v4/bridges/sub/emqx",
            '{{"data": {{"subscription": [{{"remote_topic": "a", "local_topic": "b", '
            '"qos": "{n}"}}]}}}}',
        ),
        ("POST", "/api/v4/config_update", 'mqtt {{ property_size = "{n}" }}'),
        ("GET", "/api/v4/clients?_page={n}", None),
        ("GET", "/api/v4/clients?_limit={n}", None),
    ],
)
async def test_a_number_too_long_for_int_is_answered_like_any_bad_value(
    full_client: Client, method: str, path: str, body: str | None
) -> None:
    async def answer(n: str) -> tuple[int, object]:
        response = await full_client.request(
            method,
            path.format(n=n),
            data=body.format(n=n) if body is not None else None,
            headers=AUTH,
        )
        return response.status, (await response.json()).get("code")

    async def stored() -> list[object]:
        return [await get(full_client, p) for p in ("/api/v4/rules", "/api/v4/bridges")]

    before = await stored()
    # A bridge's bad number falls back to its default, as in NanoMQ: 200, not a refusal.
    bad = await answer("99999" if "rule:" in path else "abc")
    assert bad[0] < 500, bad
    assert await answer(BIG) == bad
    assert await answer("²") == bad  # str.isdigit() says yes; int() says no
    if bad[0] >= 400:
        assert await stored() == before


async def test_secrets_read_and_posted_back_stay_the_secrets(full_client: Client) -> None:
    config = full_client.app[RUNTIME_KEY].config
    await post(
        full_client,
        "/api/v4/configuration",
        {
            "data": {
                "tls": {"key_password": "tls-pw", "key": "PEM", "cacert": "CA"},
                "auth": [{"username": "dev", "password": "dev-pw"}],
            }
        },
    )
    for section in ("http_server", "tls", "auth"):
        shown = (await get(full_client, f"/api/v4/configuration/{section}"))["data"]
        assert "******" in json.dumps(shown), shown
        if section == "auth":  # GET shows "login"; POST takes "username", as in NanoMQ
            shown = {"auth": [{"username": e["login"], **e} for e in shown["auth"]]}
        assert await post(full_client, f"/api/v4/configuration/{section}", {"data": shown}) == {
            "code": 0
        }
    assert (await full_client.get("/api/v4/brokers", headers=AUTH)).status == 200
    assert config.tls["key_password"] == "tls-pw" and config.tls["key"] == "PEM"
    assert config.auth == [{"login": "dev", "password": "dev-pw"}]
    node = (await get(full_client, "/api/v4/bridges/emqx"))["data"]["bridge"]["nodes"][0]
    connector = node["connector"]
    assert connector["password"] == "******"
    put = {"emqx": {"server": connector["server"], "username": "u", "password": "******"}}
    response = await full_client.put("/api/v4/bridges/emqx", data=json.dumps(put), headers=AUTH)
    assert response.status == 200, await response.text()
    stored = config.bridges._nodes["emqx"]["connector"]
    assert isinstance(stored, dict) and stored["password"] == "bridge-secret"
    # A new secret is still a change.
    await post(
        full_client,
        "/api/v4/configuration/http_server",
        {"data": {"http_server": {"password": "n3w"}}},
    )
    assert (await full_client.get("/api/v4/brokers", headers=AUTH)).status == 401


@pytest.mark.parametrize("key_format", ["pkcs8", "pkcs1", "cut short"])
async def test_a_certificate_file_holding_its_key_never_shows_the_key(
    make_client: ClientFactory, tmp_path: Path, keypair: KeyPair, key_format: str
) -> None:
    encoding = serialization.PrivateFormat.PKCS8
    if key_format == "pkcs1":
        encoding = serialization.PrivateFormat.TraditionalOpenSSL
    key_pem = keypair.private.private_bytes(
        serialization.Encoding.PEM, encoding, serialization.NoEncryption()
    ).decode()
    if key_format == "cut short":
        key_pem = "\n".join(key_pem.splitlines()[:-1])
    certificate = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
    (tmp_path / "combined.pem").write_text(certificate + key_pem)
    conf = tmp_path / "nanomq.conf"
    conf.write_text(
        "http_server { port = 8081 }\n"
        'listeners.ssl { bind = "0.0.0.0:8883", certfile = "combined.pem", '
        'cacertfile = "combined.pem", keyfile = "combined.pem" }\n'
    )
    client = await make_client(load_settings(str(conf), environ={}))
    tls = (await get(client, "/api/v4/configuration/tls"))["data"]["tls"]
    key_body = key_pem.splitlines()[3]  # a line of the key's base64
    assert key_body not in json.dumps(tls)
    assert tls["key"] == "******"
    if key_format != "cut short":
        assert tls["cert"].startswith(certificate) and tls["cacert"] == tls["cert"]


@pytest.mark.parametrize("kind", ["toml", "old_conf"])
async def test_config_update_takes_the_format_the_file_is_read_in(
    make_client: ClientFactory, tmp_path: Path, kind: str
) -> None:
    hocon = (PROJECT / "conf" / "nanomq.conf").read_text()
    if kind == "toml":
        path = tmp_path / "nanomq.toml"
        path.write_text((PROJECT / "conf" / "nanomq.toml").read_text())
        settings = load_settings(str(path), environ={})
    else:
        path = tmp_path / "nanomq_old.conf"
        path.write_text((NANOMQ_ETC / "nanomq_old.conf").read_text())
        settings = load_settings(old_conf=str(path), environ={})
    original = path.read_text()
    client = await make_client(settings)
    # NanoMQ's HOCON, written into a file read as TOML or key=value, would never load again.
    reply = await post(client, "/api/v4/config_update", hocon, status=400)
    assert reply["code"] == 117 and path.read_text() == original
    changed = original.replace("8081", "8082")
    assert changed != original
    assert await post(client, "/api/v4/config_update", changed) == {"code": 0}
    assert path.read_text() == changed
    assert await post(client, "/api/v4/reload", {}) == {"code": 0}
    assert client.app[RUNTIME_KEY].settings.http_server.port == 8082


@pytest.mark.parametrize(
    "broken",
    [
        "x = " + "[" * 5000,  # nested past the recursion limit
        'listeners.ssl { bind = "0.0.0.0:8883", keyfile = "/dev/zero" }',  # never ends
        'listeners.ssl { bind = "0.0.0.0:8883", keyfile = "a\\u0000b" }',  # a NUL in a path
    ],
    ids=["deep", "endless keyfile", "nul in keyfile"],
)
async def test_reload_of_a_strange_file_keeps_serving(
    make_client: ClientFactory, tmp_path: Path, broken: str
) -> None:
    toml = broken.startswith("x = ")
    path = tmp_path / ("nanomq.toml" if toml else "nanomq.conf")
    path.write_text("[http_server]\nport = 8081\n" if toml else "http_server { port = 8081 }\n")
    client = await make_client(load_settings(str(path), environ={}))
    path.write_text(broken if toml else "http_server { port = 8082 }\n" + broken)
    response = await client.post("/api/v4/reload", data="{}", headers=AUTH)
    if toml:
        assert response.status == 400 and (await response.json())["code"] == 117
        assert client.app[RUNTIME_KEY].settings.http_server.port == 8081
    else:  # an unreadable TLS file renders as null, as in NanoMQ
        assert response.status == 200, await response.text()
        tls = (await get(client, "/api/v4/configuration/tls"))["data"]["tls"]
        assert tls["key"] is None
    assert (await client.get("/api/v4/brokers", headers=AUTH)).status == 200
