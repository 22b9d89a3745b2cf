"""What a running server holds and changes: settings, auth, the broker model, live config."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace

from nanoadmin.auth import AuthStrategy, make_strategy
from nanoadmin.caches import Caches
from nanoadmin.config import ConfigError
from nanoadmin.model import BrokerModel
from nanoadmin.model.live_config import LiveConfig
from nanoadmin.model.process import ProcessUsage
from nanoadmin.model.rules import RuleTable
from nanoadmin.model.scenario import Scenario, apply_scenario
from nanoadmin.settings import HttpServerSettings, Settings, bridge_from_block, reload_settings

logger = logging.getLogger("nanoadmin")


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything derived from one read of the config; swapped in whole, never patched."""

    settings: Settings
    strategy: AuthStrategy
    config: LiveConfig
    rules: RuleTable | None


def load(settings: Settings, scenario: Scenario | None = None) -> Loaded:
    """Build strategy, live config and rules from ``settings``; ConfigError (and nothing else)
    when they cannot be built (a key file that does not load)."""
    strategy = make_strategy(settings.http_server)
    config = LiveConfig(settings)
    for bridge in scenario.bridges if scenario is not None else ():
        name = str(bridge["name"])
        config.bridges.add(bridge_from_block(name, bridge, prefix=name, strict=False))
    rules = RuleTable.from_settings(settings.rules) if settings.rules is not None else None
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

    def update_http_server(self, http: HttpServerSettings) -> None:
        """Apply a POSTed http_server section: auth changes take effect on the next request.
        ConfigError, and nothing changes, when its strategy cannot be built."""
        if http == self.settings.http_server:
            return
        strategy = make_strategy(http)
        self.loaded = replace(
            self.loaded, settings=replace(self.settings, http_server=http), strategy=strategy
        )

    def request_stop(self, delay: float = 0.1) -> None:
        """Stop after ``delay`` so the response that asked for it is sent first."""
        asyncio.get_running_loop().call_later(delay, self.stop_event.set)

    def request_restart(self, delay: float = 0.1) -> None:
        asyncio.get_running_loop().call_later(delay, self._spawn, self.restart)
