"""Large, deterministic, plausible scenarios for load tests (``--mock-clients N``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from nanoadmin.model.broker import Client, ConnState, RetainedMessage
from nanoadmin.model.scenario import ClientSeed, Scenario

CLIENTS_PER_SITE = 200
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_CONNECTED: ConnState = "connected"
_DISCONNECTED: ConnState = "disconnected"


def _mix(value: int) -> int:
    """SplitMix64's finaliser: 64 well-spread bits from any integer."""
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


class _Site:
    """The strings all clients of one site share, built once rather than once per client."""

    __slots__ = ("username", "config", "tariff", "temps", "everything", "dashboard_temps")

    def __init__(self, number: int) -> None:
        self.username = f"site-{number:04d}"
        self.config = (f"site/{number}/config/#", 1)
        self.tariff = (f"site/{number}/tariff", 1)
        self.temps = (f"site/{number}/+/+/temp", 0)
        self.everything = (f"site/{number}/#", 0)
        self.dashboard_temps = (f"$share/dashboards/site/{number}/+/+/temp", 0)


_ALERTS = ("alerts/#", 1)
_INGEST = ("$share/ingest/site/+/+/+/temp", 1)


class MockClients(Sequence[ClientSeed]):
    """``n`` generated clients, each made on demand from (seed, index) alone.

    Nothing is stored, so a server can keep a 100 000-client scenario for re-seeding at no
    cost, and any client can be made without the ones before it.
    """

    __slots__ = ("_count", "_seed", "_sites", "_salt")

    def __init__(self, count: int, seed: int) -> None:
        if count < 0:
            raise ValueError(f"cannot generate {count} clients")
        self._count = count
        self._seed = seed
        self._salt = _mix(seed & _MASK)
        site_count = max(1, -(-count // CLIENTS_PER_SITE))
        self._sites = [_Site(number) for number in range(1, site_count + 1)]

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> ClientSeed: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[ClientSeed, ...]: ...

    def __getitem__(self, index: int | slice) -> ClientSeed | tuple[ClientSeed, ...]:
        positions = range(self._count)
        if isinstance(index, slice):
            return tuple(map(self._make, positions[index]))
        return self._make(positions[index])

    def __iter__(self) -> Iterator[ClientSeed]:
        return map(self._make, range(self._count))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MockClients):
            return (self._count, self._seed) == (other._count, other._seed)
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MockClients(count={self._count}, seed={self._seed})"

    def retained(self) -> tuple[RetainedMessage, ...]:
        """One retained ``site/<n>/status`` per site."""
        if not self._count:
            return ()
        return tuple(
            RetainedMessage(f"site/{number}/status", b"online", 1)
            for number in range(1, len(self._sites) + 1)
        )

    def _make(self, index: int) -> ClientSeed:
        bits = _mix(((index + 1) * _GOLDEN + self._salt) & _MASK)
        # One 64-bit draw: bytes are independent rolls out of 256, the top bits pick the site.
        kind = bits & 0xFF
        offline = (bits >> 8) & 0xFF < 13  # 5%
        clean_start = not offline and (bits >> 16) & 0xFF >= 26  # 10% keep a session
        proto_roll = (bits >> 24) & 0xFF
        extra = (bits >> 32) & 0xFF
        site = self._sites[(bits >> 40) % len(self._sites)]
        conn_state = _DISCONNECTED if offline else _CONNECTED
        will_topic: str | None = None
        will_msg: str | None = None
        subscriptions: tuple[tuple[str, int], ...]
        if kind < 141:  # 55% sensors
            client_id = f"sensor-{index:06d}"
            username = site.username
            keepalive = 60 if proto_roll < 205 else 120
            proto_ver = 4 if proto_roll < 179 else 5 if proto_roll < 243 else 3
            command = (f"cmd/{client_id}", 1)
            subscriptions = (command, site.config) if extra < 102 else (command,)
        elif kind < 192:  # 20% meters
            client_id = f"meter-{index:06d}"
            username = "metering"
            keepalive = 300
            proto_ver = 3 if proto_roll < 77 else 4
            command = (f"cmd/{client_id}", 2)
            subscriptions = (command, site.tariff) if extra < 128 else (command,)
        elif kind < 223:  # 12% gateways
            client_id = f"gateway-{index:06d}"
            username = "gateway"
            keepalive = 30
            proto_ver = 5
            will_topic = f"status/{client_id}"
            will_msg = "offline"
            command = (f"cmd/{client_id}", 1)
            subscriptions = (command, site.temps, _ALERTS) if extra < 128 else (command, site.temps)
        elif kind < 243:  # 8% dashboards
            client_id = f"dashboard-{index:06d}"
            username = "ops"
            keepalive = 60
            proto_ver = 5
            subscriptions = (
                (site.everything, _ALERTS, site.dashboard_temps)
                if extra < 77
                else (site.everything, _ALERTS)
            )
        else:  # 5% shared-subscription ingest workers
            client_id = f"ingest-{index:06d}"
            username = "ingest"
            keepalive = 60
            proto_ver = 5
            subscriptions = (_INGEST,)
        client = Client(
            client_id,
            username,
            keepalive,
            conn_state,
            clean_start,
            proto_ver,
            will_topic,
            will_msg,
        )
        return ClientSeed(client, subscriptions)


def generate_mock_clients(n: int, *, seed: int = 0) -> Scenario:
    """``n`` clients of a fleet of sites; the same ``n`` and ``seed`` give the same scenario.

    Mostly sensors and meters (each listening on ``cmd/<client_id>``), some gateways with a
    will, dashboards and shared-subscription ingest workers; about 5% are offline persistent
    sessions. Each site (200 clients) also has a retained ``site/<n>/status``.
    """
    clients = MockClients(n, seed)
    return Scenario(clients, clients.retained())
