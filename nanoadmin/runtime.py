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
from nanoadmin.control.faults import Faults
from nanoadmin.control.journal import Journal
from nanoadmin.guards import operator_folders
from nanoadmin.model import BrokerModel
from nanoadmin.model.bridges import BridgeTable
from nanoadmin.model.live_config import LiveConfig
from nanoadmin.model.process import ProcessUsage
from nanoadmin.model.rules import RuleTable
from nanoadmin.model.scenario import Scenario, ScenarioError, apply_scenario
from nanoadmin.settings import HttpServerSettings, Settings, reload_settings

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


class Clock:
    """The wall clock nanoadmin reads (JWT ``exp``, uptime, /brokers): the system's, moved by
    the control API's offset so that a test can make every token expire at once."""

    __slots__ = ("offset",)

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything derived from one read of the config; swapped in whole, never patched."""

    settings: Settings
    strategy: AuthStrategy
    config: LiveConfig
    rules: RuleTable | None


def seeded_rules(
    settings: Settings, scenario: Scenario | None, held: RuleTable | None = None
) -> RuleTable | None:
    """The scenario's rules (with their ids) if it has any, else the config's; None when the
    config has no rule engine. ScenarioError for rules on a server without one."""
    if settings.rules is None:
        if scenario is not None and scenario.rules:
            raise ScenarioError(
                "rules: the config has no rules block, so the rule engine is off; "
                "leave rules out or add a rules block"
            )
        return None
    if scenario is not None and scenario.rules is not None:
        return RuleTable.from_seeds(scenario.rules, held)
    return RuleTable.from_settings(settings.rules)


def load(
    settings: Settings,
    scenario: Scenario | None = None,
    clock: Callable[[], float] = time.time,
) -> Loaded:
    """Build strategy, live config and rules from ``settings`` and ``scenario``; ConfigError
    when they cannot be built (a key file that does not load)."""
    strategy = make_strategy(settings.http_server, clock)
    config = LiveConfig(settings)
    if scenario is not None and scenario.bridges:
        config.bridges = BridgeTable.seeded(settings.bridges, scenario.bridges)
    try:
        rules = seeded_rules(settings, scenario)
    except ScenarioError as exc:
        raise ConfigError(exc.message) from None
    return Loaded(settings, strategy, config, rules)


class Runtime:
    """The server's mutable state. Handlers read ``loaded`` once; changes swap it whole."""

    def __init__(
        self, settings: Settings, scenario: Scenario | None = None, faults: Faults | None = None
    ) -> None:
        self.clock = Clock()
        # What reads the time: the system's clock itself until an offset is set (a call less
        # on every /brokers and every cached JWT), then ``clock``.
        self.now: Callable[[], float] = time.time
        self.loaded = load(settings, scenario, self.now)
        # What the server started with: a restart, a reload and POST /_nanoadmin/v1/reset
        # go back to it.
        self.scenario = scenario
        self.broker = BrokerModel()
        if scenario is not None:
            apply_scenario(self.broker, scenario)
        self.process = ProcessUsage()
        self.started_at = time.monotonic()
        # Only the control API reads the journal: without it, nothing is kept.
        self.journal = Journal(settings.nanoadmin.journal_size if settings.nanoadmin.control else 0)
        self.faults = faults if faults is not None else Faults()
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
        return max(0, int(time.monotonic() - self.started_at + self.clock.offset))

    def set_clock_offset(self, offset: float) -> None:
        """Move the time JWT ``exp``, uptime and /brokers read by ``offset`` seconds."""
        self.clock.offset = offset
        self.now = self.clock if offset else time.time
        self.loaded.strategy.use_clock(self.now)

    def replace_state(self, scenario: Scenario) -> None:
        """The model, bridges and rules as if the server had started with ``scenario`` under
        the config it has now; ScenarioError, and nothing changes, when that cannot be."""
        rules = seeded_rules(self.settings, scenario, self.loaded.rules)
        bridges = BridgeTable.seeded(self.settings.bridges, scenario.bridges, self.config.bridges)
        bridges.edited = True
        self.broker.clear()
        apply_scenario(self.broker, scenario)
        self.config.bridges = bridges
        self.loaded = replace(self.loaded, rules=rules)
        self.process = ProcessUsage()
        self.started_at = time.monotonic()

    def reset(self) -> None:
        """Back to the state the server started with: model, bridges, rules and clock."""
        self.set_clock_offset(0.0)
        self.replace_state(self.scenario if self.scenario is not None else Scenario())
        self.config.bridges.edited = False

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
            return load(new, scenario, self.now)

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
        strategy = make_strategy(http, self.now)
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
