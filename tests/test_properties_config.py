"""Property and fuzz tests: config loaders, KV round-trips, the Authorization parsers, JSON bodies.

Every property here is "whatever the input, only the documented outcome": a loader returns Settings
or raises ConfigError; an Authorization header authenticates or is a 401 with 103/104 (116 for an
expired token); a JSON body on a POST/PUT endpoint gets a status the OpenAPI document lists for that
operation, with a body that fits it. Examples are bounded so the file runs in a few seconds.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanoadmin.auth.base import AuthError, Identity
from nanoadmin.auth.basic_auth import check_basic
from nanoadmin.auth.jwt_auth import JwtAuth, bearer_token, load_public_keys
from nanoadmin.config import ConfigError, load_tree
from nanoadmin.config.hocon import parse_hocon
from nanoadmin.config.kv import kv_to_tree, load_kv, parse_kv
from nanoadmin.config.toml import load_toml
from nanoadmin.http.responses import dumps
from nanoadmin.model.live_config import LiveConfig
from nanoadmin.runtime import load as runtime_load
from nanoadmin.settings import Settings, load_settings, settings_from_tree
from tests.support import Client, ClientFactory, KeyPair, basic_settings, jwt_settings, raw_request
from tests.support.openapi import FULL_CONF, Recorder, operations

FAST = settings(max_examples=100, deadline=None, database=None)
SERVER = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


# -- config loaders on arbitrary text --------------------------------------------------------------

# Pieces of the three config languages, so that generated text gets past the first character.
CONFIG_TOKENS = [
    "http_server",
    "mqtt",
    "listeners.tcp",
    "bridges.mqtt.b",
    "rules.repub",
    "auth",
    "port",
    "auth_type",
    "jwt",
    "public.keyfile",
    "max_body",
    "limit_conn",
    "username",
    "password",
    "ip_addr",
    "enable",
    "basic",
    "no_auth",
    "true",
    "off",
    "10s",
    "1m",
    "256MB",
    "64KB",
    "8081",
    "-1",
    "1.5",
    "9999999999",  # (beyond 64 bits is a reported bug: strict xfail in test_openapi.py)
    " = ",
    " : ",
    "=",
    " += ",
    " {",
    "}",
    "[",
    "]",
    ",",
    ".",
    '"',
    "'''",
    '"""',
    "\n",
    "\t",
    " ",
    "#",
    "//",
    "${?HOME}",
    "${x}",
    "${http_server.port}",
    "include ",
    'include "nope.conf"',
    'include required("nope.conf")',
    "null",
    "[http_server]",
    "[[rules]]",
    "\\",
    "\\u0000",
    "\x00",
]

config_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(CONFIG_TOKENS), st.text(max_size=5)), max_size=40).map(
        "".join
    ),
)


def only_settings_or_config_error(load: Callable[[], Settings]) -> None:
    """Settings or ConfigError; and settings that load also build a server state that renders."""
    try:
        result = load()
        assert isinstance(result, Settings)
        # What the server builds from them (auth strategy, live config, rules): ConfigError only.
        loaded = runtime_load(result, None)
    except ConfigError as exc:
        assert exc.message and "\n" not in exc.message
        return
    config = loaded.config
    dumps({"configuration": config.render(result.http_server), "reload": config.reload_view()})
    rules = loaded.rules.list() if loaded.rules is not None else None
    dumps({"metrics": config.bridges.metrics(), "rules": rules})


@FAST
@given(text=config_text)
def test_hocon_loader_returns_settings_or_config_error(text: str) -> None:
    with TemporaryDirectory() as folder:
        only_settings_or_config_error(
            lambda: settings_from_tree(
                parse_hocon(text, basedir=Path(folder), source="fuzz"), fmt="hocon"
            )
        )


@FAST
@given(text=config_text)
def test_kv_loader_returns_settings_or_config_error(text: str) -> None:
    path = Path("/nonexistent/nanomq_old.conf")
    only_settings_or_config_error(lambda: settings_from_tree(load_kv(path, text), fmt="kv"))
    try:
        pairs = parse_kv(text)
    except ValueError as exc:  # a line that is not key=value, which load_kv turns into ConfigError
        assert "is not key=value" in str(exc)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs.items())
    only_settings_or_config_error(lambda: settings_from_tree(kv_to_tree(pairs), fmt="kv"))


@FAST
@given(text=config_text)
def test_toml_loader_returns_settings_or_config_error(text: str) -> None:
    path = Path("/nonexistent/nanomq.toml")
    only_settings_or_config_error(lambda: settings_from_tree(load_toml(path, text), fmt="toml"))


@settings(max_examples=60, deadline=None, database=None)
@given(text=config_text, name=st.sampled_from(["nanomq.conf", "nanomq_old.conf", "nanomq.toml"]))
def test_load_settings_on_a_file_returns_settings_or_config_error(text: str, name: str) -> None:
    with TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        only_settings_or_config_error(lambda: load_settings(str(path), environ={}))
        try:
            fmt, tree = load_tree(path)
        except ConfigError:
            return
        assert fmt in ("hocon", "kv", "toml") and isinstance(tree, dict)


# -- KV -> settings -> rendered configuration -------------------------------------------------------

# A KV value as written in nanomq_old.conf: no line break, no surrounding space, not quoted whole.
kv_word = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="\"'"),
    min_size=1,
    max_size=12,
)
kv_bool = st.sampled_from(["true", "false", "TRUE", "False", "yes", "no", "on", "off"])
host = st.sampled_from(["0.0.0.0", "127.0.0.1", "broker.example", "[::1]"])


def truth(text: str) -> bool:
    return text.lower() in ("true", "yes", "on")


def float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


@st.composite
def kv_config(draw: st.DrawFn) -> dict[str, str]:
    pairs = {
        "url": f"nmq-tcp://{draw(host)}:{draw(st.integers(1, 65535))}",
        "num_taskq_thread": str(draw(st.integers(1, 64))),
        "max_taskq_thread": str(draw(st.integers(1, 64))),
        "parallel": str(draw(st.integers(1, 1024))),
        "property_size": str(draw(st.integers(0, 4096))),
        "daemon": draw(kv_bool),
        "max_packet_size": str(draw(st.integers(1, 1 << 20))),
        "client_max_packet_size": str(draw(st.integers(1, 1 << 20))),
        "msq_len": str(draw(st.integers(0, 1 << 20))),
        "qos_duration": str(draw(st.integers(0, 86400))),
        "keepalive_backoff": repr(draw(st.floats(0.5, 10, allow_nan=False))),
        "allow_anonymous": draw(kv_bool),
        "enable_ipc_internal": draw(kv_bool),
        "http_server.enable": draw(kv_bool),
        "http_server.port": str(draw(st.integers(1, 65535))),
        "http_server.ip_addr": draw(host),
        "http_server.username": draw(kv_word),
        "http_server.password": draw(kv_word),
        "http_server.auth_type": draw(st.sampled_from(["basic", "no_auth", "BASIC"])),
    }
    # Any subset, in any order: what is left out takes NanoMQ's default.
    keys = draw(st.lists(st.sampled_from(sorted(pairs)), unique=True))
    return {key: pairs[key] for key in keys}


@FAST
@given(pairs=kv_config(), quote=st.booleans())
def test_kv_round_trips_to_the_rendered_configuration(pairs: dict[str, str], quote: bool) -> None:
    text = "# generated\n" + "".join(
        f"{key}={f'{chr(34)}{value}{chr(34)}' if quote else value}\n"
        for key, value in pairs.items()
    )
    with TemporaryDirectory() as folder:
        path = Path(folder) / "nanomq_old.conf"
        path.write_text(text)
        fmt, tree = load_tree(path, force_kv=True)
        loaded = settings_from_tree(tree, fmt=fmt, path=path)
    assert fmt == "kv"
    config = LiveConfig(loaded)
    basic = config.section("basic", loaded.http_server)
    assert isinstance(basic, dict)
    expected: dict[str, object] = {
        "url": pairs.get("url", "nmq-tcp://0.0.0.0:1883"),
        "property_size": int(pairs.get("property_size", 32)),
        "daemon": truth(pairs.get("daemon", "false")),
        "max_packet_size": int(pairs.get("max_packet_size", 10240)),
        "client_max_packet_size": int(
            pairs.get("client_max_packet_size", pairs.get("max_packet_size", 10240))
        ),
        "msq_len": int(pairs.get("msq_len", 1024)),
        "qos_duration": int(pairs.get("qos_duration", 10)),
        "keepalive_backoff": float32(float(pairs.get("keepalive_backoff", 1.5))),
        "allow_anonymous": truth(pairs.get("allow_anonymous", "true")),
        "ipc_internal": truth(pairs.get("enable_ipc_internal", "true")),
    }
    for key in ("num_taskq_thread", "max_taskq_thread", "parallel"):
        if key in pairs:
            expected[key] = int(pairs[key])
    assert {key: basic[key] for key in expected} == expected
    reload_view = config.reload_view()
    for key in ("property_size", "max_packet_size", "msq_len", "qos_duration"):
        assert reload_view[key] == expected[key]

    http = config.section("http_server", loaded.http_server)
    auth_type = pairs.get("http_server.auth_type", "basic").lower()
    assert http == {
        "enable": truth(pairs.get("http_server.enable", "false")),
        "port": int(pairs.get("http_server.port", 8081)),
        "addr": pairs.get("http_server.ip_addr"),
        "username": pairs.get("http_server.username", "admin"),
        "password": "******",
        "auth_type": "basic",
    }
    assert loaded.http_server.password == pairs.get("http_server.password", "public")
    assert loaded.http_server.auth_type == auth_type


def test_kv_websocket_keys_keep_the_kv_defaults(tmp_path: Path) -> None:
    path = tmp_path / "nanomq_old.conf"
    path.write_text("websocket.enable=true\nwebsocket.url=nmq-ws://0.0.0.0:8083/mqtt\n")
    fmt, tree = load_tree(path, force_kv=True)
    loaded = settings_from_tree(tree, fmt=fmt, path=path)
    config = LiveConfig(loaded)
    assert config.section("websocket", loaded.http_server) == {
        "enable": True,
        "tls_enable": False,
        "url": "nmq-ws://0.0.0.0:8083/mqtt",
        "tls_url": None,
    }
    basic = config.section("basic", loaded.http_server)
    assert isinstance(basic, dict) and basic["url"] == "nmq-tcp://0.0.0.0:1883"


# -- the Authorization header ------------------------------------------------------------------------

# What aiohttp hands over: header bytes decoded as UTF-8 with surrogateescape.
header_text = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=80).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.tuples(
        st.sampled_from(["Basic ", "Basic", "basic ", "Bearer ", "Bearer", "Bearer  ", ""]),
        st.one_of(
            st.text(max_size=60),
            st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_. \t"),
        ),
    ).map("".join),
)


def assert_auth_error(exc: AuthError, codes: tuple[int, ...]) -> None:
    assert exc.code in codes and exc.message and exc.challenge


@FAST
@given(header=st.one_of(st.none(), header_text))
def test_basic_check_authenticates_or_refuses_with_103_or_104(header: str | None) -> None:
    try:
        check_basic(header, b"admin:public")
    except AuthError as exc:
        assert_auth_error(exc, (103, 104))
    else:
        assert header is not None and header.startswith("Basic ")


@FAST
@given(header=st.one_of(st.none(), header_text))
def test_bearer_token_is_one_word_or_104(header: str | None) -> None:
    try:
        token = bearer_token(header)
    except AuthError as exc:
        assert_auth_error(exc, (104,))
    else:
        assert header is not None and header.startswith("Bearer")
        assert token and token == header[len("Bearer") :].strip()


@pytest.fixture(scope="module")
def jwt_auth(keypair: KeyPair) -> JwtAuth:
    return JwtAuth(load_public_keys((keypair.public_path,)), cache_size=0)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

token_text = st.one_of(
    st.text(max_size=100),
    st.lists(
        st.one_of(
            st.text(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=30
            ),
            json_values.map(lambda v: b64url(json.dumps(v).encode())),
        ),
        min_size=1,
        max_size=4,
    ).map(".".join),
)


@FAST
@given(token=token_text)
def test_jwt_verify_refuses_anything_but_a_signed_token_with_103(
    jwt_auth: JwtAuth, token: str
) -> None:
    with pytest.raises(AuthError) as refused:
        jwt_auth.verify(token)
    assert_auth_error(refused.value, (103,))


def sign(keypair: KeyPair, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """An RS256 token for any header and claims (PyJWT refuses some headers this test wants)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = keypair.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


exp_claims = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([10**400, -(10**400), "9" * 400, "-" + "9" * 400]),  # beyond any float
    st.integers(int(time.time()) - 1000, int(time.time()) + 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=15),
    st.integers(0, 2**40).map(str),
    st.booleans(),
    st.none(),
    json_values,
)


@FAST
@given(
    exp=st.one_of(st.just("absent"), exp_claims),
    iss=st.one_of(st.just("nanomq.pub"), st.text(max_size=10)),
    header=st.dictionaries(st.sampled_from(["typ", "kid", "alg", "x"]), json_values, max_size=3),
)
def test_jwt_verify_on_signed_tokens_with_any_claims(
    jwt_auth: JwtAuth, keypair: KeyPair, exp: object, iss: str, header: dict[str, Any]
) -> None:
    payload: dict[str, Any] = {"iss": iss}
    if exp != "absent":
        payload["exp"] = exp
    token = sign(keypair, {**header, "alg": "RS256"}, payload)
    try:
        identity = jwt_auth.verify(token)
    except AuthError as exc:
        assert_auth_error(exc, (103, 116))
        if iss == keypair.public_path.name and exc.code == 103:
            pytest.fail(f"a signed token for the right key is 103, not 116: {payload}")
    else:
        assert isinstance(identity, Identity) and iss == keypair.public_path.name
        assert isinstance(exp, int | float | str) and not isinstance(exp, bool)


# Header values HTTP allows: visible ASCII, space, tab and obs-text; no leading or trailing space.
http_header_value = st.text(
    st.characters(codec="latin-1", exclude_categories=["Cc"]) | st.just("\t"), max_size=60
).map(lambda value: value.strip(" \t"))


@pytest.fixture
async def auth_clients(
    make_client: ClientFactory, tmp_path: Path, keypair: KeyPair
) -> tuple[Client, Client]:
    (tmp_path / "b").mkdir()
    (tmp_path / "j").mkdir()
    basic = await make_client(basic_settings(tmp_path / "b"))
    return basic, await make_client(jwt_settings(tmp_path / "j", keypair.public_path))


@SERVER
@given(value=http_header_value, prefix=st.sampled_from(["", "Basic ", "Bearer ", "Bearer"]))
async def test_authorization_headers_through_real_servers(
    auth_clients: tuple[Client, Client], value: str, prefix: str
) -> None:
    header = (prefix + value).strip(" \t")
    for client in auth_clients:
        request = (
            "GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Authorization: {header}\r\n\r\n"
        ).encode("latin-1")
        status, headers, body = await raw_request(client.port, request)
        assert status == 401, (header, status, body)
        reply = json.loads(body)
        assert reply["code"] in (103, 104) and reply["message"], (header, reply)
        assert headers["www-authenticate"], header


# -- JSON bodies on every POST/PUT endpoint ------------------------------------------------------------

# Field names the endpoints read, so that generated objects reach past the first check. Not the
# http_server credentials: changing them would lock this test out of its own server.
FIELDS = [
    "data",
    "topic",
    "topics",
    "payload",
    "clientid",
    "qos",
    "retain",
    "encoding",
    "decoding",
    "properties",
    "user_properties",
    "basic",
    "tls",
    "auth",
    "websocket",
    "sqlite",
    "http_server",
    "port",
    "msq_len",
    "keepalive_backoff",
    "allow_anonymous",
    "rawsql",
    "actions",
    "name",
    "params",
    "table",
    "address",
    "enabled",
    "bridge_switch",
    "subscription",
    "unsubscription",
    "remote_topic",
    "local_topic",
    "emqx",
    "server",
    "proto_ver",
    "forwards",
    "ssl",
]

# Numbers stay within 64 bits: bigger ones reach a reported bug (a bridge holding one makes every
# later read a 500; strict xfail in test_openapi.py), which the read-back below would trip on.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(-1e18, 1e18, allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["repub", "sqlite", "base64", "a/b", "a/#", "ref-sub-1", "emqx", "rule:1"])
)
json_bodies = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=20,
)

READ_VIEWS = [
    "/api/v4/configuration",
    "/api/v4/reload",
    "/api/v4/bridges",
    "/api/v4/rules",
    "/api/v4/clients",
    "/api/v4/subscriptions",
    "/api/v4/topic-tree",
    "/api/v4/metrics",
    "/api/v4/prometheus",
]
WRITE_OPERATIONS = sorted(
    (method, path)
    for path, method, _ in operations(Recorder().document)
    if method in ("POST", "PUT")
)


def concrete(path: str, name: str) -> str:
    return (
        path.replace("{action}", "bogus")
        .replace("{ruleid}", "rule:1")
        .replace("{section}", name)
        .replace("{name}", "emqx")
    )


@pytest.fixture
async def full_client(make_client: ClientFactory, tmp_path: Path) -> Client:
    conf = tmp_path / "nanomq.conf"
    conf.write_text(FULL_CONF.replace("max_body = 16KB", "max_body = 1MB"))
    return await make_client(load_settings(str(conf), environ={}))


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.mark.parametrize("operation", WRITE_OPERATIONS, ids=" ".join)
@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=json_bodies,
    section=st.sampled_from(["basic", "tls", "auth", "websocket", "sqlite", "x", "http_server"]),
    view=st.sampled_from(READ_VIEWS),
)
async def test_json_bodies_get_a_documented_answer(
    full_client: Client,
    recorder: Recorder,
    operation: tuple[str, str],
    body: object,
    section: str,
    view: str,
) -> None:
    method, path = operation
    target = concrete(path, section)
    # Validated against the document: a documented status for the operation, a body that fits.
    exchange = await recorder.send(full_client, method, target, json.dumps(body).encode())
    assert exchange.status < 500
    if exchange.status != 204:
        assert isinstance(exchange.json().get("code"), int)
    # What the write left behind still reads back as documented, and the fuzzing never locks
    # itself out (credentials are not among the generated field names).
    assert (await recorder.send(full_client, "GET", view)).status == 200
