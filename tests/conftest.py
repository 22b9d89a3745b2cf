"""Shared fixtures: RSA keys made here, and real servers on loopback ports with clients for them.

What they are built from is in ``tests/support``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import ClientSession
from aiohttp.pytest_plugin import AiohttpClient
from aiohttp.test_utils import TestServer
from aiohttp.web_runner import BaseRunner

from nanoadmin.app import create_app
from nanoadmin.http.limits import DEFAULT_MAX_CONNECTIONS
from nanoadmin.http.server import AppRunner
from nanoadmin.model.scenario import Scenario, demo_scenario, reference_scenario
from nanoadmin.settings import Settings, load_settings, settings_from_tree
from tests.support import (
    PROJECT,
    Client,
    ClientFactory,
    KeyPair,
    basic_settings,
    jwt_settings,
    write_keypair,
)
from tests.support.api import RULES_CONF
from tests.support.cli import Cli, CliResult, refuse_to_serve, run_main
from tests.support.openapi import FULL_CONF, Servers

# pytest's own harness, to run the nanoadmin fixture the package installs in a test session.
pytest_plugins = ("pytester",)


@pytest.fixture(scope="session")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def other_keypair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_keypair(tmp_path_factory.mktemp("other-keys"))


class GuardedTestServer(TestServer):
    """aiohttp's test server on nanoadmin's own runner: connections get the listener's guards
    and its JSON answers to malformed requests, as they do in ``nanoadmin start``."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return AppRunner(self.app, max_connections=DEFAULT_MAX_CONNECTIONS, **kwargs)


@pytest.fixture
def make_client(aiohttp_client: AiohttpClient) -> ClientFactory:
    """A real server on a loopback port for ``settings``, and a client for it."""

    async def factory(settings: Settings, scenario: Scenario | None = None) -> Client:
        app = create_app(settings, scenario or reference_scenario())
        # A TestServer's client serves app requests, as the Application overload says.
        return cast(Client, await aiohttp_client(GuardedTestServer(app)))

    return factory


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


@pytest.fixture
async def basic_client(make_client: ClientFactory, tmp_path: Path) -> Client:
    return await make_client(basic_settings(tmp_path))


@pytest.fixture
async def full_client(make_client: ClientFactory, tmp_path: Path) -> Client:
    """Basic auth, the rule engine on with one rule, and one MQTT bridge (``RULES_CONF``)."""
    conf = tmp_path / "nanomq.conf"
    conf.write_text(RULES_CONF)
    return await make_client(load_settings(str(conf), environ={}))


@pytest.fixture
async def servers(make_client: ClientFactory, tmp_path: Path, keypair: KeyPair) -> Servers:
    """Four servers: Basic with rules and a bridge, NanoMQ's defaults, JWT, and no config file."""
    full_dir, plain_dir, jwt_dir = tmp_path / "full", tmp_path / "plain", tmp_path / "jwt"
    for folder in (full_dir, plain_dir, jwt_dir):
        folder.mkdir()
    full_conf = full_dir / "nanomq.conf"
    full_conf.write_text(FULL_CONF)
    nofile = settings_from_tree({"http_server": {"username": "admin", "password": "public"}})
    return Servers(
        # The control API on, and an MQTT listener to hold a live client with.
        full=await make_client(
            load_settings(str(full_conf), control=True, mqtt="127.0.0.1:0", environ={})
        ),
        plain=await make_client(basic_settings(plain_dir), demo_scenario()),
        jwt=await make_client(jwt_settings(jwt_dir, keypair.public_path)),
        nofile=await make_client(nofile),
        full_conf=full_conf,
    )


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``cli(*args, cwd=None)``: the ``nanoadmin`` command in this process, as a process would run
    it from the project folder (or ``cwd``) with no NANOMQ_* variables; it may not serve."""
    for name in list(os.environ):
        if name.startswith("NANOMQ_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(PROJECT)
    monkeypatch.setattr("nanoadmin.http.server.run", refuse_to_serve)

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        return run_main(args, capsys)

    return run
