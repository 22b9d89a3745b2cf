"""The in-memory broker: clients, subscriptions, topic tree, retained messages and counters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import chain, islice
from typing import Generic, Literal, NamedTuple, Protocol, TypeVar

from nanoadmin.model.topics import (
    SHARE_PREFIX,
    filter_matches,
    is_valid_filter,
    is_valid_topic_name,
    split_shared,
)

ConnState = Literal["connected", "disconnected"]
HTTP_PUBLISHER_ID = "NanoMQ-HTTP-Client"

T = TypeVar("T")


@dataclass(slots=True)
class Client:
    client_id: str
    username: str = ""
    keepalive: int = 60
    conn_state: ConnState = "connected"
    clean_start: bool = True
    proto_ver: int = 4
    will_topic: str | None = None
    will_msg: str | None = None
    # Seconds since the epoch when a live connection opened the session; None for mock clients.
    connected_at: float | None = None

    @property
    def proto_name(self) -> str:
        return "MQIsdp" if self.proto_ver == 3 else "MQTT"

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "client_id": self.client_id,
            "username": self.username,
            "keepalive": self.keepalive,
            "conn_state": self.conn_state,
            "clean_start": self.clean_start,
            "proto_name": self.proto_name,
            "proto_ver": self.proto_ver,
        }
        if self.will_topic is not None:
            body["will_topic"] = self.will_topic
            body["will_msg"] = self.will_msg if self.will_msg is not None else ""
        return body


class Subscription(NamedTuple):
    client_id: str
    topic: str
    qos: int

    def as_json(self) -> dict[str, object]:
        return {"clientid": self.client_id, "topic": self.topic, "qos": self.qos}


@dataclass(frozen=True, slots=True)
class RetainedMessage:
    topic: str
    payload: bytes
    qos: int = 0


class Message(NamedTuple):
    """One published message, as the model hands it to the sinks of matching subscribers."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    publisher: str
    # As the HTTP publish names them (``user_properties``, ``content_type``...); None if none.
    properties: Mapping[str, object] | None = None


class ClientSink(Protocol):
    """What the model tells a live connection (the MQTT listener) about the client it holds.

    The model calls these inside its own methods, once its state is consistent again. ``deliver``
    must not change the model (defer anything that would); ``removed`` may publish.
    """

    def deliver(self, message: Message, subscription: Subscription) -> None:
        """``message`` matched ``subscription`` (its qos is the granted one) of this client."""

    def subscribed(self, subscription: Subscription, new: bool) -> None:
        """:meth:`BrokerModel.subscribe` added ``subscription`` (``new``) or changed its qos."""

    def removed(self, *, restart: bool) -> None:
        """The model no longer holds the client: kicked, or (``restart``) the model cleared."""


@dataclass(frozen=True, slots=True)
class BrokerStats:
    connections: int
    sessions: int
    topics: int
    subscribers: int
    messages_received: int
    messages_sent: int
    messages_dropped: int
    connections_max: int
    sessions_max: int
    topics_max: int
    subscribers_max: int


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Page ``page`` (from 1) of size ``limit`` of a listing, and the listing's total ``count``."""

    items: tuple[T, ...]
    page: int
    limit: int
    count: int

    @property
    def hasnext(self) -> bool:
        return self.page * self.limit < self.count


class ModelError(Exception):
    """A request the broker model refuses; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class ClientNotFound(ModelError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"client {client_id!r} not found")
        self.client_id = client_id


class ClientOffline(ModelError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"client {client_id!r} is not connected")
        self.client_id = client_id


class DuplicateClient(ModelError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"client {client_id!r} already exists")
        self.client_id = client_id


class LiveClient(ModelError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"client {client_id!r} is held by a live MQTT connection")
        self.client_id = client_id


class InvalidTopic(ModelError):
    def __init__(self, topic: str, expected: str) -> None:
        super().__init__(f"{topic!r} is not a valid {expected}")
        self.topic = topic


class InvalidQos(ModelError):
    def __init__(self, qos: object) -> None:
        super().__init__(f"qos {qos!r} is not 0, 1 or 2")
        self.qos = qos


def _check_qos(qos: int) -> None:
    if isinstance(qos, bool) or qos not in (0, 1, 2):
        raise InvalidQos(qos)


def _page_start(page: int, limit: int) -> int:
    if page < 1 or limit < 1:
        raise ValueError(f"page {page} of size {limit}: both must be at least 1")
    return (page - 1) * limit


def _subscriber_key(client_id: str, group: str | None) -> str:
    # NUL cannot occur in an MQTT string, so a shared key never collides with a client id.
    return client_id if group is None else f"{group}\0{client_id}"


def _client_of(subscriber_key: str) -> str:
    return subscriber_key.rpartition("\0")[2]


class _TrieNode:
    __slots__ = ("children", "subscribers", "groups", "filter")

    def __init__(self) -> None:
        self.children: dict[str, _TrieNode] | None = None
        # One subscriber key, or several in arrival order: most filters have a single subscriber
        # (cmd/<client_id>), and a bare str costs nothing next to a dict.
        self.subscribers: str | dict[str, None] | None = None
        # share group -> its members subscribed here; None while nobody shares this filter
        self.groups: dict[str, int] | None = None
        # The real filter ending here (the subscription's own string where it can be), once
        # somebody subscribed to it.
        self.filter: str | None = None

    def deliveries(self) -> int:
        subscribers = self.subscribers
        if subscribers is None:
            return 0
        if isinstance(subscribers, str):
            return 1
        groups = self.groups
        if groups is None:
            return len(subscribers)
        # Each share group receives one copy, whatever its number of members.
        return len(subscribers) - sum(groups.values()) + len(groups)

    def subscriber_keys(self) -> list[str]:
        subscribers = self.subscribers
        if subscribers is None:
            return []
        if isinstance(subscribers, str):
            return [subscribers]
        return list(subscribers)


class _SubscriptionTrie:
    """Real filters split into levels; a node carries the subscribers of the filter ending there."""

    __slots__ = ("root", "filter_count")

    def __init__(self) -> None:
        self.root = _TrieNode()
        self.filter_count = 0

    def add(self, client_id: str, group: str | None, real_filter: str) -> bool:
        """Record a subscriber at ``real_filter``; False if it was already there."""
        subscriber_key = client_id if group is None else _subscriber_key(client_id, group)
        node = self.root
        for level in real_filter.split("/"):
            children = node.children
            if children is None:
                children = node.children = {}
            child = children.get(level)
            if child is None:
                # Filters like cmd/<client_id> are common: key the node by the client id's
                # own string rather than keep an equal copy of it alive.
                key = client_id if level == client_id else level
                child = children[key] = _TrieNode()
            node = child
        if node.filter is None:
            node.filter = real_filter
        subscribers = node.subscribers
        if subscribers is None:
            node.subscribers = subscriber_key
            self.filter_count += 1
        elif isinstance(subscribers, str):
            if subscribers == subscriber_key:
                return False
            node.subscribers = {subscribers: None, subscriber_key: None}
        elif subscriber_key in subscribers:
            return False
        else:
            subscribers[subscriber_key] = None
        if group is not None:
            if node.groups is None:
                node.groups = {}
            node.groups[group] = node.groups.get(group, 0) + 1
        return True

    def remove(self, client_id: str, group: str | None, real_filter: str) -> None:
        subscriber_key = _subscriber_key(client_id, group)
        path: list[tuple[_TrieNode, str]] = []
        node = self.root
        for level in real_filter.split("/"):
            assert node.children is not None
            path.append((node, level))
            node = node.children[level]
        subscribers = node.subscribers
        if isinstance(subscribers, dict):
            del subscribers[subscriber_key]
            if len(subscribers) == 1:
                node.subscribers = next(iter(subscribers))
        else:
            node.subscribers = None
            self.filter_count -= 1
        if group is not None:
            assert node.groups is not None
            members = node.groups[group] - 1
            if members:
                node.groups[group] = members
            else:
                del node.groups[group]
                if not node.groups:
                    node.groups = None
        for parent, level in reversed(path):
            if node.subscribers is not None or node.children is not None:
                break
            assert parent.children is not None
            del parent.children[level]
            if not parent.children:
                parent.children = None
            node = parent

    def deliveries(self, topic: str) -> int:
        """Copies a message on ``topic`` makes: one per matching subscription or share group."""
        return sum(node.deliveries() for node in self.matches(topic))

    def matches(self, topic: str) -> list[_TrieNode]:
        """The nodes with subscribers whose filter matches ``topic``."""
        levels = topic.split("/")
        topic_depth = len(levels)
        # Wildcards in the first level never match $SYS-style topics (MQTT-4.7.2-1).
        dollar = topic.startswith("$")
        found: list[_TrieNode] = []
        pending: list[tuple[_TrieNode, int]] = [(self.root, 0)]
        while pending:
            node, depth = pending.pop()
            children = node.children
            if depth == topic_depth:
                if node.subscribers is not None:
                    found.append(node)
                if children is not None:
                    # "a/#" also matches "a".
                    multi = children.get("#")
                    if multi is not None:
                        found.append(multi)
                continue
            if children is None:
                continue
            if depth or not dollar:
                multi = children.get("#")
                if multi is not None:
                    # A "#" node is always a filter's last level, so it has subscribers.
                    found.append(multi)
                single = children.get("+")
                if single is not None:
                    pending.append((single, depth + 1))
            exact = children.get(levels[depth])
            if exact is not None:
                pending.append((exact, depth + 1))
        return found

    def levels(self) -> list[list[dict[str, object]]]:
        """NanoMQ's /topic-tree: levels breadth first, each node's children in byte order."""
        root = self.root
        levels: list[list[dict[str, object]]] = [
            [{"topic": "", "cld_cnt": len(root.children or ())}]
        ]
        parents = [root]
        while True:
            row: list[dict[str, object]] = []
            below: list[_TrieNode] = []
            for parent in parents:
                children = parent.children
                if children is None:
                    continue
                # Code point order of str is the byte order of its UTF-8 encoding.
                for name in sorted(children):
                    child = children[name]
                    entry: dict[str, object] = {
                        "topic": name,
                        "cld_cnt": len(child.children or ()),
                    }
                    if child.subscribers is not None:
                        entry["clientid"] = list(map(_client_of, child.subscriber_keys()))
                    row.append(entry)
                    below.append(child)
            if not row:
                return levels
            levels.append(row)
            parents = below


class BrokerModel:
    """Clients, their sessions and subscriptions, retained messages and broker counters.

    Every method is synchronous and leaves the model consistent, so on one asyncio thread each
    call is atomic. Listings return fresh lists of records the model never changes in place:
    ``Subscription`` (a tuple) and ``RetainedMessage`` are immutable, and a ``Client`` handed
    out is the model's own record, so treat it as read-only.

    A client held by a live connection has a :class:`ClientSink`: publishes reach it there,
    and a kick or a clear tells it so (the model imports nothing of MQTT or HTTP).
    """

    def __init__(self) -> None:
        self._clients_version = 0
        self._reset()

    def _reset(self) -> None:
        self._clients: dict[str, Client] = {}
        self._sinks: dict[str, ClientSink] = {}
        self._share_turn = 0
        self._retained_bytes = 0
        self._clients_version += 1
        # Same keys and order as _clients (so paging chains its values in C); tuples because
        # most clients hold one to three subscriptions.
        self._subscriptions: dict[str, tuple[Subscription, ...]] = {}
        self._subscription_count = 0
        self._subscriber_count = 0
        self._by_username: dict[str, dict[str, None]] = {}
        self._trie = _SubscriptionTrie()
        self._retained: dict[str, RetainedMessage] = {}
        self._connections = 0
        self._messages_received = 0
        self._messages_sent = 0
        self._messages_dropped = 0
        self._connections_max = 0
        self._sessions_max = 0
        self._topics_max = 0
        self._subscribers_max = 0

    def clear(self) -> None:
        """Forget everything, counters and high-water marks included, as a broker restart does."""
        sinks = list(self._sinks.values())
        self._reset()
        for sink in sinks:
            sink.removed(restart=True)

    def __len__(self) -> int:
        return len(self._clients)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._clients

    @property
    def clients_version(self) -> int:
        """Changes whenever a client is added or removed (records never change in place), so
        whatever was derived from the clients alone stays right while it is the same."""
        return self._clients_version

    # -- clients -------------------------------------------------------------------------------

    def add_client(self, client: Client, subscriptions: Iterable[tuple[str, int]] = ()) -> None:
        """Add a session (connected or kept offline) with its subscriptions, all or nothing.

        The model keeps ``client`` itself as its record (a 100 000-client scenario is then held
        once, not twice) and never changes it: do not change it after adding it either.
        """
        client_id = client.client_id
        if client_id in self._clients:
            raise DuplicateClient(client_id)
        wanted = tuple(subscriptions)
        for topic_filter, qos in wanted:
            if not is_valid_filter(topic_filter):
                raise InvalidTopic(topic_filter, "topic filter")
            _check_qos(qos)
        self._clients[client_id] = client
        self._clients_version += 1
        same_username = self._by_username.get(client.username)
        if same_username is None:
            self._by_username[client.username] = {client_id: None}
        else:
            same_username[client_id] = None
        if client.conn_state == "connected":
            self._connections += 1
        # The bulk path of apply_scenario: build the client's tuple once, not one per filter.
        held: list[Subscription] = []
        add_to_trie = self._trie.add
        for topic_filter, qos in wanted:
            subscription = Subscription(client_id, topic_filter, qos)
            group, real_filter = split_shared(topic_filter)
            if add_to_trie(client_id, group, real_filter):
                held.append(subscription)
            else:  # the same filter twice: as a re-subscription, the later qos in place
                held = [subscription if s.topic == topic_filter else s for s in held]
        self._subscriptions[client_id] = tuple(held)
        if held:
            self._subscription_count += len(held)
            self._subscriber_count += 1
        self._note_maxima()

    def get_client(self, client_id: str) -> Client | None:
        return self._clients.get(client_id)

    def kick(self, client_id: str) -> bool:
        """Remove a client with its session and subscriptions; False if there was none.

        A live connection holding the client is told (:meth:`ClientSink.removed`) and closes.
        """
        sink = self._sinks.pop(client_id, None)
        removed = self._remove(client_id)
        if sink is not None:
            sink.removed(restart=False)
        return removed

    def _remove(self, client_id: str) -> bool:
        client = self._clients.pop(client_id, None)
        if client is None:
            return False
        self._clients_version += 1
        same_username = self._by_username[client.username]
        del same_username[client_id]
        if not same_username:
            del self._by_username[client.username]
        if client.conn_state == "connected":
            self._connections -= 1
        held = self._subscriptions.pop(client_id)
        if held:
            self._subscriber_count -= 1
            self._subscription_count -= len(held)
        for subscription in held:
            group, real_filter = split_shared(subscription.topic)
            self._trie.remove(client_id, group, real_filter)
        self._note_maxima()
        return True

    def clients(self) -> list[Client]:
        return list(self._clients.values())

    # -- live sessions -------------------------------------------------------------------------

    def sink(self, client_id: str) -> ClientSink | None:
        """The live connection's sink holding ``client_id``, if one does."""
        return self._sinks.get(client_id)

    def open_session(self, client: Client, sink: ClientSink, *, resume: bool) -> bool:
        """Hold ``client`` for a live connection; True when an existing session was resumed.

        With ``resume`` and a session under the same id, the session keeps its subscriptions
        and ``client`` replaces its record. Otherwise any session under that id is dropped (its
        old sink is not told: the caller took it over) and ``client`` starts afresh.
        """
        client_id = client.client_id
        existing = self._clients.get(client_id)
        if existing is not None and resume:
            self._replace(existing, client)
            self._sinks[client_id] = sink
            return True
        self._sinks.pop(client_id, None)
        self._remove(client_id)
        self.add_client(client)
        self._sinks[client_id] = sink
        return False

    def close_session(self, client_id: str, sink: ClientSink, *, keep: bool) -> bool:
        """``sink``'s connection ended: keep its session offline (the sink stays, to hear of
        messages for it) or drop it. False, changing nothing, when ``sink`` no longer holds it.
        """
        if self._sinks.get(client_id) is not sink:
            return False
        client = self._clients[client_id]
        if not keep:
            del self._sinks[client_id]
            self._remove(client_id)
        elif client.conn_state != "disconnected":
            self._replace(client, replace(client, conn_state="disconnected"))
        return True

    def set_conn_state(self, client_id: str, conn_state: ConnState) -> Client:
        """Connect or disconnect a mock client (its session and subscriptions stay); a client
        a live MQTT connection holds is that connection's to change."""
        client = self._clients.get(client_id)
        if client is None:
            raise ClientNotFound(client_id)
        if client_id in self._sinks:
            raise LiveClient(client_id)
        if client.conn_state != conn_state:
            updated = replace(client, conn_state=conn_state)
            self._replace(client, updated)
            return updated
        return client

    def _replace(self, old: Client, new: Client) -> None:
        client_id = old.client_id
        # Assigning to an existing key keeps the client's place in the listing.
        self._clients[client_id] = new
        self._clients_version += 1
        if old.username != new.username:
            same_username = self._by_username[old.username]
            del same_username[client_id]
            if not same_username:
                del self._by_username[old.username]
            self._by_username.setdefault(new.username, {})[client_id] = None
        self._connections += (new.conn_state == "connected") - (old.conn_state == "connected")
        self._note_maxima()

    def find_clients(
        self,
        *,
        client_id: str | None = None,
        username: str | None = None,
        conn_state: str | None = None,
        clean_start: bool | None = None,
        proto_name: str | None = None,
        proto_ver: int | None = None,
    ) -> list[Client]:
        """Clients matching every given filter, in insertion order."""
        candidates: Iterable[Client]
        if client_id is not None:
            found = self._clients.get(client_id)
            candidates = () if found is None else (found,)
        elif username is not None:
            candidates = map(self._clients.__getitem__, self._by_username.get(username, ()))
        else:
            candidates = self._clients.values()
        checks: list[Callable[[Client], bool]] = []
        if username is not None and client_id is not None:
            checks.append(lambda c: c.username == username)
        if conn_state is not None:
            checks.append(lambda c: c.conn_state == conn_state)
        if clean_start is not None:
            checks.append(lambda c: c.clean_start == clean_start)
        if proto_name is not None:
            checks.append(lambda c: c.proto_name == proto_name)
        if proto_ver is not None:
            checks.append(lambda c: c.proto_ver == proto_ver)
        if not checks:
            return list(candidates)
        if len(checks) == 1:
            return list(filter(checks[0], candidates))
        return [c for c in candidates if all(check(c) for check in checks)]

    def clients_page(
        self,
        *,
        page: int,
        limit: int,
        client_id: str | None = None,
        username: str | None = None,
        conn_state: str | None = None,
        clean_start: bool | None = None,
        proto_name: str | None = None,
        proto_ver: int | None = None,
    ) -> Page[Client]:
        """Page ``page`` (from 1) of ``limit`` clients of :meth:`find_clients`, with the total."""
        start = _page_start(page, limit)
        filters = (client_id, username, conn_state, clean_start, proto_name, proto_ver)
        if all(value is None for value in filters):
            # islice skips in C over the dict's values: no copy of the whole set.
            items = tuple(islice(self._clients.values(), start, start + limit))
            return Page(items, page, limit, len(self._clients))
        matching = self.find_clients(
            client_id=client_id,
            username=username,
            conn_state=conn_state,
            clean_start=clean_start,
            proto_name=proto_name,
            proto_ver=proto_ver,
        )
        return Page(tuple(matching[start : start + limit]), page, limit, len(matching))

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(
        self, client_id: str, topic_filter: str, qos: int, *, notify: bool = True
    ) -> bool:
        """Subscribe a connected client; re-subscribing a filter changes its qos in place.

        True for a new subscription. The client's sink, if any, hears of it unless ``notify``
        is false (its own connection subscribing).
        """
        self._require_connected(client_id)
        if not is_valid_filter(topic_filter):
            raise InvalidTopic(topic_filter, "topic filter")
        _check_qos(qos)
        new = self._attach(client_id, topic_filter, qos)
        self._note_maxima()
        sink = self._sinks.get(client_id) if notify else None
        if sink is not None:
            sink.subscribed(Subscription(client_id, topic_filter, qos), new)
        return new

    def unsubscribe(self, client_id: str, topic_filter: str) -> bool:
        """Drop a connected client's subscription; False if it did not hold that filter."""
        self._require_connected(client_id)
        held = self._subscriptions[client_id]
        index = next((i for i, s in enumerate(held) if s.topic == topic_filter), None)
        if index is None:
            return False
        remaining = held[:index] + held[index + 1 :]
        self._subscriptions[client_id] = remaining
        if not remaining:
            self._subscriber_count -= 1
        self._subscription_count -= 1
        group, real_filter = split_shared(topic_filter)
        self._trie.remove(client_id, group, real_filter)
        self._note_maxima()
        return True

    def _require_connected(self, client_id: str) -> None:
        client = self._clients.get(client_id)
        if client is None:
            raise ClientNotFound(client_id)
        if client.conn_state != "connected":
            raise ClientOffline(client_id)

    def _attach(self, client_id: str, topic_filter: str, qos: int) -> bool:
        group, real_filter = split_shared(topic_filter)
        subscription = Subscription(client_id, topic_filter, qos)
        held = self._subscriptions[client_id]
        if self._trie.add(client_id, group, real_filter):
            self._subscriptions[client_id] = (*held, subscription)
            self._subscription_count += 1
            if not held:
                self._subscriber_count += 1
            return True
        self._subscriptions[client_id] = tuple(
            subscription if s.topic == topic_filter else s for s in held
        )
        return False

    def subscriptions(self, client_id: str | None = None) -> list[Subscription]:
        """All subscriptions (clients in insertion order) or one client's, each in arrival order."""
        if client_id is not None:
            return list(self._subscriptions.get(client_id, ()))
        return list(self._all_subscriptions())

    def subscriptions_page(
        self, *, page: int, limit: int, client_id: str | None = None
    ) -> Page[Subscription]:
        """Page ``page`` (from 1) of ``limit`` subscriptions of :meth:`subscriptions`."""
        start = _page_start(page, limit)
        if client_id is not None:
            held = self._subscriptions.get(client_id, ())
            return Page(held[start : start + limit], page, limit, len(held))
        items = tuple(islice(self._all_subscriptions(), start, start + limit))
        return Page(items, page, limit, self._subscription_count)

    def _all_subscriptions(self) -> Iterator[Subscription]:
        # C-level iteration, clients in insertion order; empty tuples cost next to nothing.
        return chain.from_iterable(self._subscriptions.values())

    def topic_tree(self) -> list[list[dict[str, object]]]:
        """NanoMQ's /topic-tree: levels breadth first, each node's children in byte order."""
        return self._trie.levels()

    # -- messages ------------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        client_id: str = HTTP_PUBLISHER_ID,
        properties: Mapping[str, object] | None = None,
    ) -> int:
        """Route one message and count it; returns the number of deliveries.

        A delivery is one per matching subscription, or per share group (one member of it, a
        connected one where there is one). Those of clients with a sink are handed to it, with
        ``client_id`` as the publisher and ``properties`` as given: routing itself ignores them
        (a subscribed publisher receives its own message, as in MQTT 3).
        """
        if not is_valid_topic_name(topic):
            raise InvalidTopic(topic, "topic name")
        _check_qos(qos)
        self._messages_received += 1
        nodes = self._trie.matches(topic)
        deliveries = 0
        for node in nodes:
            deliveries += node.deliveries()
        if deliveries:
            self._messages_sent += deliveries
        else:
            self._messages_dropped += 1
        if retain:
            self._retain(topic, payload, qos)
        if self._sinks and nodes:
            self._hand_out(
                nodes, Message(topic, bytes(payload), qos, retain, client_id, properties)
            )
        return deliveries

    def _hand_out(self, nodes: list[_TrieNode], message: Message) -> None:
        sinks = self._sinks
        for node in nodes:
            real_filter = node.filter
            assert real_filter is not None
            keys = node.subscriber_keys()
            groups: dict[str, list[str]] | None = None
            for key in keys:
                if "\0" not in key:
                    sink = sinks.get(key)
                    if sink is not None:
                        self._hand(sink, key, real_filter, message)
                    continue
                if groups is None:
                    groups = {}
                group, _, client_id = key.partition("\0")
                groups.setdefault(group, []).append(client_id)
            for group, members in (groups or {}).items():
                client_id = self._share_member(members)
                sink = sinks.get(client_id)
                if sink is not None:
                    self._hand(sink, client_id, f"{SHARE_PREFIX}{group}/{real_filter}", message)

    def _hand(self, sink: ClientSink, client_id: str, topic_filter: str, message: Message) -> None:
        for subscription in self._subscriptions[client_id]:
            if subscription.topic == topic_filter:
                sink.deliver(message, subscription)
                return

    def _share_member(self, members: list[str]) -> str:
        """Members take turns; a connected one goes before an offline session."""
        self._share_turn += 1
        count = len(members)
        first = self._share_turn % count
        clients = self._clients
        for step in range(count):
            client_id = members[(first + step) % count]
            if clients[client_id].conn_state == "connected":
                return client_id
        return members[first]

    def store_retained(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Seed a retained message without counting a publish; an empty payload clears it."""
        if not is_valid_topic_name(topic):
            raise InvalidTopic(topic, "topic name")
        _check_qos(qos)
        self._retain(topic, payload, qos)

    def _retain(self, topic: str, payload: bytes, qos: int) -> None:
        old = self._retained.get(topic)
        if old is not None:
            self._retained_bytes -= len(old.payload)
        if payload:
            # Assigning to an existing key keeps the topic's place in the listing.
            self._retained[topic] = RetainedMessage(topic, bytes(payload), qos)
            self._retained_bytes += len(payload)
        elif old is not None:
            del self._retained[topic]

    def retained(self) -> list[RetainedMessage]:
        return list(self._retained.values())

    def retained_matching(self, topic_filter: str) -> list[RetainedMessage]:
        """The retained messages a new subscription to ``topic_filter`` receives."""
        return [m for m in self._retained.values() if filter_matches(topic_filter, m.topic)]

    def is_retained(self, topic: str) -> bool:
        return topic in self._retained

    @property
    def retained_count(self) -> int:
        return len(self._retained)

    @property
    def retained_bytes(self) -> int:
        """The payload bytes of every retained message."""
        return self._retained_bytes

    # -- counters ------------------------------------------------------------------------------

    def _note_maxima(self) -> None:
        if self._connections > self._connections_max:
            self._connections_max = self._connections
        if len(self._clients) > self._sessions_max:
            self._sessions_max = len(self._clients)
        if self._trie.filter_count > self._topics_max:
            self._topics_max = self._trie.filter_count
        if self._subscriber_count > self._subscribers_max:
            self._subscribers_max = self._subscriber_count

    def stats(self) -> BrokerStats:
        return BrokerStats(
            connections=self._connections,
            sessions=len(self._clients),
            topics=self._trie.filter_count,
            subscribers=self._subscriber_count,
            messages_received=self._messages_received,
            messages_sent=self._messages_sent,
            messages_dropped=self._messages_dropped,
            connections_max=self._connections_max,
            sessions_max=self._sessions_max,
            topics_max=self._topics_max,
            subscribers_max=self._subscribers_max,
        )
