"""What a new user meets first: make run, the command's help and messages, config warnings,
NanoMQ's own spellings of the log options, JSON logs, and memory after a big listing."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import NANOMQ_ETC, PROJECT
from tests.support.cli import Cli
from tests.support.processes import running_server
from tests.support.rawhttp import rss_kib

# Out of `make check`'s quick loop (the README's commands, run as processes); `make test` runs it.
pytestmark = pytest.mark.slow

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:public").decode()}


def get(url: str) -> int:
    with urllib.request.urlopen(urllib.request.Request(url, headers=AUTH), timeout=10) as reply:
        reply.read()
        return int(reply.status)


def test_make_run_takes_a_port() -> None:
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=9123"], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert "nanoadmin start --conf conf/nanomq.conf --port 9123" in dry.stdout
    plain = subprocess.run(["make", "-n", "run"], cwd=PROJECT, capture_output=True, text=True)
    assert "--port" not in plain.stdout
    # make run needs the runtime only: the test tools are not part of it.
    assert "'.[dev]'" not in plain.stdout


def test_bare_command_shows_the_commands(cli: Cli) -> None:
    result = cli()
    assert result.returncode == 2
    for command in ("start", "check-config", "keygen", "token"):
        assert command in result.stderr
    assert result.stderr.rstrip().endswith("nanoadmin: error: a command is needed")


def test_help_explains_every_option_and_its_default(cli: Cli) -> None:
    start = cli("start", "--help").stdout
    assert "trace, debug, info, warn, error or fatal" in start
    assert "--log_level" in start  # NanoMQ's spelling
    assert "--no-access-log" in start
    assert "$NANOMQ_CONF_PATH" in start
    token = cli("token", "--help").stdout
    assert "an extra payload claim" in token
    assert "(default: 1h)" in token
    assert "(default: None)" not in start + token


def test_a_missing_config_says_where_and_what_to_do(cli: Cli, tmp_path: Path) -> None:
    result = cli("check-config", cwd=tmp_path)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith("nanoadmin: conf/nanomq.conf: config file not found")
    assert str(tmp_path) in line
    assert "--conf FILE" in line
    assert "NANOMQ_CONF_PATH" in line


def test_unknown_keys_outside_http_server_are_named_with_a_hint(cli: Cli, tmp_path: Path) -> None:
    conf = tmp_path / "typos.conf"
    conf.write_text(
        "http_server {\n  port = 8081\n}\n"
        "htpp_server {\n  port = 9\n}\n"
        "mqtt {\n  max_pakcet_size = 1MB\n}\n"
    )
    result = cli("check-config", "--conf", str(conf))
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert f"warning: {conf}:4: unknown key htpp_server is ignored (did you mean http_server?)" in (
        warnings
    )
    assert any(
        "mqtt.max_pakcet_size is ignored (did you mean mqtt.max_packet_size?)" in line
        for line in warnings
    )


@pytest.mark.parametrize(
    "name", ["nanomq.conf", "nanomq_old.conf", "nanomq_bridge.conf", "nanomq_acl.conf"]
)
def test_nanomqs_own_files_draw_no_warning(cli: Cli, tmp_path: Path, name: str) -> None:
    path = NANOMQ_ETC / name
    if name in ("nanomq_bridge.conf", "nanomq_acl.conf"):  # fragments: give them a server
        path = tmp_path / name
        path.write_text("http_server { }\n" + (NANOMQ_ETC / name).read_text())
    result = cli("check-config", "--conf", str(path))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


def test_a_variable_the_file_beats_is_said(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NANOMQ_HTTP_SERVER_PORT", "9999")
    monkeypatch.setenv("NANOMQ_HTTP_SERVER_PASSWORD", "from-env")
    result = cli("check-config", "--conf", "conf/nanomq.conf")
    assert "http_server.port = 8081" in result.stdout
    assert "http_server.port in the file beats NANOMQ_HTTP_SERVER_PORT='9999'" in result.stderr
    assert "NANOMQ_HTTP_SERVER_PASSWORD=******" in result.stderr
    assert "from-env" not in result.stderr


def test_nanomqs_log_spellings_and_the_banner_at_any_level(tmp_path: Path) -> None:
    conf = tmp_path / "nanomq.conf"
    conf.write_text(
        "http_server {\n  username = admin\n  password = public\n}\nlog.level = error\n"
    )
    # The file's log.level (error) beats NANOMQ_LOG_LEVEL; neither hides the banner.
    with running_server("--conf", str(conf), env={"NANOMQ_LOG_LEVEL": "debug"}) as srv:
        assert get(srv.url + "/api/v4/brokers") == 200
        log = srv.stop()
    assert "serving NanoMQ's /api/v4" in log
    assert "nanoadmin.access" not in log
    assert "DEBUG" not in log
    # The flag beats both, in NanoMQ's spelling.
    with running_server("--conf", str(conf), "--log_level", "warn") as srv:
        log = srv.stop()
    assert "serving NanoMQ's /api/v4" in log
    with running_server("--conf", str(conf), "--log-level", "debug") as srv:
        assert get(srv.url + "/api/v4/brokers") == 200
        log = srv.stop()
    assert f"DEBUG nanoadmin.settings: read {conf} (hocon)" in log


def test_json_logs_and_the_access_log_switch(tmp_path: Path) -> None:
    conf = tmp_path / "nanomq.conf"
    conf.write_text("http_server {\n  username = admin\n  password = public\n}\n")
    with running_server("--conf", str(conf), "--log-format", "json") as srv:
        assert get(srv.url + "/api/v4/brokers") == 200
        log = srv.stop()
    entries = [json.loads(line) for line in log.splitlines() if line.strip()]
    access = [
        e
        for e in entries
        if e["logger"] == "nanoadmin.access" and e.get("target") == "/api/v4/brokers"
    ]
    assert access
    assert access[0]["method"] == "GET"
    assert access[0]["status"] == 200
    assert access[0]["auth"] == "basic"
    assert "Authorization" not in log
    assert "YWRtaW46cHVibGlj" not in log
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    with running_server("--conf", str(conf), "--no-access-log") as srv:
        assert get(srv.url + "/api/v4/brokers") == 200
        log = srv.stop()
    assert "nanoadmin.access" not in log
    assert "serving NanoMQ's /api/v4" in log


def test_host_beats_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "nanomq.conf"
    conf.write_text('http_server {\n  ip_addr = "127.0.0.2"\n}\n')
    with running_server("--conf", str(conf), "--host", "127.0.0.1") as srv:
        assert get(srv.url + "/status") == 200


def test_an_unpaged_listing_gives_its_memory_back(tmp_path: Path) -> None:
    """Before, one unpaged /clients of 100,000 clients took RSS from 107 to 500 MB for good."""
    conf = PROJECT / "conf" / "nanomq.conf"
    with running_server("--conf", str(conf), "--mock-clients", "20000") as srv:
        time.sleep(0.3)
        before = rss_kib(srv.process.pid)
        for _ in range(3):
            assert get(srv.url + "/api/v4/clients") == 200
        after = rss_kib(srv.process.pid)
    print(f"\nUNPAGED /clients x3 of 20,000: RSS {before // 1024} -> {after // 1024} MiB")
    # 20,000 clients' JSON is 3 MB; kept per client by orjson it would be 80 MB.
    assert (after - before) // 1024 < 25
