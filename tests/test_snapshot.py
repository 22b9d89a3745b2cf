"""``nanoadmin snapshot`` run as a user runs it, against a server seeded with a known scenario."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from nanoadmin.model.scenario import parse_scenario, reference_scenario
from nanoadmin.testing import NanoadminServer, running
from tests.support.api import RULES_CONF

# Out of `make check`'s quick loop (each test runs the command as a process); `make test` runs it.
pytestmark = pytest.mark.slow

LISTINGS = (
    "/api/v4/clients",
    "/api/v4/clients/ref-sub-1",
    "/api/v4/clients/username/carol",
    "/api/v4/subscriptions",
    "/api/v4/subscriptions/w-1",
    "/api/v4/topic-tree",
    "/api/v4/bridges",
    "/api/v4/bridges/emqx",
    "/api/v4/rules",
    "/api/v4/rules/rule:2",
)


def snapshot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nanoadmin", "snapshot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def listings(server: NanoadminServer) -> dict[str, Any]:
    return {path: server.get(path).body for path in LISTINGS}


def seed(server: NanoadminServer) -> None:
    server.add_client(
        "w-1",
        username="carol",
        proto_ver=5,
        clean_start=False,
        will_topic="w/1",
        will_msg="gone",
        subscriptions=[{"topic": "a/#", "qos": 2}, {"topic": "$share/g/b/+", "qos": 1}],
    )
    server.request("POST", "/_nanoadmin/v1/clients/w-1/disconnect")
    server.request(
        "POST",
        "/api/v4/rules",
        {"rawsql": 'SELECT * FROM "y"', "actions": [{"name": "sqlite", "params": {"table": "t"}}]},
    )
    server.request("POST", "/api/v4/bridges/switch/emqx", {"data": {"bridge_switch": False}})


def test_a_snapshot_reproduces_the_servers_listings(tmp_path: Path) -> None:
    conf = tmp_path / "nanomq.conf"
    conf.write_text(RULES_CONF)
    with running(conf, scenario=reference_scenario()) as original:
        seed(original)
        expected = listings(original)
        result = snapshot("--from", original.url, "-u", "admin:public")
    assert result.returncode == 0, result.stderr
    assert "bridge-secret" not in result.stdout
    tree = tomllib.loads(result.stdout)
    assert [c["client_id"] for c in tree["clients"]][-1] == "w-1"
    with running(conf, scenario=parse_scenario(tree, "snapshot")) as copy:
        assert listings(copy) == expected


def test_snapshot_errors_name_what_failed(tmp_path: Path) -> None:
    with running() as server:
        refused = snapshot("--from", server.url, "-u", "admin:n0tit")
        assert refused.returncode == 1
        assert "GET /api/v4/subscriptions" in refused.stderr
        assert "401" in refused.stderr
        assert "n0tit" not in refused.stderr
        no_colon = snapshot("--from", server.url, "-u", "admin")
        assert no_colon.returncode == 2
        assert "USER:PASS" in no_colon.stderr
    gone = snapshot("--from", server.url)
    assert gone.returncode == 1
    assert "refused" in gone.stderr.lower()
    assert "Traceback" not in gone.stderr
    scheme = snapshot("--from", "ftp://x")
    assert scheme.returncode == 1
    assert "http://" in scheme.stderr
