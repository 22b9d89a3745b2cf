"""What a running server holds and changes: settings, auth, the broker model, live config."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, replace

from nanoadmin.auth import AuthStrategy, make_strategy
from nanoadmin.caches import Caches
from nanoadmin.config import ConfigError
from nanoadmin.config.errors import key_location
from nanoadmin.config.values import ValueProblem
from nanoadmin.model import BrokerModel
from nanoadmin.model.live_config import LiveConfig
from nanoadmin.model.process import ProcessUsage
from nanoadmin.model.rules import RuleTable
from nanoadmin.model.scenario import Scenario, apply_scenario
from nanoadmin.settings import AUTH_TYPES, HttpServerSettings, Settings, reload_settings

logger = logging.getLogger("nanoadmin")


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything derived from one read of the config; swapped in whole, never patched."""

    settings: Settings
    strategy: AuthStrategy
    config: LiveConfig
    rules: RuleTable | None


def http_server_view(http: HttpServerSettings) -> dict[str, object]:
    """The http_server section as NanoMQ renders it (no_auth shows as basic, as NanoMQ does)."""
    return {
        "enable": http.enable,
        "port": http.port,
        "addr": http.ip_addr,
        "username": http.username,
        "password": http.password,
        "auth_type": "jwt" if http.auth_type == "jwt" else "basic",
    }


def load(settings: Settings, scenario: Scenario | None) -> Loaded:
    """Build strategy, live config and rules; ConfigError (and nothing else) when they cannot."""
    strategy = make_strategy(settings.http_server)
    try:
        config = LiveConfig(
            settings.tree, path=settings.path, http_server=http_server_view(settings.http_server)
        )
    except ValueProblem as problem:
        raise ConfigError(f"{key_location(settings.path, problem.key)}: {problem}") from None
    for bridge in scenario.bridges if scenario is not None else ():
        config.bridges.add(str(bridge["name"]), {k: v for k, v in bridge.items() if k != "name"})
    rules_block = settings.tree.get("rules")
    rules = RuleTable.from_tree(rules_block) if isinstance(rules_block, Mapping) else None
    return Loaded(settings, strategy, config, rules)


class Runtime:
    """The server's mutable state. Handlers read ``loaded`` once; changes swap it whole."""

    def __init__(self, settings: Settings, scenario: Scenario | None = None) -> None:
        self.loaded = load(settings, scenario)
        self.scenario = scenario
        self.broker = BrokerModel()
        if scenario is not None:
            apply_scenario(self.broker, scenario)
        self.process = ProcessUsage()
        self.started_at = time.monotonic()
        self.stop_event = asyncio.Event()
        self.caches = Caches()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def settings(self) -> Settings:
        return self.loaded.settings

    @property
    def strategy(self) -> AuthStrategy:
        return self.loaded.strategy

    @property
    def config(self) -> LiveConfig:
        return self.loaded.config

    def uptime_seconds(self) -> int:
        return int(time.monotonic() - self.started_at)

    async def reload(self) -> None:
        """Re-read the config file and keys; on failure keep everything and raise ConfigError.

        Parsing runs in a thread: a large file must not stall the requests being served.
        """
        settings, scenario = self.settings, self.scenario
        try:
            loaded = await asyncio.to_thread(lambda: load(reload_settings(settings), scenario))
        except ConfigError as exc:
            logger.error("reload failed, keeping the previous configuration: %s", exc)
            raise
        self.loaded = loaded
        logger.info("reloaded %s", self.settings.path)

    async def restart(self) -> None:
        """What /ctrl/restart does: reload, then seed the model afresh."""
        try:
            await self.reload()
        except ConfigError:
            return
        self.broker.clear()
        if self.scenario is not None:
            apply_scenario(self.broker, self.scenario)
        self.process = ProcessUsage()
        self.started_at = time.monotonic()
        logger.info("restarted: model re-seeded with %d clients", len(self.broker))

    def _spawn(self, make: Callable[[], Coroutine[None, None, None]]) -> None:
        task = asyncio.get_running_loop().create_task(make())
        # The loop keeps only weak references to tasks; hold one until it is done.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def reload_logged(self) -> None:
        """SIGHUP: reload in the background; a failure is logged and the previous state kept."""

        async def reload_quietly() -> None:
            with contextlib.suppress(ConfigError):
                await self.reload()

        self._spawn(reload_quietly)

    def update_http_server(self, section: Mapping[str, object]) -> None:
        """Apply a POSTed http_server section: auth changes take effect on the next request."""
        current = self.settings.http_server
        auth_type = section["auth_type"]
        # NanoMQ shows no_auth as "basic"; re-posting that view must not turn auth on.
        if auth_type not in AUTH_TYPES or (auth_type == "basic" and current.auth_type == "no_auth"):
            auth_type = current.auth_type
        port = section["port"]
        assert isinstance(port, int)
        http = replace(
            current,
            enable=bool(section["enable"]),
            port=port,
            username=str(section["username"]),
            password=str(section["password"]),
            auth_type=auth_type,
        )
        strategy = make_strategy(http) if http != current else self.strategy
        self.config.http_server = dict(section)
        self.loaded = replace(
            self.loaded, settings=replace(self.settings, http_server=http), strategy=strategy
        )

    def request_stop(self, delay: float = 0.1) -> None:
        """Stop after ``delay`` so the response that asked for it is sent first."""
        asyncio.get_running_loop().call_later(delay, self.stop_event.set)

    def request_restart(self, delay: float = 0.1) -> None:
        asyncio.get_running_loop().call_later(delay, self._spawn, self.restart)
