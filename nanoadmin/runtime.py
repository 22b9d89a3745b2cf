"""What a running server holds and changes: settings, auth, the broker model, live config."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from nanoadmin.auth import AuthStrategy, make_strategy
from nanoadmin.caches import Caches
from nanoadmin.config import ConfigError
from nanoadmin.guards import operator_folders
from nanoadmin.model import BrokerModel
from nanoadmin.model.live_config import LiveConfig
from nanoadmin.model.process import ProcessUsage
from nanoadmin.model.rules import RuleTable
from nanoadmin.model.scenario import Scenario, apply_scenario
from nanoadmin.settings import HttpServerSettings, Settings, bridge_from_block, reload_settings

logger = logging.getLogger("nanoadmin")
T = TypeVar("T")


# How long reading a config may take before its request is answered with an error. The thread
# doing it runs on (Python cannot stop a thread) but never holds up a stop: it is a daemon, and
# the next parse gives up waiting for it (config/hocon.py's PARSE_LOCK_TIMEOUT).
CONFIG_READ_TIMEOUT = 15.0


async def off_the_loop(
    work: Callable[..., T], *args: object, timeout: float = CONFIG_READ_TIMEOUT
) -> T:
    """``work(*args)`` in a daemon thread of its own, its result or exception awaited for at
    most ``timeout`` seconds (ConfigError after that)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = work(*args)
        except BaseException as exc:  # handed to the awaiting coroutine, not lost
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle, None, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="nanoadmin-config", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(done), timeout)
    except TimeoutError:
        raise ConfigError(f"reading the config took longer than {timeout:g} s") from None


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
        # The http_server values POST /configuration changed: a POST /reload keeps them.
        self._posted_http: dict[str, Any] = {}
        # Where a config posted through the API may name files (nanoadmin.guards).
        self.operator_folders = operator_folders(settings)
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

    async def reload(self, *, keep_changes: bool = False) -> None:
        """Re-read the config file and keys; on failure keep everything and raise ConfigError.
        With ``keep_changes`` (POST /reload), what the API changed stays as it is, as in
        NanoMQ, where that POST never re-reads the file; SIGHUP and /ctrl/restart read the
        file afresh, as ``nanomq reload`` and a restart do.

        Parsing runs in a thread: a large file must not stall the requests being served.
        """
        settings, scenario = self.settings, self.scenario
        posted = dict(self._posted_http) if keep_changes else {}

        def read() -> Loaded:
            new = reload_settings(settings)
            if posted:
                new = replace(new, http_server=replace(new.http_server, **posted))
            return load(new, scenario)

        try:
            loaded = await off_the_loop(read)
        except ConfigError as exc:
            logger.error("reload failed, keeping the previous configuration: %s", exc)
            raise
        if keep_changes:
            loaded.config.carry_over(self.config)
        else:
            self._posted_http.clear()
        self.loaded = loaded
        self.operator_folders = operator_folders(loaded.settings)
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
        current = self.settings.http_server
        if http == current:
            return
        strategy = make_strategy(http)
        for name in ("enable", "port", "username", "password", "auth_type", "password_set"):
            if getattr(http, name) != getattr(current, name):
                self._posted_http[name] = getattr(http, name)
        self.loaded = replace(
            self.loaded, settings=replace(self.settings, http_server=http), strategy=strategy
        )

    def request_stop(self, delay: float = 0.1) -> None:
        """Stop after ``delay`` so the response that asked for it is sent first."""
        asyncio.get_running_loop().call_later(delay, self.stop_event.set)

    def request_restart(self, delay: float = 0.1) -> None:
        asyncio.get_running_loop().call_later(delay, self._spawn, self.restart)
