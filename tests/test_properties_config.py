"""Property and fuzz tests of the config loaders: Settings or ConfigError, and KV round-trips.

Whatever the text, a loader returns Settings or raises ConfigError, and Settings that load build
a server state that renders; a KV file's values come back in the rendered configuration as
NanoMQ shows them. Examples are bounded so the file runs in a few seconds.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanoadmin.config import ConfigError, load_tree
from nanoadmin.config.hocon import parse_hocon
from nanoadmin.config.kv import kv_to_tree, load_kv, parse_kv
from nanoadmin.config.toml import load_toml
from nanoadmin.http.responses import dumps
from nanoadmin.model.live_config import LiveConfig
from nanoadmin.runtime import load as runtime_load
from nanoadmin.settings import Settings, load_settings, settings_from_tree
from tests.support.strategies import FAST

# Out of `make check`'s quick loop (hypothesis examples through the config loaders); `make test` runs it.
pytestmark = pytest.mark.slow

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
    "9999999999",  # joined up: numbers past 64 bits
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
    refused: ConfigError | None = None
    try:
        result = load()
        assert isinstance(result, Settings)
        # What the server builds from them (auth strategy, live config, rules): ConfigError only.
        loaded = runtime_load(result, None)
    except ConfigError as exc:
        refused = exc
    if refused is not None:
        assert refused.message
        assert "\n" not in refused.message
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
    not_kv: ValueError | None = None
    try:
        pairs = parse_kv(text)
    except ValueError as exc:  # a line that is not key=value, which load_kv turns into ConfigError
        not_kv = exc
    if not_kv is not None:
        assert "is not key=value" in str(not_kv)
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
        assert fmt in ("hocon", "kv", "toml")
        assert isinstance(tree, dict)


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
        if not pairs:  # a file without a setting is refused: it would run on every default
            with pytest.raises(ConfigError, match="holds no settings"):
                load_tree(path, force_kv=True)
            return
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
    assert isinstance(basic, dict)
    assert basic["url"] == "nmq-tcp://0.0.0.0:1883"
