"""The OpenAPI document: valid, complete, and true of every response a real server gives.

The document is checked three ways:

- it is a valid OpenAPI 3.1 document (openapi-spec-validator) whose examples fit their schemas;
- its operations are exactly the routes the server has (``nanoadmin.api.ROUTES`` plus the two
  unauthenticated extensions), so a route added without documentation fails here;
- real requests go through real servers (Basic with rules and a bridge, Basic with NanoMQ's defaults,
  JWT, and one without a config file), and every response is validated with openapi-core: the
  status must be documented for the operation, the body must fit its schema, required headers must be
  there. Responses to paths or methods the document does not have (404, 405, and 401 and 413 before
  routing) are validated against the document's shared responses. At the end every documented
  (operation, status) pair must have been seen, and every documented ``code`` in each of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_spec_validator import validate as validate_spec

from nanoadmin.api import ROUTES
from nanoadmin.api.openapi import openapi_document
from nanoadmin.app import create_app
from nanoadmin.config import ConfigError
from nanoadmin.settings import load_settings
from tests.support import BASIC_ADMIN, KeyPair, basic_auth, basic_settings
from tests.support.openapi import (
    API,
    UNAUTHENTICATED,
    Exchange,
    Recorder,
    Servers,
    load_document,
    operations,
    resolve,
    schema_errors,
)

# -- the document itself ---------------------------------------------------------------------------


def test_document_is_valid_openapi_3_1() -> None:
    document = load_document()
    assert document["openapi"].startswith("3.1.")
    validate_spec(document)
    OpenAPI.from_dict(document)  # openapi-core's own checks


def test_document_version_is_the_package_version() -> None:
    from nanoadmin import __version__

    assert load_document()["info"]["version"] == __version__


def test_served_document_is_the_packaged_one() -> None:
    assert openapi_document() == load_document()


def iter_schemas(node: object, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from iter_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from iter_schemas(value, f"{where}/{index}")


def test_patterns_compile_and_examples_fit_their_schemas() -> None:
    document = load_document()
    for where, node in iter_schemas(document):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and "/schema" in where:
            re.compile(pattern)
    for path, method, operation in operations(document):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            if "example" in media:
                errors = schema_errors(document, media["schema"], media["example"])
                assert not errors, (method, path, errors)


def documented_route(method: str, pattern: str) -> tuple[str, str]:
    return method, API + ("" if pattern == "/" else pattern)


def test_every_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    document = load_document()
    routes = {documented_route(method, pattern) for method, pattern, _ in ROUTES}
    documented = {(method, path) for path, method, _ in operations(document)}
    assert routes | UNAUTHENTICATED == documented
    # Outside /api/v4 the app has exactly the unauthenticated extensions and the catch-all;
    # inside, the plain routes it registers for literal paths are documented routes.
    app = create_app(basic_settings(tmp_path))
    registered = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical != "/{tail}"
    }
    inside = {route for route in registered if route[1].startswith(API + "/")}
    assert registered - inside == UNAUTHENTICATED
    assert inside and inside <= routes
    # Path parameters: declared exactly for the {names} in the path, and required.
    for path, method, operation in operations(document):
        params = document["paths"][path].get("parameters", []) + operation.get("parameters", [])
        resolved = [resolve(document, p) for p in params]
        in_path = {p["name"] for p in resolved if p["in"] == "path"}
        assert in_path == set(re.findall(r"\{(\w+)\}", path)), (method, path)
        assert all(p["required"] for p in resolved if p["in"] == "path")


def test_every_api_operation_documents_401_and_413_and_auth() -> None:
    document = load_document()
    schemes = document["components"]["securitySchemes"]
    assert schemes["basicAuth"] == {**schemes["basicAuth"], "type": "http", "scheme": "basic"}
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert document["security"] == [{"basicAuth": []}, {"bearerAuth": []}]
    for path, method, operation in operations(document):
        responses = operation["responses"]
        assert "413" in responses, (method, path)
        if (method, path) in UNAUTHENTICATED:
            assert operation["security"] == []
        else:
            assert "security" not in operation
            assert responses["401"] == {"$ref": "#/components/responses/Unauthorized"}


async def test_every_response_matches_the_document(servers: Servers, keypair: KeyPair) -> None:
    rec = Recorder()
    full, plain, jwt, nofile = servers.full, servers.plain, servers.jwt, servers.nofile
    send = rec.send

    # Unauthenticated extensions, and every operation without credentials (401 before routing),
    # and with a body over max_body (413 before auth), on every documented path.
    await send(full, "GET", "/status", auth=None)
    assert (await send(full, "GET", "/openapi.json", auth=None)).json() == rec.document
    big = b"x" * (17 * 1024)
    for path, method, _ in operations(rec.document):
        concrete = path.replace("{action}", "bogus")
        concrete = re.sub(r"\{\w+\}", "x", concrete)
        too_large = await send(full, method, concrete, big, auth=None)
        assert too_large.status == 413 and too_large.json()["code"] == 109
        if (method, path) not in UNAUTHENTICATED:
            unauthorized = await send(full, method, concrete, auth=None)
            assert unauthorized.status == 401 and unauthorized.json()["code"] == 104
            assert unauthorized.headers["www-authenticate"] == 'Basic realm="nanoadmin"'

    # Authentication failures, Basic and JWT.
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
        assert reply.status == 401 and reply.json()["code"] == code
        assert reply.headers["www-authenticate"] == challenge
    assert (await send(jwt, "GET", "/api/v4/nodes", auth=bearer)).status == 200
    assert (await send(jwt, "GET", "/api/v4/configuration/http_server", auth=bearer)).json()[
        "data"
    ]["http_server"]["auth_type"] == "jwt"

    # Unknown paths and methods: 401 first, then 404 / 405 with Allow.
    assert (await send(full, "GET", "/api/v4/nope", auth=None)).status == 401
    assert (await send(full, "GET", "/api/v4/nope")).status == 404
    assert (await send(full, "GET", "/nope", auth=None)).status == 404
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
        assert reply.status == 405 and reply.headers["allow"] == allow

    # Information.
    for server in (full, plain):
        for target in ("/api/v4", "/api/v4/", "/api/v4?x=1", "/api/v4/brokers", "/api/v4/brokers/"):
            assert (await send(server, "GET", target)).status == 200
        await send(server, "GET", "/api/v4/nodes")
        await send(server, "GET", "/api/v4/topic-tree")
        await send(server, "GET", "/api/v4/metrics")
        await send(server, "GET", "/api/v4/prometheus")

    # Clients and subscriptions: filters, paging, errors.
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
        assert reply.status == 400 and reply.json()["code"] == 108, target

    # MQTT over HTTP.
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

    # Rules: engine on (full) and off (plain).
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
        assert reply.status == 400 and reply.json()["code"] == code, body
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
        assert reply.status == 400 and reply.json()["code"] == code, (target, body)
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

    # Bridges.
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
        ("POST", "/api/v4/bridges/sub/nope", {"data": {}}, 404),
        ("POST", "/api/v4/bridges/sub/emqx", {"data": 5}, 400),
        (
            "POST",
            "/api/v4/bridges/unsub/emqx",
            {"data": {"unsubscription": [{"topic": "cmd/2"}]}},
            200,
        ),
        ("POST", "/api/v4/bridges/unsub/nope", {"data": {}}, 404),
        ("POST", "/api/v4/bridges/unsub/emqx", "x", 400),
        ("POST", "/api/v4/bridges/switch/emqx", {"data": {"bridge_switch": False}}, 200),
        ("POST", "/api/v4/bridges/unsub/emqx", {"data": {}}, 404),
        ("DELETE", "/api/v4/bridges/emqx", None, 200),
        ("DELETE", "/api/v4/bridges/emqx", None, 404),
    ]:
        reply = await send(full, method, target, body)
        assert reply.status == status, (method, target, body, reply.body)

    # Configuration.
    for server in (full, plain):
        await send(server, "GET", "/api/v4/configuration")
        for section in ("basic", "tls", "auth", "auth_http", "websocket", "http_server", "sqlite"):
            await send(server, "GET", f"/api/v4/configuration/{section}")
        for section in ("webhook", "aws_bridge", "nope"):
            reply = await send(server, "GET", f"/api/v4/configuration/{section}")
            assert reply.status == 404 and reply.json()["data"] == {}
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
    assert reply.status == 400 and reply.json()["code"] == 117
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

    # Kick, then control (last: stop ends the server's serving loop).
    assert (await send(full, "DELETE", "/api/v4/clients/ref-pubsub-2")).status == 200
    assert (await send(full, "DELETE", "/api/v4/clients/ref-pubsub-2")).status == 404
    assert (await send(full, "POST", "/api/v4/ctrl/bogus")).status == 404
    assert (await send(full, "POST", "/api/v4/ctrl/RESTART", "ignored")).status == 200
    assert (await send(plain, "POST", "/api/v4/ctrl/stop")).status == 200

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
        ("GET", "/api/v4/brokers", 401, {}, b'{"code":104,"message":"m"}'),  # no WWW-Authenticate
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


# -- bugs in code this file does not own -----------------------------------------------------------


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


async def test_huge_numbers_in_a_bridge_do_not_break_the_reads(servers: Servers) -> None:
    auth = {"Authorization": BASIC_ADMIN}
    body = json.dumps({"emqx": {"max_parallel_processes": 1e30, "keepalive": 1e30}})
    put = await servers.full.put("/api/v4/bridges/emqx", data=body, headers=auth)
    assert put.status in (200, 400)
    for target in ("/api/v4/bridges", "/api/v4/bridges/emqx", "/api/v4/configuration"):
        assert (await servers.full.get(target, headers=auth)).status == 200, target


def test_a_config_number_beyond_64_bits_fails_at_load_time(tmp_path: Path) -> None:
    from nanoadmin.runtime import load

    conf = tmp_path / "nanomq.conf"
    conf.write_text("http_server { port = 8081 }\nmqtt.property_size = 100000000000000000000\n")
    with pytest.raises(ConfigError, match=r"nanomq.conf:2: mqtt.property_size has value"):
        load(load_settings(str(conf), environ={}), scenario=None)


async def test_config_update_errors_do_not_echo_substituted_values(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NANOADMIN_TEST_SECRET", "s3cr3t-from-the-environment")
    response = await servers.full.post(
        "/api/v4/config_update",
        data="http_server { port = ${NANOADMIN_TEST_SECRET} }",
        headers={"Authorization": BASIC_ADMIN},
    )
    # NanoMQ drops ${...} substitutions; so does nanoadmin, so nothing is read back.
    reply = await response.text()
    assert response.status in (200, 400)
    assert "s3cr3t-from-the-environment" not in reply
    (servers.full_conf.parent / "nanomq_pwd.conf").write_text('"admin": "pwd-file-secret"\n')
    included = await servers.full.post(
        "/api/v4/config_update",
        data='http_server { password = { include "nanomq_pwd.conf" } }',
        headers={"Authorization": BASIC_ADMIN},
    )
    assert included.status == 400 and "pwd-file-secret" not in await included.text()
