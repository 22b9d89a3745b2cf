"""The OpenAPI document is true of every response a real server gives.

Real requests go through real servers (Basic with rules and a bridge, Basic with NanoMQ's defaults,
JWT, and one without a config file: the ``servers`` fixture), and every response is validated with
openapi-core: the status must be documented for the operation, the body must fit its schema,
required headers must be there. Responses to paths or methods the document does not have (404, 405,
and 401 and 413 before routing) are validated against the document's shared responses. At the end
every documented (operation, status) pair must have been seen, and every documented ``code`` in each
of them. The validating recorder is ``tests.support.openapi.Recorder``; the exchanges, by family, and
what each answer must be are the ``check_*`` steps below, run in order on the same servers.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from nanoadmin.appkeys import MQTT_LISTENER_KEY
from tests.support import BASIC_ADMIN, KeyPair, basic_auth
from tests.support.mqtt import connect_packet
from tests.support.openapi import UNAUTHENTICATED, Exchange, Recorder, Servers, operations


async def check_before_auth(rec: Recorder, servers: Servers) -> None:
    """The unauthenticated extensions; every documented path without credentials (401 before
    routing) and with a body over max_body (413 before auth)."""
    send = rec.send
    full = servers.full
    await send(full, "GET", "/status", auth=None)
    assert (await send(full, "GET", "/openapi.json", auth=None)).json() == rec.document
    big = b"x" * (17 * 1024)
    for path, method, _ in operations(rec.document):
        concrete = path.replace("{action}", "bogus")
        concrete = re.sub(r"\{\w+\}", "x", concrete)
        too_large = await send(full, method, concrete, big, auth=None)
        assert too_large.status == 413
        assert too_large.json()["code"] == 109
        if (method, path) not in UNAUTHENTICATED:
            unauthorized = await send(full, method, concrete, auth=None)
            assert unauthorized.status == 401
            assert unauthorized.json()["code"] == 104
            assert unauthorized.headers["www-authenticate"] == 'Basic realm="nanoadmin"'


async def check_authentication(rec: Recorder, servers: Servers, keypair: KeyPair) -> None:
    """Authentication failures, Basic and JWT."""
    send = rec.send
    full, jwt = servers.full, servers.jwt
    for auth, code in [
        ("Bearer abc", 104),
        ("basic " + BASIC_ADMIN[6:], 104),
        (basic_auth("admin", "wrong"), 103),
        ("Basic YQ", 103),
    ]:
        assert (await send(full, "GET", "/api/v4/brokers", auth=auth)).json()["code"] == code
    bearer = "Bearer " + keypair.token()
    jwt_failures: list[tuple[str | None, int, str]] = [
        (None, 104, 'Bearer realm="nanoadmin"'),
        (BASIC_ADMIN, 104, 'Bearer realm="nanoadmin"'),
        ("Bearer a.b.c", 103, 'Bearer error="invalid_token"'),
        ("Bearer " + keypair.token(iss="other.pub"), 103, 'Bearer error="invalid_token"'),
        ("Bearer " + keypair.token(ttl=-1000), 116, 'Bearer error="invalid_token"'),
    ]
    for jwt_auth, code, challenge in jwt_failures:
        reply = await send(jwt, "GET", "/api/v4/nodes", auth=jwt_auth)
        assert reply.status == 401
        assert reply.json()["code"] == code
        assert reply.headers["www-authenticate"] == challenge
    assert (await send(jwt, "GET", "/api/v4/nodes", auth=bearer)).status == 200
    assert (await send(jwt, "GET", "/api/v4/configuration/http_server", auth=bearer)).json()[
        "data"
    ]["http_server"]["auth_type"] == "jwt"


async def check_unknown_paths_and_methods(rec: Recorder, servers: Servers) -> None:
    """Unknown paths and methods: 401 first, then 404 / 405 with Allow."""
    send = rec.send
    full = servers.full
    assert (await send(full, "GET", "/api/v4/nope", auth=None)).status == 401
    assert (await send(full, "GET", "/api/v4/nope")).status == 404
    assert (await send(full, "GET", "/nope", auth=None)).status == 404
    outside = await send(full, "POST", "/nope", auth=None)
    assert (outside.status, outside.headers["allow"]) == (405, "GET, HEAD")
    script = await send(
        full, "GET", "/api/v4/brokers", auth=None, headers={"Sec-Fetch-Mode": "cors"}
    )
    assert script.status == 401
    assert "www-authenticate" not in script.headers
    assert (await send(full, "POST", "/api/v4/nope", b"x" * (17 * 1024), auth=None)).status == 413
    assert (await send(full, "GET", "/api/v4//brokers", raw=True)).status == 404
    assert (await send(full, "GET", "/api/v4/?x=1", raw=True)).status == 404
    assert (await send(full, "DELETE", "/api/v4")).status == 405
    for method, target, allow in [
        ("PATCH", "/api/v4/brokers", "GET"),
        ("POST", "/api/v4/brokers", "GET"),
        ("DELETE", "/api/v4/configuration", "GET, POST"),
        ("PUT", "/api/v4/clients/x", "GET, DELETE"),
        ("POST", "/api/v4/rules/rule:1", "GET, PUT, DELETE"),
        ("PATCH", "/api/v4/nope", "GET, POST, PUT, DELETE"),
    ]:
        reply = await send(full, method, target)
        assert reply.status == 405
        assert reply.headers["allow"] == allow


async def check_information(rec: Recorder, servers: Servers) -> None:
    """Information: the index and /brokers in every spelling, nodes, topic tree, metrics."""
    send = rec.send
    full, plain = servers.full, servers.plain
    for server in (full, plain):
        for target in ("/api/v4", "/api/v4/", "/api/v4?x=1", "/api/v4/brokers", "/api/v4/brokers/"):
            assert (await send(server, "GET", target)).status == 200
        await send(server, "GET", "/api/v4/nodes")
        await send(server, "GET", "/api/v4/topic-tree")
        await send(server, "GET", "/api/v4/metrics")
        await send(server, "GET", "/api/v4/prometheus")


async def check_clients_and_subscriptions(rec: Recorder, servers: Servers) -> None:
    """Clients and subscriptions: filters, paging, errors."""
    send = rec.send
    plain = servers.plain
    for target in [
        "/api/v4/clients",
        "/api/v4/clients?conn_state=Disconnected&clean_start=FALSE",
        "/api/v4/clients?proto_name=MQTT&proto_ver=5&username=ops&client_id=dashboard-ops",
        "/api/v4/clients?_page=2&_limit=2",
        "/api/v4/clients?_page=&conn_state=",
        "/api/v4/clients/gateway-site1",
        "/api/v4/clients/gateway-site1?_limit=1",
        "/api/v4/clients/meter-legacy-07",
        "/api/v4/clients/no-such-client",
        "/api/v4/clients/username/ops",
        "/api/v4/clients/username/ops?_page=1",
        "/api/v4/subscriptions",
        "/api/v4/subscriptions?_page=2&_limit=3&ignored=1",
        "/api/v4/subscriptions/dashboard-ops",
        "/api/v4/subscriptions/dashboard-ops?_limit=1",
    ]:
        assert (await send(plain, "GET", target)).status == 200, target
    for target in [
        "/api/v4/clients?bogus=1",
        "/api/v4/clients?_page=1&_limit=10&ip_address=x",
        "/api/v4/clients?conn_state=idle",
        "/api/v4/clients?clean_start=maybe",
        "/api/v4/clients?proto_ver=6",
        "/api/v4/clients/x?_page=0",
        "/api/v4/clients/username/ops?_limit=100001",
        "/api/v4/subscriptions?_page=abc",
        "/api/v4/subscriptions/x?_limit=-1",
    ]:
        reply = await send(plain, "GET", target)
        assert reply.status == 400, target
        assert reply.json()["code"] == 108, target


async def check_mqtt(rec: Recorder, servers: Servers) -> None:
    """MQTT over HTTP: publish, subscribe and unsubscribe, one at a time and in batches."""
    send = rec.send
    full = servers.full
    publishes: list[Any] = [
        {"topic": "sensors/room9/temp", "payload": "1", "qos": 1, "retain": True},
        {"topics": "a/1,,a/2", "payload": "aGk=", "decoding": "base64", "clientid": "me"},
        {
            "topic": "a/3",
            "payload": "p",
            "encoding": "base64",
            "properties": {"user_properties": {"k": "v", "n": 1, "b": True}, "content_type": "t"},
        },
        {"topic": "a/+", "payload": "x"},
        {"payload": "x"},
        {"topic": "a", "payload": "x", "qos": 3},
    ]
    for body in publishes:
        assert (await send(full, "POST", "/api/v4/mqtt/publish", body)).status == 200
    for bad in ("[]", "", "{bad", "12"):
        assert (await send(full, "POST", "/api/v4/mqtt/publish", bad)).status == 400
    batch = await send(full, "POST", "/api/v4/mqtt/publish_batch", [*publishes, "junk"])
    assert [r["code"] for r in batch.json()["data"]] == [0, 0, 0, 108, 108, 108, 108]
    assert (await send(full, "POST", "/api/v4/mqtt/publish_batch", {})).status == 400
    for action in ("subscribe", "unsubscribe"):
        for body, code in [
            ({"topic": "x/#", "clientid": "ref-sub-1", "qos": 2}, 0),
            ({"topics": "y/1,y/2", "clientid": "ref-sub-1"}, 0),
            ({"topic": "x/#/y", "clientid": "ref-sub-1"}, 108),
            ({"topic": "x"}, 108),
            ({"topic": "x", "clientid": "ghost"}, 112),
        ]:
            reply = await send(full, "POST", f"/api/v4/mqtt/{action}", body)
            assert reply.json()["code"] == code, (action, body)
        assert (await send(full, "POST", f"/api/v4/mqtt/{action}", "[1]")).status == 400
        items = [{"topic": "q/1", "clientid": "ref-sub-1"}, {"topic": "q", "clientid": "no"}, 5]
        reply = await send(full, "POST", f"/api/v4/mqtt/{action}_batch", items)
        assert [r["code"] for r in reply.json()["data"]] == [0, 112, 108]
        assert (await send(full, "POST", f"/api/v4/mqtt/{action}_batch", {})).status == 400


async def check_rules(rec: Recorder, servers: Servers) -> None:
    """Rules: engine on (full) and off (plain)."""
    send = rec.send
    full, plain = servers.full, servers.plain
    body: Any
    rule = {
        "rawsql": 'SELECT * FROM "a"',
        "actions": [{"name": "sqlite", "params": {"table": "t"}}],
    }
    assert (await send(full, "POST", "/api/v4/rules", rule)).status == 200
    for body, code in [
        (rule, 108),
        ({"rawsql": "x", "actions": [{"name": "kafka"}]}, 111),
        ({"rawsql": "x", "actions": [{"name": "repub", "params": {}}]}, 107),
        ({"rawsql": "x", "actions": [{"name": "sqlite", "params": {"table": "u", "x": 1}}]}, 108),
        ("nope", 109),
    ]:
        reply = await send(full, "POST", "/api/v4/rules", body)
        assert reply.status == 400, body
        assert reply.json()["code"] == code, body
    await send(full, "GET", "/api/v4/rules")
    await send(full, "GET", "/api/v4/rules/rule:1")
    assert (await send(full, "GET", "/api/v4/rules/rule:99")).status == 400
    assert (await send(full, "GET", "/api/v4/rules/1")).status == 400
    assert (await send(full, "PUT", "/api/v4/rules/rule:2", {"enabled": False})).status == 200
    for target, body, code in [
        ("/api/v4/rules/rule:99", {}, 108),
        ("/api/v4/rules/rule:1", "x", 109),
        ("/api/v4/rules/rule:1", {"actions": [{"name": "kafka"}]}, 111),
        ("/api/v4/rules/rule:1", {"actions": []}, 107),
    ]:
        reply = await send(full, "PUT", target, body)
        assert reply.status == 400, (target, body)
        assert reply.json()["code"] == code, (target, body)
    assert (await send(full, "DELETE", "/api/v4/rules/rule:2")).status == 200
    assert (await send(full, "DELETE", "/api/v4/rules/rule:2")).status == 400
    for method, target, body in [
        ("GET", "/api/v4/rules", None),
        ("GET", "/api/v4/rules/rule:1", None),
        ("POST", "/api/v4/rules", {}),
        ("PUT", "/api/v4/rules/rule:1", {}),
        ("DELETE", "/api/v4/rules/rule:1", None),
    ]:
        assert (await send(plain, method, target, body)).json()["code"] == 111
    assert (await send(plain, "POST", "/api/v4/rules", "[]")).status == 400


async def check_bridges(rec: Recorder, servers: Servers) -> None:
    """Bridges: read, replace (MQTT v5), switch, subscribe, unsubscribe, delete."""
    send = rec.send
    full, plain = servers.full, servers.plain
    await send(full, "GET", "/api/v4/bridges")
    await send(full, "GET", "/api/v4/bridges/emqx")
    await send(full, "GET", "/api/v4/bridges/nope")
    await send(plain, "GET", "/api/v4/bridges")
    assert (await send(full, "GET", "/api/v4/metrics")).json()["metrics"]
    v5 = {
        "emqx": {
            "server": "mqtt-tcp://h:1",
            "proto_ver": 5,
            "clientid": "c",
            "keepalive": "30s",
            "conn_properties": {"session_expiry_interval": 10},
            "will_properties": {"content_type": "t"},
            "sub_properties": {"identifier": 1},
            "forwards": [{"remote_topic": "r", "local_topic": "l", "prefix": "p/", "suffix": "/s"}],
            "ssl": {"enable": True, "keyfile": "k.pem", "key_password": "pw"},
        }
    }
    assert (await send(full, "PUT", "/api/v4/bridges/emqx", v5)).status == 200
    await send(full, "GET", "/api/v4/configuration/bridge")
    for method, target, body, status in [
        ("PUT", "/api/v4/bridges/nope", {"nope": {}}, 404),
        ("PUT", "/api/v4/bridges/emqx", {"other": {}}, 400),
        ("PUT", "/api/v4/bridges/emqx", "x", 400),
        ("POST", "/api/v4/bridges/switch/emqx", {"data": {"bridge_switch": True}}, 200),
        ("POST", "/api/v4/bridges/switch/nope", {"data": {"bridge_switch": True}}, 204),
        ("POST", "/api/v4/bridges/switch/emqx", {"data": {}}, 400),
        ("POST", "/api/v4/bridges/switch/emqx", "x", 400),
        (
            "POST",
            "/api/v4/bridges/sub/emqx",
            {
                "data": {
                    "subscription": [
                        {"remote_topic": "cmd/2", "local_topic": "c2", "qos": 2},
                        {"remote_topic": 1},
                    ]
                }
            },
            200,
        ),
        ("POST", "/api/v4/bridges/sub/nope", {"data": {"subscription": []}}, 404),
        ("POST", "/api/v4/bridges/sub/nope", {"data": {}}, 400),
        ("POST", "/api/v4/bridges/sub/emqx", {"data": 5}, 400),
        (
            "POST",
            "/api/v4/bridges/unsub/emqx",
            {"data": {"unsubscription": [{"topic": "cmd/2"}]}},
            200,
        ),
        ("POST", "/api/v4/bridges/unsub/nope", {"data": {"unsubscription": []}}, 404),
        ("POST", "/api/v4/bridges/unsub/nope", {"data": {}}, 400),
        ("POST", "/api/v4/bridges/unsub/emqx", "x", 400),
        ("POST", "/api/v4/bridges/switch/emqx", {"data": {"bridge_switch": False}}, 200),
        ("POST", "/api/v4/bridges/unsub/emqx", {"data": {"unsubscription": []}}, 404),
        ("DELETE", "/api/v4/bridges/emqx", None, 200),
        ("DELETE", "/api/v4/bridges/emqx", None, 404),
    ]:
        # NanoMQ's 204 carries a body, which aiohttp's client refuses: that one goes raw.
        reply = await send(full, method, target, body, raw=status == 204)
        assert reply.status == status, (method, target, body, reply.body)


async def check_configuration(rec: Recorder, servers: Servers) -> None:
    """Configuration: every section read, posted and refused; reload; config_update."""
    send = rec.send
    full, plain, nofile = servers.full, servers.plain, servers.nofile
    for server in (full, plain):
        await send(server, "GET", "/api/v4/configuration")
        for section in ("basic", "tls", "auth", "auth_http", "websocket", "http_server", "sqlite"):
            await send(server, "GET", f"/api/v4/configuration/{section}")
        for section in ("webhook", "aws_bridge", "nope"):
            reply = await send(server, "GET", f"/api/v4/configuration/{section}")
            assert reply.status == 404
            assert reply.json()["data"] == {}
        await send(server, "GET", "/api/v4/reload")
    changes = {
        "data": {
            "basic": {
                "msq_len": 4096,
                "allow_anonymous": False,
                "url": 5,
                "keepalive_backoff": 1e308,
            },
            "tls": {"keypass": "x", "enable": True},
            "auth": [{"username": "u", "password": "p"}, {"username": "v"}],
            "websocket": {"url": "nmq-ws://0.0.0.0:9/mqtt"},
            "sqlite": {"disk_cache_size": 5},
            "http_server": {"port": 9999},
        }
    }
    assert (await send(plain, "POST", "/api/v4/configuration", changes)).json() == {"code": 0}
    assert (await send(plain, "GET", "/api/v4/reload")).json()["data"]["keepalive_backoff"] is None
    await send(plain, "GET", "/api/v4/configuration")
    for target, body, status in [
        ("/api/v4/configuration", {}, 200),
        ("/api/v4/configuration", {"data": []}, 200),
        ("/api/v4/configuration/basic", {"data": {"basic": {"qos_duration": 5}}}, 200),
        ("/api/v4/configuration/nonexistent", {"data": {"x": 1}}, 200),
        ("/api/v4/configuration", "{", 400),
        ("/api/v4/configuration/tls", "[]", 400),
        ("/api/v4/configuration", {"data": {"http_server": {"auth_type": "jwt"}}}, 400),
        ("/api/v4/configuration/http_server", {"data": {"http_server": {"auth_type": "jwt"}}}, 400),
    ]:
        assert (await send(plain, "POST", target, body)).status == status, (target, body)
    assert (
        await send(full, "POST", "/api/v4/reload", {"data": {"msq_len": 7, "x": 1}})
    ).status == 200
    assert (await send(full, "POST", "/api/v4/reload", "not json")).status == 400
    original = servers.full_conf.read_text()
    servers.full_conf.write_text("http_server { port = [ }")
    reply = await send(full, "POST", "/api/v4/reload", {})
    assert reply.status == 400
    assert reply.json()["code"] == 117
    servers.full_conf.write_text(original)
    for body, status, code in [
        (original, 200, 0),
        ("http_server { port = [ }", 400, 117),
        ("", 400, 117),
        (b"\xff", 400, 117),
    ]:
        headers = {"Content-Type": "text/plain"}
        reply = await send(full, "POST", "/api/v4/config_update", body, headers=headers)
        assert (reply.status, reply.json()["code"]) == (status, code), body
    reply = await send(nofile, "POST", "/api/v4/config_update", original)
    assert reply.json()["code"] == 118


async def check_test_double(rec: Recorder, servers: Servers) -> None:
    """The control API: journal, faults, clock, state, mock clients, each refusal."""
    send = rec.send
    full = servers.full
    control = "/_nanoadmin/v1"
    assert (await send(full, "GET", control)).json()["data"]["journal_size"] == 1000
    assert (await send(full, "GET", f"{control}/")).status == 200
    entries = (await send(full, "GET", f"{control}/requests?method=GET&path=/api/v4*")).json()
    assert entries["data"]
    assert (await send(full, "GET", f"{control}/requests?status=700")).status == 400
    assert (await send(full, "DELETE", f"{control}/requests")).status == 200
    rule = {"match": {"path": "/nodes"}, "error": {"status": 503, "code": 102}, "times": 1}
    assert (
        await send(full, "PUT", f"{control}/faults", {"seed": 1, "rules": [rule]})
    ).status == 200
    # A faulted answer is whatever its rule says, which the document does not describe.
    faulted = await full.get("/api/v4/nodes", headers={"Authorization": BASIC_ADMIN})
    assert faulted.status == 503
    drop = {"match": {"path": "/metrics"}, "delay_ms": [1, 2], "drop": True}
    assert (await send(full, "POST", f"{control}/faults", drop)).status == 200
    assert (await send(full, "GET", f"{control}/faults")).json()["data"]["rules"][0]["fired"] == 1
    for body, code in (("{", 109), ({"rules": [{"drop": True}]}, 107), ({"x": 1}, 108)):
        refused = await send(full, "PUT", f"{control}/faults", body)
        assert (refused.status, refused.json()["code"]) == (400, code)
    assert (await send(full, "POST", f"{control}/faults", {"match": {}})).status == 400
    assert (await send(full, "DELETE", f"{control}/faults/1")).status == 200
    assert (await send(full, "DELETE", f"{control}/faults/5")).status == 404
    assert (await send(full, "DELETE", f"{control}/faults")).status == 200
    assert (await send(full, "GET", f"{control}/clock")).json()["data"]["offset_s"] == 0
    assert (await send(full, "PUT", f"{control}/clock", {"offset_s": 30})).status == 200
    assert (await send(full, "PUT", f"{control}/clock", {"offset_s": "x"})).status == 400
    state = (await send(full, "GET", f"{control}/state")).json()["data"]
    assert (await send(full, "PUT", f"{control}/state", state)).status == 200
    assert (await send(full, "PUT", f"{control}/state", {"clients": 1})).status == 400
    assert (await send(full, "PUT", f"{control}/state", "[")).status == 400
    mock = {"client_id": "mock-1", "subscriptions": [{"topic": "m/#", "qos": 1}]}
    assert (await send(full, "POST", f"{control}/clients", mock)).status == 200
    assert (await send(full, "POST", f"{control}/clients", mock)).json()["code"] == 108
    assert (await send(full, "POST", f"{control}/clients", b"{")).json()["code"] == 109
    for action in ("disconnect", "connect"):
        assert (await send(full, "POST", f"{control}/clients/mock-1/{action}")).status == 200
        assert (await send(full, "POST", f"{control}/clients/ghost/{action}")).status == 404
    assert isinstance(full.server, TestServer)
    port = full.server.app[MQTT_LISTENER_KEY].port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(connect_packet("live-1"))
    assert (await reader.readexactly(4))[:2] == b"\x20\x02"
    for action in ("disconnect", "connect"):
        held = await send(full, "POST", f"{control}/clients/live-1/{action}")
        assert (held.status, held.json()["code"]) == (409, 108)
    writer.close()
    assert (await send(full, "POST", f"{control}/reset")).status == 200


async def check_kick_and_control(rec: Recorder, servers: Servers) -> None:
    """Kick, then control (last: stop ends the server's serving loop)."""
    send = rec.send
    full, plain = servers.full, servers.plain
    assert (await send(full, "DELETE", "/api/v4/clients/ref-pubsub-2")).status == 200
    assert (await send(full, "DELETE", "/api/v4/clients/ref-pubsub-2")).status == 404
    assert (await send(full, "POST", "/api/v4/ctrl/bogus")).status == 404
    assert (await send(full, "POST", "/api/v4/ctrl/RESTART", "ignored")).status == 200
    assert (await send(plain, "POST", "/api/v4/ctrl/stop")).status == 200


async def test_every_response_matches_the_document(servers: Servers, keypair: KeyPair) -> None:
    """Each step's exchanges are validated as they happen, in this order, on the same servers;
    then every documented (operation, status) pair must have been seen, with every code."""
    rec = Recorder()
    await check_before_auth(rec, servers)
    await check_authentication(rec, servers, keypair)
    await check_unknown_paths_and_methods(rec, servers)
    await check_information(rec, servers)
    await check_clients_and_subscriptions(rec, servers)
    await check_mqtt(rec, servers)
    await check_rules(rec, servers)
    await check_bridges(rec, servers)
    await check_configuration(rec, servers)
    await check_test_double(rec, servers)
    await check_kick_and_control(rec, servers)

    # Every documented status of every operation was seen, with every code it documents.
    rec.check_coverage()
    shared = {(method, status) for (path, method, status) in rec.seen if path == "*"}
    assert {status for _, status in shared} == {401, 404, 405, 413}
    assert rec.count > 250


@pytest.mark.parametrize(
    ("method", "target", "status", "headers", "body"),
    [
        ("GET", "/api/v4/brokers", 200, {}, b'{"code":0,"data":[]}'),  # one broker, always
        ("GET", "/api/v4/nodes", 200, {}, b'{"code":0,"message":"no","data":[]}'),  # no message
        # WWW-Authenticate is optional (not sent to a page's script): a bad one is caught.
        (
            "GET",
            "/api/v4/brokers",
            401,
            {"www-authenticate": "Digest"},
            b'{"code":104,"message":"m"}',
        ),
        ("GET", "/api/v4/brokers", 401, {}, b'{"code":108,"message":"m"}'),  # not a 401 code
        ("GET", "/api/v4/brokers", 418, {}, b'{"code":104,"message":"m"}'),  # undocumented status
        ("GET", "/api/v4/metrics", 200, {}, b'{"code":0}'),  # /metrics has no code
        ("GET", "/api/v4/prometheus", 200, {"content-type": "application/json"}, b"{}"),
        ("POST", "/api/v4/mqtt/publish", 200, {}, b'{"code":109,"message":"m"}'),
        ("GET", "/api/v4/configuration/basic", 404, {}, b'{"code":101,"message":"m"}'),  # data
        ("PATCH", "/api/v4/brokers", 405, {}, b'{"code":102,"message":"m"}'),  # no Allow
        ("PATCH", "/api/v4/brokers", 405, {"allow": "GET, POST"}, b'{"code":102,"message":"m"}'),
        ("GET", "/api/v4/nope", 404, {}, b'{"code":101,"message":"m"}'),
    ],
)
def test_the_validation_catches_a_wrong_response(
    method: str, target: str, status: int, headers: dict[str, str], body: bytes
) -> None:
    """The adapters really validate: a response that breaks the document fails."""
    exchange = Exchange(
        method, target, status, {"content-type": "application/json", **headers}, body
    )
    with pytest.raises(AssertionError):
        Recorder().validate(exchange, None, "")
