"""Config loading: NanoMQ's own files, the three formats, includes, environment and failures."""

from __future__ import annotations

import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from nanoadmin.config import ConfigError, load_tree
from nanoadmin.config.hocon import parse_hocon
from nanoadmin.config.values import lookup
from nanoadmin.settings import load_settings
from tests.support import NANOMQ_ETC


def test_nanomq_conf_fixture_loads_http_server() -> None:
    settings = load_settings(str(NANOMQ_ETC / "nanomq.conf"), environ={})
    http = settings.http_server
    assert settings.format == "hocon"
    assert (http.port, http.limit_conn, http.username, http.password, http.auth_type) == (
        8081,
        2,
        "admin",
        "public",
        "basic",
    )
    assert http.enable is True
    assert http.ip_addr is None
    assert http.bind_host == "0.0.0.0"
    assert http.jwt.public_keyfiles == (Path("/etc/certs/jwt/jwtRS256.key.pub"),)
    # pyhocon gives durations; the tree keeps them as seconds, sizes as written.
    _, tree = load_tree(NANOMQ_ETC / "nanomq.conf")
    assert lookup(tree, "mqtt.retry_interval") == 10
    assert lookup(tree, "mqtt.max_packet_size") == "256MB"
    assert lookup(tree, "log.to") == ["file", "console"]
    assert settings.basic.qos_duration == 10
    assert settings.basic.max_packet_size == 256 * 1024


def test_nanomq_old_conf_fixture_loads_as_kv() -> None:
    settings = load_settings(str(NANOMQ_ETC / "nanomq_old.conf"), environ={})
    http = settings.http_server
    assert settings.format == "kv"
    assert http.enable is False  # the shipped file has http_server.enable=false
    assert (http.port, http.limit_conn, http.username, http.password, http.auth_type) == (
        8081,
        32,
        "admin",
        "public",
        "basic",
    )
    assert http.jwt.public_keyfiles == (Path("/etc/certs/jwt/jwtRS256.key.pub"),)
    _, tree = load_tree(NANOMQ_ETC / "nanomq_old.conf")
    assert lookup(tree, "listeners.tcp.bind") == "0.0.0.0:1883"
    assert lookup(tree, "bridges.mqtt.emqx.server") == "mqtt-tcp://broker.emqx.io:1883"
    forwards = lookup(tree, "bridges.mqtt.emqx.forwards")
    assert forwards == [{"remote_topic": "fwd/topic1", "local_topic": "topic1", "retain": "2"}]


def test_old_conf_flag_forces_kv(tmp_path: Path) -> None:
    conf = tmp_path / "odd.conf"
    conf.write_text("http_server.port=9001\nhttp_server.auth_type=no_auth\n")
    settings = load_settings(old_conf=str(conf), environ={})
    assert settings.format == "kv"
    assert settings.http_server.port == 9001
    assert settings.http_server.auth_type == "no_auth"


def test_kv_values_lose_surrounding_quotes(tmp_path: Path) -> None:
    conf = tmp_path / "q.conf"
    conf.write_text('http_server.username="ops"\nhttp_server.jwt.public.keyfile="/x/k.pub"\n')
    http = load_settings(old_conf=str(conf), environ={}).http_server
    assert http.username == "ops"
    assert http.jwt.public_keyfiles == (Path("/x/k.pub"),)


def test_toml_is_the_same_tree_as_hocon(tmp_path: Path) -> None:
    hocon = tmp_path / "a.conf"
    hocon.write_text(
        'http_server { port = 9100\n username = "u"\n auth_type = no_auth }\nmqtt.max_packet_size = 10MB\n'
    )
    toml = tmp_path / "a.toml"
    toml.write_text(
        '[http_server]\nport = 9100\nusername = "u"\nauth_type = "no_auth"\n[mqtt]\nmax_packet_size = "10MB"\n'
    )
    from_hocon = load_settings(str(hocon), environ={})
    from_toml = load_settings(str(toml), environ={})
    assert from_toml.format == "toml"
    assert from_hocon.http_server == from_toml.http_server
    assert replace(from_hocon, path=None, format="toml") == replace(from_toml, path=None)
    assert load_tree(hocon)[1] == load_tree(toml)[1]


def test_project_example_configs_load() -> None:
    root = Path(__file__).parent.parent / "conf"
    for name in ("nanomq.conf", "nanomq_old.conf", "nanomq.toml", "nanomq_jwt.conf"):
        http = load_settings(str(root / name), environ={}).http_server
        assert http.port == 8081, name
        assert http.bind_host == "127.0.0.1", name


def test_includes_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "nanomq_pwd.conf").write_bytes(
        (NANOMQ_ETC / "nanomq_pwd.conf").read_bytes()
    )
    conf = tmp_path / "etc" / "nanomq.conf"
    conf.write_text(
        'auth { password = {include "nanomq_pwd.conf"} }\nhttp_server { port = 8090 }\n'
    )
    monkeypatch.chdir(tmp_path)  # a CWD that is not the config's folder
    settings = load_settings(str(conf), environ={})
    assert settings.auth_users == (("admin", "public"), ("client", "public"))


def test_missing_plain_include_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conf = tmp_path / "nanomq.conf"
    conf.write_text('auth { acl = {include "absent_acl.conf"} }\nhttp_server { port = 8090 }\n')
    with caplog.at_level(logging.WARNING, logger="nanoadmin.config"):
        settings = load_settings(str(conf), environ={})
    assert settings.http_server.port == 8090
    assert any("absent_acl.conf" in record.getMessage() for record in caplog.records)


def test_missing_required_include_is_an_error(tmp_path: Path) -> None:
    conf = tmp_path / "nanomq.conf"
    conf.write_text('auth { acl = {include required("absent_acl.conf")} }\n')
    with pytest.raises(ConfigError, match="absent_acl.conf"):
        load_settings(str(conf), environ={})


def test_environment_sits_between_defaults_and_file(tmp_path: Path) -> None:
    env = {
        "NANOMQ_HTTP_SERVER_PORT": "9200",
        "NANOMQ_HTTP_SERVER_USERNAME": "envuser",
        "NANOMQ_HTTP_SERVER_PASSWORD": "envpass",
        "NANOMQ_HTTP_SERVER_AUTH_TYPE": "no_auth",
    }
    bare = tmp_path / "bare.conf"
    bare.write_text("http_server { limit_conn = 4 }\n")
    http = load_settings(str(bare), environ=env).http_server
    assert (http.port, http.username, http.password, http.auth_type) == (
        9200,
        "envuser",
        "envpass",
        "no_auth",
    )

    full = tmp_path / "full.conf"
    full.write_text("http_server { port = 9300\n username = fileuser\n auth_type = basic }\n")
    http = load_settings(str(full), environ=env).http_server
    assert (http.port, http.username, http.password, http.auth_type) == (
        9300,
        "fileuser",
        "envpass",
        "basic",
    )
    assert load_settings(str(full), environ=env, port=9400).http_server.port == 9400


def test_env_keyfile_and_conf_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "from-env.conf"
    conf.write_text("http_server { port = 9500 }\n")
    settings = load_settings(
        environ={"NANOMQ_CONF_PATH": str(conf), "NANOMQ_HTTP_SERVER_JWT_PUBLIC_KEYFILE": "k.pub"}
    )
    assert settings.path == conf
    assert settings.http_server.port == 9500
    assert settings.http_server.jwt.public_keyfiles == (Path.cwd() / "k.pub",)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="conf/nanomq.conf"):
        load_settings(environ={})


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "http_server {\n  port = 8081\n  auth_type = bogus\n}\n",
            [":3:", "http_server.auth_type", "'bogus'", "basic, jwt, no_auth"],
        ),
        ("http_server {\n  port = 70000\n}\n", [":2:", "http_server.port", "70000", "0..65535"]),
        ("http_server {\n  port = [1\n}\n", [":3:", "syntax error"]),
        (
            "http_server {\n  password = 123456\n}\n",
            [":2:", "http_server.password", "quoted string"],
        ),
        ("http_server {\n  max_body = lots\n}\n", [":2:", "http_server.max_body", "10MB"]),
    ],
)
def test_bad_hocon_values_name_file_line_key_and_expectation(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(str(conf), environ={})
    message = caught.value.message
    assert "\n" not in message
    assert str(conf) in message
    for fragment in fragments:
        assert fragment in message


def test_kv_typo_in_auth_type_refuses_to_load(tmp_path: Path) -> None:
    conf = tmp_path / "old.conf"
    conf.write_text("http_server.enable=true\nhttp_server.auth_type=basci\n")
    with pytest.raises(ConfigError, match=r"old.conf:2: http_server.auth_type has value 'basci'"):
        load_settings(old_conf=str(conf), environ={})


def test_bad_environment_value_is_named(tmp_path: Path) -> None:
    conf = tmp_path / "ok.conf"
    conf.write_text("http_server { }\n")
    with pytest.raises(ConfigError, match="NANOMQ_HTTP_SERVER_PORT has value 'http'"):
        load_settings(str(conf), environ={"NANOMQ_HTTP_SERVER_PORT": "http"})


def test_unknown_keys_are_kept(tmp_path: Path) -> None:
    conf = tmp_path / "x.conf"
    conf.write_text('http_server { port = 8081 }\nplugin { libs = [{path = "/p.so"}] }\n')
    fmt, tree = load_tree(conf)
    assert fmt == "hocon"
    assert lookup(tree, "plugin.libs") == [{"path": "/p.so"}]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("mqtt {\n  max_packet_size = lots\n}\n", "mqtt.max_packet_size"),
        ("mqtt {\n  retry_interval = never\n}\n", "mqtt.retry_interval"),
        ("auth {\n  allow_anonymous = perhaps\n}\n", "auth.allow_anonymous"),
        ("sqlite {\n  disk_cache_size = big\n}\n", "sqlite.disk_cache_size"),
    ],
)
def test_bad_values_outside_http_server_fail_at_load(tmp_path: Path, text: str, key: str) -> None:
    from nanoadmin.runtime import load

    conf = tmp_path / "bad.conf"
    conf.write_text("http_server { port = 8081 }\n" + text)
    with pytest.raises(ConfigError) as caught:
        load(load_settings(str(conf), environ={}), scenario=None)
    assert f"{conf}:3: {key} has value" in caught.value.message


def test_both_nanomq_fixtures_build_the_live_configuration() -> None:
    from nanoadmin.runtime import load

    for name in ("nanomq.conf", "nanomq_old.conf"):
        loaded = load(load_settings(str(NANOMQ_ETC / name), environ={}), scenario=None)
        basic = loaded.config.section("basic", loaded.settings.http_server)
        assert isinstance(basic, dict), name
        assert basic["property_size"] == 32, name
    old = load(load_settings(str(NANOMQ_ETC / "nanomq_old.conf"), environ={}), scenario=None)
    basic = old.config.section("basic", old.settings.http_server)
    assert isinstance(basic, dict)
    assert (basic["url"], basic["max_packet_size"], basic["msq_len"], basic["qos_duration"]) == (
        "nmq-tcp://0.0.0.0:1883",
        10240,
        2048,
        10,
    )
    assert basic["keepalive_backoff"] == 1250.0  # KV's atof, as NanoMQ reads it
    assert old.config.bridges.names() == ["emqx"]


@pytest.mark.slow  # 400 parses racing in threads, 3-5 s
def test_hocon_parses_in_threads_at_once_as_alone() -> None:
    # config_update and reload parse in worker threads; pyhocon builds its grammar under a
    # switch of pyparsing's process-wide whitespace setting, so two parses at once used to
    # fail with syntax errors. Small texts: building the grammar is most of each parse.
    text = (
        "http_server {\n  port = 8081\n  auth_type = basic\n}\nmqtt {\n  max_packet_size = 1KB\n}\n"
    )
    alone = parse_hocon(text, basedir=NANOMQ_ETC, source="small.conf")

    def parse(_: int) -> dict[str, object] | str:
        try:
            return parse_hocon(text, basedir=NANOMQ_ETC, source="small.conf")
        except ConfigError as exc:
            return str(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to make the race likely
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(parse, range(400)))
    finally:
        sys.setswitchinterval(interval)
    assert [r for r in results if r != alone] == []


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ((NANOMQ_ETC / "nanomq.conf").read_text(), None),  # a HOCON file given as --old_conf
        ("# comment\n\nhttp_server.port=8081\nthis is not a config\n", 4),
    ],
)
def test_old_conf_refuses_a_line_that_is_not_key_value(
    tmp_path: Path, text: str, line: int | None
) -> None:
    conf = tmp_path / "old.conf"
    conf.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_settings(old_conf=str(conf), environ={})
    assert str(conf) in str(refused.value)
    assert "not key=value" in str(refused.value)
    if line is not None:
        assert f"line {line} " in str(refused.value)


def test_a_config_number_beyond_64_bits_fails_at_load_time(tmp_path: Path) -> None:
    from nanoadmin.runtime import load

    conf = tmp_path / "nanomq.conf"
    conf.write_text("http_server { port = 8081 }\nmqtt.property_size = 100000000000000000000\n")
    with pytest.raises(ConfigError, match=r"nanomq.conf:2: mqtt.property_size has value"):
        load(load_settings(str(conf), environ={}), scenario=None)
