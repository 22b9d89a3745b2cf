"""The OpenAPI document as the tests read it, and a recorder that validates real exchanges.

``Recorder.send`` sends a request to a real server, validates the response with openapi-core
(status documented for the operation, body fitting its schema, required headers there) or, for
paths and methods the document has no operation for, against the document's shared responses,
and records which (operation, status, code) it saw; ``check_coverage`` then says whether every
documented one was seen.
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS31Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.support import BASIC_ADMIN, PROJECT, Client, raw_request

DOCUMENT_PATH = PROJECT / "nanoadmin" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
API = "/api/v4"
UNAUTHENTICATED = {("GET", "/status"), ("GET", "/openapi.json")}

FULL_CONF = """
http_server {
  port = 8081
  username = admin
  password = public
  max_body = 16KB
}
mqtt { max_packet_size = 10MB, keepalive_multiplier = 1.1 }
listeners.tcp.bind = "0.0.0.0:1883"
listeners.ssl { bind = "0.0.0.0:8883", keyfile = "missing.key", key_password = "secret" }
listeners.ws.bind = "0.0.0.0:8083/mqtt"
auth {
  allow_anonymous = true
  password { alice = "a-secret" }
  http_auth {
    enable = true
    auth_req { url = "http://auth.example/auth", method = post,
               headers { content-type = "application/json" }, params { clientid = "%c" } }
  }
}
sqlite { enable = true, mounted_file_path = "/tmp/nanomq" }
rules.repub {
  rules = [ { enabled = true, address = "mqtt-tcp://127.0.0.1:1883", topic = "out", sql = "SELECT * FROM \\"in\\"" } ]
}
bridges.mqtt.emqx {
  server = "mqtt-tcp://broker.example:1883"
  proto_ver = 4
  username = u
  password = "bridge-secret"
  forwards = [ { remote_topic = "fwd/t", local_topic = "t/#", qos = 1 }, { remote_topic = "f2", local_topic = "f2" } ]
  subscription = [ { remote_topic = "cmd/1", local_topic = "c1", qos = 1 } ]
  ssl { keyfile = "bridge.key", certfile = "bridge.crt" }
}
"""


@functools.cache
def openapi_app() -> OpenAPI:
    return OpenAPI.from_dict(load_document())


@functools.cache
def load_document() -> dict[str, Any]:
    """The packaged document, parsed once (callers only read it)."""
    document = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method.upper(), item[method]


def resolve(document: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def schema_errors(document: Mapping[str, Any], schema: Any, instance: object) -> list[str]:
    root = {**schema, "components": document["components"]} if isinstance(schema, dict) else schema
    return [error.message for error in OAS31Validator(root).iter_errors(instance)]


# -- recording and validating real exchanges -------------------------------------------------------


@dataclass
class ClientRequest:
    """openapi-core's Request protocol for a request this test sent."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class ClientResponse:
    """openapi-core's Response protocol for the response the server gave."""

    status_code: int
    data: bytes
    content_type: str
    headers: Headers


@dataclass
class Exchange:
    method: str
    target: str
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _template_regex(template: str) -> re.Pattern[str]:
    parts = [
        "[^/]+" if re.fullmatch(r"\{\w+\}", part) else re.escape(part)
        for part in template.split("/")
    ]
    return re.compile("/".join(parts))


class Recorder:
    """Sends requests, validates each response against the document, and records what it saw."""

    def __init__(self) -> None:
        self.document = load_document()
        self.openapi = openapi_app()
        # Literal templates first, as the server routes.
        self.templates: list[str] = sorted(
            self.document["paths"], key=lambda t: [p.startswith("{") for p in t.split("/")]
        )
        self.regexes = {template: _template_regex(template) for template in self.templates}
        self.seen: dict[tuple[str, str, int], set[int | None]] = defaultdict(set)
        self.count = 0

    def template_for(self, path: str, query: str = "") -> str | None:
        if path == API + "/" and query:
            return None  # NanoMQ: /api/v4/?x=1 is one empty segment, which is 404
        if path.endswith("/") and path != "/":
            path = path[:-1]  # NanoMQ: a trailing slash is the same path
        for template in self.templates:
            if self.regexes[template].fullmatch(path):
                return template
        return None

    async def send(
        self,
        client: Client,
        method: str,
        target: str,
        body: Any = None,
        *,
        auth: str | None = BASIC_ADMIN,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
    ) -> Exchange:
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
        sent = dict(headers or {})
        if auth is not None:
            sent["Authorization"] = auth
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        if raw:
            lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
            lines += [f"{k}: {v}" for k, v in sent.items()]
            lines.append(f"Content-Length: {len(data or b'')}")
            request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (data or b"")
            status, got, payload = await raw_request(client.port, request)
            if status == 204:
                # What an HTTP client reads of a 204: nothing, whatever NanoMQ (and nanoadmin,
                # test_fidelity_values.py) sends with it.
                payload = b""
        else:
            async with client.request(method, target, data=data, headers=sent) as response:
                payload = await response.read()
                status = response.status
                got = {k.lower(): v for k, v in response.headers.items()}
        exchange = Exchange(method, target, status, got, payload)
        self.validate(exchange, data, sent.get("Content-Type", ""))
        return exchange

    def validate(self, exchange: Exchange, data: bytes | None, content_type: str) -> None:
        self.count += 1
        path, _, query = exchange.target.partition("?")
        template = self.template_for(path, query)
        operation = None
        if template is not None:
            operation = self.document["paths"][template].get(exchange.method.lower())
        where = f"{exchange.method} {exchange.target} -> {exchange.status} {exchange.body[:300]!r}"
        if operation is not None and template is not None:
            request = ClientRequest(
                host_url="http://127.0.0.1",
                path=self.concrete(template, path),
                method=exchange.method.lower(),
                body=data,
                content_type=content_type,
                parameters=RequestParameters(query=ImmutableMultiDict(_pairs(query))),
            )
            response = ClientResponse(
                exchange.status,
                exchange.body,
                exchange.headers.get("content-type", ""),
                Headers(list(exchange.headers.items())),
            )
            try:
                self.openapi.validate_response(request, response)
            except Exception as exc:  # openapi-core raises a family of errors; show any of them
                raise AssertionError(f"{where}\n{type(exc).__name__}: {exc}") from exc
            key = (template, exchange.method, exchange.status)
            self.seen[key].add(_code(exchange))
        else:
            self.validate_shared(exchange, template, where)

    @staticmethod
    def concrete(template: str, path: str) -> str:
        """The path as openapi-core should match it (a trailing slash removed)."""
        return path[:-1] if path.endswith("/") and template != path else path

    def validate_shared(self, exchange: Exchange, template: str | None, where: str) -> None:
        """A response to a path or method the document has no operation for."""
        names = {401: "Unauthorized", 404: "UnknownRoute", 405: "MethodNotAllowed"}
        names[413] = "PayloadTooLarge"
        assert exchange.status in names, where
        definition = self.document["components"]["responses"][names[exchange.status]]
        assert exchange.headers.get("content-type") == "application/json", where
        schema = definition["content"]["application/json"]["schema"]
        errors = schema_errors(self.document, schema, exchange.json())
        assert not errors, (where, errors)
        for name, header in definition.get("headers", {}).items():
            header = resolve(self.document, header)
            value = exchange.headers.get(name.lower())
            assert value is not None or not header.get("required"), (where, name)
            if value is not None:
                assert not schema_errors(self.document, header["schema"], value), (where, value)
        if exchange.status == 405:
            allowed = set(exchange.headers["allow"].split(", "))
            if template is not None and template.startswith(API):
                methods = {m.upper() for m in self.document["paths"][template] if m in METHODS}
                assert allowed == methods, (where, methods)
        self.seen[("*", exchange.method, exchange.status)].add(_code(exchange))

    def check_coverage(self) -> None:
        """Every documented (path, method, status) was seen, with every ``code`` it documents.

        Codes of a shared response (``$ref`` to components/responses, e.g. 401's 103/104/116) are
        pooled over all the operations that use it; others must all appear for each operation.
        """
        seen = {key: codes for key, codes in self.seen.items() if key[0] != "*"}
        pools: dict[str, tuple[set[int | None], set[int | None]]] = {}
        missing: list[tuple[str, str, int]] = []
        for path, method, operation in operations(self.document):
            for status_text, reference in operation["responses"].items():
                key = (path, method, int(status_text))
                if key not in seen:
                    missing.append(key)
                    continue
                response = resolve(self.document, reference)
                media = response.get("content", {}).get("application/json")
                codes: set[int | None] = (
                    body_codes(self.document, media["schema"]) if media else {None}
                )
                if "$ref" in reference:
                    documented, observed = pools.setdefault(reference["$ref"], (codes, set()))
                    observed |= seen[key]
                else:
                    assert seen[key] == codes, f"{key}: documented codes {codes}, seen {seen[key]}"
        assert not missing, f"documented but never exercised: {missing}"
        for name, (documented, observed) in pools.items():
            assert observed == documented, f"{name}: documented codes {documented}, seen {observed}"


def _pairs(query: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in query.split("&") if "=" in p]  # type: ignore[misc]


def _code(exchange: Exchange) -> int | None:
    if not exchange.body or exchange.headers.get("content-type") != "application/json":
        return None
    body = exchange.json()
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def body_codes(document: Mapping[str, Any], schema: Any) -> set[int | None]:
    """The values a body's ``code`` may take under ``schema`` (None: a body without one)."""
    schema = resolve(document, schema)
    if not isinstance(schema, dict):
        return {None}
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            return set().union(*(body_codes(document, branch) for branch in schema[keyword]))
    if "allOf" in schema:
        narrowed: set[int | None] | None = None
        for branch in schema["allOf"]:
            branch = resolve(document, branch)
            code = branch.get("properties", {}).get("code") if isinstance(branch, dict) else None
            if code is not None:
                values = _code_values(code)
                narrowed = values if narrowed is None or narrowed == {None} else narrowed & values
        return narrowed if narrowed is not None else {None}
    code = schema.get("properties", {}).get("code")
    return _code_values(code) if code is not None else {None}


def _code_values(code: Mapping[str, Any]) -> set[int | None]:
    if "const" in code:
        return {code["const"]}
    if "enum" in code:
        return set(code["enum"])
    return {None}  # any integer: no specific code promised


# -- the servers the exchanges go to ---------------------------------------------------------------


@dataclass
class Servers:
    full: Client  # Basic, rule engine on, a bridge, max_body 16 KiB
    plain: Client  # Basic, NanoMQ's defaults (engine off, no bridges), the demo clients
    jwt: Client
    nofile: Client  # no config file: /config_update cannot write
    full_conf: Path
