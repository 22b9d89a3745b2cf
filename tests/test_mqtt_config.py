"""The listener's config: NanoMQ's keys, refusals naming the key, and off costing nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from nanoadmin.config import ConfigError
from nanoadmin.config.kv import kv_to_tree, parse_kv
from nanoadmin.mqtt.auth import check_connect
from nanoadmin.settings import (
    MqttSettings,
    load_settings,
    settings_from_tree,
    with_mqtt_bind,
)
from tests.support import NANOMQ_ETC, PROJECT
from tests.support.processes import start_process


def mqtt_settings(
    tree: Mapping[str, object], bind: str | None = None, *, kv: bool = False
) -> MqttSettings:
    settings = settings_from_tree(tree, fmt="kv" if kv else "hocon")
    return (settings if bind is None else with_mqtt_bind(settings, bind)).mqtt


def test_nanomq_files_give_the_bind_size_multiplier_and_passwords(tmp_path: Path) -> None:
    conf = tmp_path / "nanomq.conf"
    text = (NANOMQ_ETC / "nanomq.conf").read_text()
    conf.write_text(
        text.replace(
            '# password = {include "/etc/nanomq_pwd.conf"}',
            'password = {include "nanomq_pwd.conf"}',
        )
    )
    (tmp_path / "nanomq_pwd.conf").write_text((NANOMQ_ETC / "nanomq_pwd.conf").read_text())
    settings = load_settings(str(conf), environ={}).mqtt
    assert (settings.enable, settings.host, settings.port) == (False, "0.0.0.0", 1883)
    # 256MB is one byte past what MQTT can encode: the protocol's ceiling.
    assert settings.max_packet_size == 268_435_455
    assert settings.keepalive_multiplier == 1.25
    assert settings.max_mqueue_len == 2048
    assert set(settings.auth.passwords) == {"admin", "client"}
    assert "public" not in repr(settings)
    assert check_connect(settings.auth, "client", b"public") is None
    assert check_connect(settings.auth, "client", b"wrong") == "bad_credentials"
    assert check_connect(settings.auth, None, None) is None  # allow_anonymous = true


def test_the_kv_format_enables_and_binds_the_same_way() -> None:
    text = "url=nmq-tcp://127.0.0.1:1999\nallow_anonymous=false\nnanoadmin.mqtt.enable=true\n"
    tree = kv_to_tree(parse_kv(text + "auth.1.login=u\nauth.1.password=p\n"))
    settings = mqtt_settings(tree, kv=True)
    assert settings.enable
    assert (settings.host, settings.port, settings.auth.allow_anonymous) == (
        "127.0.0.1",
        1999,
        False,
    )
    assert check_connect(settings.auth, None, None) == "not_authorized"
    assert check_connect(settings.auth, "u", b"p") is None


def test_a_multiplier_nanomq_takes_is_held_to_what_a_listener_can_use() -> None:
    # NanoMQ's own KV sample says keepalive_backoff=1250; the config still loads.
    assert mqtt_settings({"mqtt": {"keepalive_multiplier": 1250}}).keepalive_multiplier == 100.0
    assert mqtt_settings({"mqtt": {"keepalive_multiplier": 0.5}}).keepalive_multiplier == 1.0


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("1884", ("127.0.0.9", 1884)),
        ("0.0.0.0:1885", ("0.0.0.0", 1885)),
        ("[::1]:1886", ("::1", 1886)),
    ],
)
def test_the_command_line_bind_beats_the_file(bind: str, expected: tuple[str, int]) -> None:
    tree = {"listeners": {"tcp": {"bind": "127.0.0.9:1883"}}}
    settings = mqtt_settings(tree, bind)
    assert settings.enable
    assert (settings.host, settings.port) == expected


@pytest.mark.parametrize(
    ("tree", "bind", "named"),
    [
        ({"nanoadmin": {"mqtt": {"enable": "maybe"}}}, None, "nanoadmin.mqtt.enable"),
        ({"listeners": {"tcp": {"bind": "localhost:99999"}}}, None, "listeners.tcp.bind"),
        ({}, "host:port", "--mqtt"),
        ({"mqtt": {"max_packet_size": "lots"}}, "1883", "mqtt.max_packet_size"),
        ({"mqtt": {"keepalive_multiplier": "fast"}}, "1883", "mqtt.keepalive_multiplier"),
        ({"mqtt": {"max_mqueue_len": -1}}, "1883", "mqtt.max_mqueue_len"),
        ({"auth": {"allow_anonymous": "perhaps"}}, "1883", "auth.allow_anonymous"),
        ({"auth": {"password": {"bob": 123456}}}, "1883", "auth.password.bob"),
        ({"auth": {"password": "hunter2"}}, "1883", "auth.password"),
    ],
)
def test_invalid_values_are_config_errors_naming_the_key(
    tree: dict[str, object], bind: str | None, named: str
) -> None:
    with pytest.raises(ConfigError) as error:
        mqtt_settings(tree, bind)
    assert named in error.value.message
    assert "123456" not in error.value.message
    assert "hunter2" not in error.value.message


def test_a_bad_mqtt_option_stops_the_start_with_status_2(tmp_path: Path) -> None:
    process = start_process(
        "start", "--conf", str(PROJECT / "conf" / "nanomq.conf"), "--mqtt", "x:y"
    )
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 2
    assert stderr.strip().splitlines()[-1].startswith("nanoadmin: --mqtt has value 'x:y'")


def test_the_listener_off_imports_nothing_of_it() -> None:
    code = (
        "import sys\n"
        "from nanoadmin.app import create_app\n"
        "from nanoadmin.settings import load_settings\n"
        "app = create_app(load_settings('conf/nanomq.conf', environ={}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('nanoadmin.mqtt')))\n"
        "print(len(app.cleanup_ctx))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    modules, cleanup = result.stdout.splitlines()
    assert "nanoadmin.mqtt.listener" not in modules
    assert "nanoadmin.mqtt.codec" not in modules
    assert cleanup == "0"
