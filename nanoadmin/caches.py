"""Answers a server remembers while what they show stays the same; each bounded, each per server."""

from __future__ import annotations

import orjson

from nanoadmin.model import BrokerModel, Client

# (raw query, path parameters): what tells two /clients requests apart.
ListingKey = tuple[str, tuple[tuple[str, str], ...]]


class ClientJsonCache:
    """Each listed client's JSON, encoded once. The model never changes a Client record in
    place (a kick and a re-add make a new record), so the bytes stay right for as long as the
    model holds that record: an identity check, no invalidation. Cleared when full."""

    def __init__(self, max_size: int = 20_000) -> None:
        self.max_size = max_size
        self._entries: dict[str, tuple[Client, bytes]] = {}

    def __call__(self, client: Client) -> bytes:
        hit = self._entries.get(client.client_id)
        if hit is not None and hit[0] is client:
            return hit[1]
        # A copy of its own size: orjson's bytes object holds on to some 4 KB.
        encoded = bytes(memoryview(orjson.dumps(client.as_json())))
        if len(self._entries) >= self.max_size:
            self._entries.clear()
        self._entries[client.client_id] = (client, encoded)
        return encoded


class ListingCache:
    """Whole /clients bodies by request, kept while the broker's set of clients stays the same
    (``clients_version``): a dashboard polling a page of a large set then costs one lookup.
    Bounded in bytes, in all and for each body; only bodies answered with 200 are stored."""

    def __init__(self, max_bytes: int = 16 * 1024 * 1024, max_body: int = 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        # A body larger than this (an unpaged listing of thousands) is not kept: it would hold
        # megabytes for one request that seldom comes again.
        self.max_body = max_body
        self._bytes = 0
        self._broker: BrokerModel | None = None
        self._version = -1
        self._entries: dict[ListingKey, bytes] = {}

    def _current(self, broker: BrokerModel) -> bool:
        return broker is self._broker and broker.clients_version == self._version

    def get(self, broker: BrokerModel, key: ListingKey) -> bytes | None:
        if not self._current(broker):
            return None
        return self._entries.get(key)

    def put(self, broker: BrokerModel, key: ListingKey, body: bytes) -> None:
        if not self._current(broker) or self._bytes + len(body) > self.max_bytes:
            self._entries.clear()
            self._bytes = 0
            self._broker, self._version = broker, broker.clients_version
        if len(body) <= self.max_body:
            self._entries[key] = body
            self._bytes += len(body)


class SecondBody:
    """A body that depends on whole-second values only: built once a second, not per request."""

    __slots__ = ("stamp", "body")

    def __init__(self) -> None:
        self.stamp: tuple[int, int] = (-1, -1)
        self.body = b""


class Caches:
    """Every cache of one server."""

    def __init__(self) -> None:
        self.client_json = ClientJsonCache()
        self.listings = ListingCache()
        self.brokers = SecondBody()
