"""Write tests/fixtures/fidelity/nanomq-answers.jsonl: generated requests and the answer
NanoMQ 0.25.6's source says each gets, with what nanoadmin answers where it differs on
purpose (docs/compatibility.md). Run it from the project folder:

    .venv/bin/python -m tests.support.fidelity_corpus

The answers come from a model of NanoMQ written here from its sources, not from nanoadmin:
nng's handler choice (nanomq/NanoNNG src/supplemental/http/http_server.c http_uri_canonify
and the handler loop), NanoMQ's reading of the raw target (nanomq/nanomq rest_api.c
uri_parse, uri_parse_tree) and its routes (process_request), Basic auth as 0.25.6 checks it
(basic_authorize, nng's lenient base64), and JWT answers worked out from l8w8jwt's
l8w8jwt_decode for each token recipe (GlitchedPolygons/l8w8jwt src/decode.c). Each line:

    {"id", "server": "basic"|"jwt", "method", "target", "headers", "body",
     "token": {"header", "payload", "suffix"} | null, "nanomq": {"status", "code", "headers"},
     "expect": {...} (what nanoadmin answers), "differences": ["D9", ...], "source"}

``code`` is the JSON body's code, or null (an HTML page, /metrics, /prometheus, a HEAD).
Token recipes hold {iss}, {soon} (an hour ahead), {past} (1000 s ago) and {grace} (100 s ago):
the replay signs them with its own key. ``tests/test_fidelity_corpus.py`` replays the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent.parent / "fixtures" / "fidelity" / "nanomq-answers.jsonl"
BASIC = "Basic YWRtaW46cHVibGlj"  # admin:public
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
API = "/api/v4"

# -- nng: which handler -----------------------------------------------------------------------


def nng_path(target: str) -> str:
    """http_uri_canonify: query cut, absolute-form host dropped, %XX decoded, %00 ends it."""
    path = target.split("?", 1)[0]
    if path.lower().startswith(("http://", "https://")):
        rest = path[path.index(":") + 3 :]
        path = rest[rest.index("/") :] if "/" in rest else "/"
    out, index = [], 0
    while index < len(path):
        char = path[index]
        hexes = path[index + 1 : index + 3]
        if char == "%" and len(hexes) == 2 and all(c in "0123456789abcdefABCDEF" for c in hexes):
            decoded = chr(int(hexes, 16))
            if decoded == "\0":
                break
            out.append(decoded)
            index += 3
        else:
            out.append(char)
            index += 1
    return "".join(out) or "/"


def to_rest_handler(target: str) -> bool:
    """The handler loop: strncmp(path, "/api/v4", 7) and path[7] is NUL or "/" (a tree)."""
    path = nng_path(target)
    return path.startswith(API) and (len(path) == len(API) or path[len(API)] == "/")


# -- NanoMQ: segments and routes --------------------------------------------------------------


def nodes(uri: str) -> list[str]:
    """uri_parse + uri_parse_tree: the sub_tree nodes of a raw target."""
    if uri in (API, API + "/"):
        return []
    path = uri.split("?", 1)[0]
    at = path.find(API)
    if at < 0:
        return []
    rest = path[at + len(API) :]
    found: list[str] = []
    while "/" in rest:
        piece, rest = rest.split("/", 1)
        found.append(piece)
    if found and rest:
        found.append(rest)
    return found


GET_2 = {
    "brokers",
    "nodes",
    "prometheus",
    "metrics",
    "clients",
    "subscriptions",
    "rules",
    "topic-tree",
    "reload",
    "configuration",
    "bridges",
}
GET_3 = {"clients", "subscriptions", "rules", "configuration", "bridges"}
SECTIONS = {"basic", "tls", "auth", "auth_http", "websocket", "http_server", "sqlite", "bridge"}


def route(method: str, found: list[str]) -> str | None:
    """process_request: the endpoint a method and nodes reach (node 0 is never looked at)."""
    count = len(found)
    second = found[1] if count > 1 else None
    third = found[2] if count > 2 else None
    if method == "GET":
        if count == 0:
            return "index"
        if count == 2 and second in GET_2:
            return second
        if count == 3 and second in GET_3:
            return f"{second}/id"
        if count == 4 and second == "clients" and third == "username":
            return "clients/username"
    elif method == "POST":
        if count == 3 and second == "ctrl":
            return "ctrl"
        if count == 2 and second in ("reload", "configuration", "config_update", "rules"):
            return f"post {second}"
        if count == 3 and second == "configuration":
            return "post configuration"
        if count == 3 and second == "mqtt" and third in ("publish", "publish_batch"):
            return "publish"
        if count == 4 and second == "bridges" and third in ("sub", "unsub", "switch"):
            return f"bridges {third}"
    elif method == "PUT":
        if count == 3 and second in ("rules", "bridges"):
            return f"put {second}"
    elif method == "DELETE":
        if count == 3 and second == "rules":
            return "delete rules"
    return None


# What each GET endpoint answers on the corpus server (no rule engine, no bridges).
def get_answer(endpoint: str, found: list[str], query: str) -> tuple[int, int | None]:
    if endpoint in ("metrics", "prometheus"):
        return 200, None
    if endpoint in ("rules", "rules/id"):
        return 200, 111  # the rule engine is not built: PLUGIN_IS_CLOSED with 200
    if endpoint == "configuration/id":
        return (200, 0) if found[2] in SECTIONS else (404, 101)
    if endpoint.startswith("clients"):
        # 0.24.14+ filters (recorded exchanges 14, 18-21): known keys only.
        for part in query.split("&") if len(query) >= 3 else []:
            key, _, value = part.partition("=")
            if not key or not value:
                continue
            if key == "conn_state" and value.lower() not in ("connected", "disconnected"):
                return 400, 108
            if key == "proto_ver" and not re.fullmatch(r"[+-]?[0-9]+", value):
                return 400, 108
            if key not in ("clientid", "client_id", "username", "conn_state", "clean_start"):
                if key not in ("proto_name", "proto_ver"):
                    return 400, 108
    return 200, 0


def allowed_here(found: list[str]) -> list[str]:
    """The methods nanoadmin routes at these nodes (for D9's Allow header): NanoMQ's, and
    its extensions DELETE /clients/{id} and DELETE /bridges/{name}."""
    extended = route("GET", found) in ("clients/id", "bridges/id")
    return [
        method
        for method in ("GET", "POST", "PUT", "DELETE")
        if route(method, found) is not None or (method == "DELETE" and extended)
    ]


# -- the routing corpus ---------------------------------------------------------------------------

TARGETS = (
    "/api/v4",
    "/api/v4/",
    "/api/v4?x=1",
    "/api/v4/?x=1",
    "/api/v4?",
    "/api/v4/?",
    "/api/v4/brokers",
    "/api/v4/brokers/",
    "/api/v4/brokers//",
    "/api/v4//brokers",
    "/api/v4/%62rokers",
    "/api/v4/brokers#frag",
    "/api/v4#x",
    "/api/v4x",
    "/api/v4x/brokers",
    "/API/v4/brokers",
    "//api/v4/brokers",
    "/api/%76%34/brokers",
    "/api/v4%2Fbrokers",
    "/api/v4%2Fx/brokers",
    "/api/v4%00x",
    "/api/v4%zz",
    "http://nanomq.example:8081/api/v4/brokers",
    "HTTPS://nanomq.example/api/v4",
    "http://nanomq.example/api/v4/",
    "http://nanomq.example/elsewhere",
    "/api/v4/nodes",
    "/api/v4/nodes/",
    "/api/v4/nodes/extra",
    "/api/v4/clients",
    "/api/v4/clients/",
    "/api/v4/clients/nobody",
    "/api/v4/clients//",
    "/api/v4/clients//x",
    "/api/v4/clients/username/alice",
    "/api/v4/clients/username",
    "/api/v4/clients/username//",
    "/api/v4/clients/a/b/c",
    "/api/v4/clients?conn_state=bogus",
    "/api/v4/clients?conn_state=connected",
    "/api/v4/clients?proto_ver=%2B4",
    "/api/v4/clients?unknown=1",
    "/api/v4/clients?x",
    "/api/v4/subscriptions",
    "/api/v4/subscriptions/ref-sub-1",
    "/api/v4/topic-tree",
    "/api/v4/metrics",
    "/api/v4/prometheus",
    "/api/v4/reload",
    "/api/v4/configuration",
    "/api/v4/configuration/basic",
    "/api/v4/configuration/webhook",
    "/api/v4/configuration/aws_bridge",
    "/api/v4/configuration//",
    "/api/v4/bridges",
    "/api/v4/bridges/nope",
    "/api/v4/rules",
    "/api/v4/nothing",
    "/api/v4/mqtt",
    "/api/v4/get_file",
    "/elsewhere",
    "/",
    "/api/v1",
)


def nanoadmin_api_answer(
    method: str, target: str, found: list[str], nanomq: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """What nanoadmin answers where NanoMQ's handler runs: NanoMQ's answer, or the documented
    difference or extension."""
    expect = dict(nanomq)
    differences: list[str] = []
    endpoint = route("GET", found)
    if method in ("POST", "PUT", "DELETE") and nanomq["status"] == 404 and endpoint is not None:
        if method == "DELETE" and endpoint in ("clients/id", "bridges/id"):
            # Extensions: DELETE /clients/{id} (kick) and DELETE /bridges/{name}.
            code = 112 if endpoint == "clients/id" else 115
            return {"status": 404, "code": code, "headers": {}}, ["extension"]
        allow = ", ".join(allowed_here(found))
        expect = {"status": 405, "code": 102, "headers": {"allow": allow}}
        differences.append("D9")
    elif nanomq["status"] == 405:
        allow = ", ".join(allowed_here(found)) or "GET, POST, PUT, DELETE"
        expect = {**nanomq, "headers": {"allow": allow}}
        differences.append("D15")
    if method == "GET" and endpoint == "clients" and "_page" in target:
        return {"status": 200, "code": 0, "headers": {}}, ["extension"]
    return expect, differences


def routing_entries() -> Iterator[dict[str, Any]]:
    for target in TARGETS:
        for method in METHODS:
            found = nodes(target) if to_rest_handler(target) else []
            if method == "DELETE" and route("GET", found) == "clients/id":
                continue  # nanoadmin's kick would change the model under later entries
            source = "nanomq/NanoNNG http_server.c http_uri_canonify, handler loop"
            if not to_rest_handler(target):
                # The ./dist directory handler: GET (HEAD as GET) only, no auth, HTML pages.
                status = 404 if method in ("GET", "HEAD") else 405
                nanomq: dict[str, Any] = {"status": status, "code": None, "headers": {}}
                expect: dict[str, Any] = {
                    "status": status,
                    "code": None if method == "HEAD" else 102,
                    "headers": {"allow": "GET, HEAD"} if status == 405 else {},
                }
                differences = ["D7"] + (["D15"] if status == 405 else [])
                yield entry("basic", method, target, nanomq, expect, differences, source)
                continue
            source = "nanomq/nanomq rest_api.c uri_parse_tree, process_request"
            endpoint = route(method, found)
            code: int | None
            if method not in ("GET", "POST", "PUT", "DELETE"):
                status, code = 405, 102
            elif endpoint is None:
                status, code = 404, 102
            elif method == "GET":
                query = target.split("?", 1)[1] if "?" in target else ""
                status, code = get_answer(endpoint, found, query)
            else:
                # POST, PUT on routed endpoints without a body: no JSON object, 109.
                status, code = 400, 109
            if method == "HEAD":
                code = None  # the body is pruned (http_sconn_cbdone)
            nanomq = {"status": status, "code": code, "headers": {}}
            expect, differences = nanoadmin_api_answer(method, target, found, nanomq)
            if method == "HEAD":
                expect = {**expect, "code": None}
            yield entry("basic", method, target, nanomq, expect, differences, source)


# -- auth ---------------------------------------------------------------------------------------

_NNG_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def nng_base64(text: str) -> bytes:
    """nng's base64_decode as 0.25.6 calls it: white space skipped, stops at "=" or any other
    byte it does not know, "-" read as "+"."""
    bits = nbits = 0
    out = bytearray()
    for char in text:
        if char in " \t\r\n":
            continue
        char = "+" if char == "-" else char
        if char not in _NNG_B64:
            break
        bits = (bits << 6) | _NNG_B64.index(char)
        nbits += 6
        if nbits >= 8:
            nbits -= 8
            out.append((bits >> nbits) & 0xFF)
    return bytes(out)


def basic_answer(header: str | None) -> int:
    """basic_authorize (0.25.6): 104 without "Basic " (a value of 6 characters or fewer
    included), 103 for fewer than 4 characters after it or a mismatch, else 0."""
    if header is None or len(header) <= 6 or not header.startswith("Basic "):
        return 104
    encoded = header[6:]
    if len(encoded) < 4:
        return 103
    decoded = nng_base64(encoded).split(b"\0", 1)[0]  # strcmp stops at a NUL
    return 0 if decoded == b"admin:public" else 103


BASIC_HEADERS = (
    None,
    "",
    "Basic",
    "Basic ",
    "Basic YWRtaW46cHVibGlj",
    "Basic YWRtaW46cHVibGlj==",
    "Basic  YWRtaW46cHVibGlj",
    "Basic YWRt aW46 cHVi bGlj",
    "Basic YWRtaW46cHVibGlj=junk",
    "Basic YWRtaW46cHVibGlj_x",
    "Basic YWRtaW46cHVibGlj junk",
    "Basic YWRtaW46d3Jvbmc=",
    "Basic YWRt",
    "Basic abc",
    "basic YWRtaW46cHVibGlj",
    "BASIC YWRtaW46cHVibGlj",
    "Bearer YWRtaW46cHVibGlj",
    "Basic\tYWRtaW46cHVibGlj",
    "YWRtaW46cHVibGlj",
)


def auth_entries() -> Iterator[dict[str, Any]]:
    source = "nanomq/nanomq rest_api.c basic_authorize (0.25.6, PR #2309/#2420)"
    for header in BASIC_HEADERS:
        code = basic_answer(header)
        status = 200 if code == 0 else 401
        nanomq = {"status": status, "code": code, "headers": {}}
        expect = {**nanomq, "headers": {"www-authenticate": "*"} if status == 401 else {}}
        headers = {} if header is None else {"Authorization": header}
        differences = ["D5"] if status == 401 else []
        yield entry("basic", "GET", "/api/v4/brokers", nanomq, expect, differences, source, headers)
        if status == 401:
            # A page's script: no challenge, so no sign-in dialog (D17).
            script = {**headers, "Sec-Fetch-Mode": "cors"}
            yield entry("basic", "GET", "/api/v4/brokers", nanomq, nanomq, ["D17"], source, script)


# JWT recipes: (header, payload, suffix, NanoMQ's code, nanoadmin's code, what decides it).
# Worked out from l8w8jwt_decode with NanoMQ's parameters (RS256, validate_iss = key file
# name, validate_exp, 200 s tolerance): 116 when the mask is exactly EXP, 103 otherwise.
H = '{"alg":"RS256","typ":"JWT"}'
JWT_RECIPES: tuple[tuple[str, str, str, int, int, str], ...] = (
    (H, '{"iss":"{iss}","exp":{soon}}', "", 0, 0, "a plain token"),
    (H, '{"iss":"{iss}","exp":"{soon}"}', "", 0, 0, "exp as a string: strtoll"),
    (H, '{"iss":"{iss}","exp":{grace}}', "", 0, 0, "within the 200 s tolerance"),
    (H, '{"iss":"{iss}","exp":{past}}', "", 116, 116, "expired"),
    (H, '{"iss":"{iss}"}', "", 116, 116, "no exp: EXP failure"),
    (H, '{"exp":{soon}}', "", 103, 103, "no iss"),
    (H, '{"iss":"wrong","exp":{past}}', "", 103, 103, "iss and exp: not exp alone"),
    (H, '{"issuer":"x","iss":"{iss}","exp":{soon}}', "", 103, 103, "issuer read as iss"),
    ('{"alg":"RS256","iss":"wrong"}', '{"iss":"{iss}","exp":{soon}}', "", 103, 103, "header iss"),
    ('{"alg":"RS256","exp":1}', '{"iss":"{iss}","exp":{soon}}', "", 116, 116, "header exp"),
    (H, '{"iss":"{iss}","exp":{past},"exp":{soon}}', "", 116, 116, "first exp"),
    (H, '{"iss":"{iss}","exp":{soon},"exp":{past}}', "", 0, 103, "first exp; a duplicate"),
    (H, '{"issuer":"{iss}","exp":{soon}}', "", 0, 103, "issuer as iss, accepted"),
    ('{"alg":"RS256","iss":"{iss}"}', '{"exp":{soon}}', "", 0, 103, "iss in the header only"),
    ('{"alg":"RS256","exp":{soon}}', '{"iss":"{iss}"}', "", 0, 103, "exp in the header only"),
    (H, '{"iss":"{iss}","expiry":"soon","exp":{soon}}', "", 116, 116, "expiry read as exp"),
    (H, '{"iss":"{iss}","expiry":9999999999,"exp":{past}}', "", 0, 103, "expiry as exp"),
    (H, '{"is":"{iss}","exp":{soon}}', "", 103, 103, "is is no iss"),
    (H, '{"meta":{"iss":"{iss}","exp":{soon}}}', "", 0, 103, "nested claims"),
    (H, '{"iss":"{iss}-x","exp":{soon}}', "", 0, 103, "iss compared by its start"),
    (H, '{"iss":"nanomq","exp":{soon}}', "", 103, 103, "iss shorter than the name"),
    (H, '{"iss":"{iss}","exp":1.7e9}', "", 116, 116, "strtoll reads 1"),
    (H, '{"iss":"{iss}","exp":99999999999999999999}', "", 0, 0, "strtoll saturates"),
    (H, '{"iss":"{iss}","exp":{soon},"roles":[1,2]}', "", 103, 103, "an array of numbers"),
    (H, '{"iss":"{iss}","exp":{soon},"n":NaN}', "", 103, 103, "checknum refuses NaN"),
    (H, '{"iss" "{iss}","exp":{soon}}', "", 0, 103, "jsmn: no colon needed"),
    (H, '{"iss":"{iss}","exp":{soon}} "k" "v"', "", 0, 103, "jsmn: a trailing pair"),
    (H, '{"iss":"{iss}","exp":{soon}}', ".", 0, 103, "dots after the signature"),
    (H, '{"iss":"{iss}","exp":{soon}}', "tamper", 103, 103, "a bad signature"),
    (H, '{"iss":"{iss}","exp":{past}}', "tamper", 103, 103, "bad signature and expired"),
    ('{"alg":"HS256"}', '{"iss":"{iss}","exp":{soon}}', "", 0, 103, "alg is not read (D10)"),
    (" ", '{"iss":"{iss}","exp":{soon}}', "", 0, 103, "a header of no claims (D10)"),
)


def jwt_entries() -> Iterator[dict[str, Any]]:
    source = "GlitchedPolygons/l8w8jwt decode.c l8w8jwt_decode; nanomq/nanomq jwt_authorize"
    for header, payload, suffix, nanomq_code, nanoadmin_code, why in JWT_RECIPES:
        nanomq: dict[str, Any] = {
            "status": 200 if nanomq_code == 0 else 401,
            "code": nanomq_code,
            "headers": {},
        }
        expect: dict[str, Any] = {
            "status": 200 if nanoadmin_code == 0 else 401,
            "code": nanoadmin_code,
            "headers": {"www-authenticate": "*"} if nanoadmin_code else {},
        }
        differences = []
        if nanoadmin_code != nanomq_code:
            differences.append("D10" if "D10" in why else "D16")
        if nanoadmin_code:
            differences.append("D5")
        token = {"header": header, "payload": payload, "suffix": suffix}
        yield entry(
            "jwt",
            "GET",
            "/api/v4/brokers",
            nanomq,
            expect,
            differences,
            f"{source}: {why}",
            token=token,
        )
    # Bearer parsing: sscanf(token, "Bearer %s"): case-sensitive, any white space (or none).
    plain = {"header": H, "payload": '{"iss":"{iss}","exp":{soon}}', "suffix": ""}
    for template, nanomq_code, nanoadmin_code in (
        ("Bearer {token}", 0, 0),
        ("Bearer  {token}", 0, 0),
        ("Bearer{token}", 0, 0),
        ("Bearer {token} junk", 0, 104),
        ("bearer {token}", 104, 104),
        ("Bearer", 104, 104),
        ("Bearer    ", 104, 104),
        ("Basic {token}", 104, 104),
    ):
        nanomq = {"status": 200 if nanomq_code == 0 else 401, "code": nanomq_code, "headers": {}}
        expect = {
            "status": 200 if nanoadmin_code == 0 else 401,
            "code": nanoadmin_code,
            "headers": {"www-authenticate": "*"} if nanoadmin_code else {},
        }
        differences = (["D10"] if nanoadmin_code != nanomq_code else []) + (
            ["D5"] if nanoadmin_code else []
        )
        yield entry(
            "jwt",
            "GET",
            "/api/v4/brokers",
            nanomq,
            expect,
            differences,
            f"nanomq/nanomq rest_api.c jwt_authorize: {template!r}",
            {"Authorization": template},
            token=plain,
        )


# -- bodies: the order of checks ------------------------------------------------------------------

BODY_CASES: tuple[tuple[str, str, str, int, int, str], ...] = (
    ("POST", "/api/v4/bridges/sub/nope", "x", 400, 109, "post_mqtt_bridge_sub; exchange 85"),
    ("POST", "/api/v4/bridges/sub/nope", '{"data":{}}', 400, 109, "post_mqtt_bridge_sub"),
    ("POST", "/api/v4/bridges/sub/nope", '{"data":{"subscription":{}}}', 400, 109, "sub"),
    ("POST", "/api/v4/bridges/sub/nope", '{"data":{"subscription":[]}}', 404, 108, "sub"),
    ("POST", "/api/v4/bridges/unsub/nope", '{"data":5}', 400, 109, "post_mqtt_bridge_unsub"),
    ("POST", "/api/v4/bridges/unsub/nope", '{"data":{}}', 400, 109, "unsub"),
    ("POST", "/api/v4/bridges/unsub/nope", '{"data":{"unsubscription":[]}}', 404, 108, "unsub"),
    ("POST", "/api/v4/bridges/switch/nope", "x", 400, 109, "put_mqtt_bridge_switch"),
    ("POST", "/api/v4/bridges/switch/nope", '{"data":{}}', 400, 108, "switch; exchange 83"),
    (
        "POST",
        "/api/v4/bridges/switch/nope",
        '{"data":{"bridge_switch":true}}',
        204,
        108,
        "switch; exchange 82: a 204 with its body",
    ),
    ("PUT", "/api/v4/bridges/nope", "x", 400, 109, "put_mqtt_bridge"),
    ("PUT", "/api/v4/bridges/nope", '{"other":{}}', 400, 108, "put_mqtt_bridge; exchange 80"),
    ("PUT", "/api/v4/bridges/nope", '{"nope":{}}', 404, 115, "put_mqtt_bridge; exchange 79"),
    ("POST", "/api/v4/reload", "x", 400, 109, "post_reload_config"),
    ("POST", "/api/v4/reload", "[1]", 400, 109, "post_reload_config: not an object"),
    ("POST", "/api/v4/configuration", "x", 400, 109, "post_config"),
    ("POST", "/api/v4/configuration/basic", "{", 400, 109, "post_config"),
    ("POST", "/api/v4/config_update", "{}", 400, 117, "update_config: hocon_parse_str"),
)


def body_entries() -> Iterator[dict[str, Any]]:
    for method, target, body, status, code, why in BODY_CASES:
        nanomq = {"status": status, "code": code, "headers": {}}
        expect = dict(nanomq)
        if status == 204:
            expect["headers"] = {"content-type": "application/json"}
        yield entry(
            "basic",
            method,
            target,
            nanomq,
            expect,
            [],
            f"nanomq/nanomq rest_api.c {why}",
            body=body,
        )


# -- writing ------------------------------------------------------------------------------------


def entry(
    server: str,
    method: str,
    target: str,
    nanomq: dict[str, Any],
    expect: dict[str, Any],
    differences: list[str],
    source: str,
    headers: dict[str, str] | None = None,
    *,
    body: str | None = None,
    token: dict[str, str] | None = None,
) -> dict[str, Any]:
    if headers is None:
        headers = {"Authorization": BASIC if server == "basic" else "Bearer {token}"}
    return {
        "server": server,
        "method": method,
        "target": target,
        "headers": headers,
        "body": body,
        "token": token,
        "nanomq": nanomq,
        "expect": expect,
        "differences": differences,
        "source": source,
    }


def generate() -> list[dict[str, Any]]:
    entries = [*routing_entries(), *auth_entries(), *jwt_entries(), *body_entries()]
    return [{"id": index, **item} for index, item in enumerate(entries, 1)]


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(item, separators=(",", ":")) for item in generate()]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} entries to {OUT.relative_to(Path.cwd())}")


if __name__ == "__main__":
    main()
