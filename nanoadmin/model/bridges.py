"""MQTT bridges from the config: rendered nodes, on/off, (un)subscriptions and counters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from nanoadmin.model.broker import ModelError
from nanoadmin.model.secrets import MASK, masked, restore_secrets
from nanoadmin.model.topics import filter_matches
from nanoadmin.settings import (
    BridgeSettings,
    BridgeTopic,
    TlsSettings,
    bridge_from_block,
    bridge_topics,
)


class BridgeNotFound(ModelError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no bridge named {name!r}")


class BridgeRequestInvalid(ModelError):
    """A bridge request whose body lacks what NanoMQ requires."""


def render_tls(tls: TlsSettings) -> dict[str, object]:
    """A TLS block in NanoMQ's ``tls`` shape, its files by name."""
    return {
        "enable": tls.enable,
        "url": tls.url,
        "key_password": tls.key_password,
        "key": tls.keyfile,
        "cert": tls.certfile,
        "cacert": tls.cacertfile,
        "verify_peer": tls.verify_peer,
        "fail_if_no_peer_cert": tls.fail_if_no_peer_cert,
    }


def _topic(topic: BridgeTopic, *, qos_always: bool) -> dict[str, object]:
    item: dict[str, object] = {}
    if topic.prefix is not None:
        item["prefix"] = topic.prefix
    if topic.suffix is not None:
        item["suffix"] = topic.suffix
    item["remote_topic"] = topic.remote_topic
    item["local_topic"] = topic.local_topic
    if topic.qos is not None or qos_always:
        item["qos"] = topic.qos or 0
    return item


def render_node(bridge: BridgeSettings) -> dict[str, object]:
    """One bridge as NanoMQ renders its node."""
    connector: dict[str, object] = {
        "server": bridge.server,
        "proto_ver": bridge.proto_ver,
        "clientid": bridge.clientid,
        "clean_start": bridge.clean_start,
        "username": bridge.username,
        "password": bridge.password,
        "keepalive": bridge.keepalive,
    }
    if bridge.conn_properties is not None:
        connector["conn_properties"] = dict(bridge.conn_properties)
    if bridge.will_properties is not None:
        connector["will_properties"] = dict(bridge.will_properties)
    node: dict[str, object] = {
        "name": bridge.name,
        "enable": bridge.enable,
        "parallel": bridge.parallel,
        "connector": connector,
        "forwards": [_topic(t, qos_always=False) for t in bridge.forwards],
        "subscription": [_topic(t, qos_always=True) for t in bridge.subscription],
    }
    if bridge.sub_properties is not None:
        node["sub_properties"] = dict(bridge.sub_properties)
    node["tls"] = render_tls(bridge.tls)
    return node


# What a scenario's bridge entry sets; a configured bridge of the same name keeps the rest.
_SCENARIO_FIELDS = (
    "enable",
    "server",
    "proto_ver",
    "clientid",
    "clean_start",
    "username",
    "password",
    "keepalive",
    "forwards",
    "subscription",
)
_CONNECTOR_KEYS = ("server", "proto_ver", "clientid", "clean_start", "username", "password")


def _scenario_topics(items: object) -> list[dict[str, object]]:
    assert isinstance(items, list)
    return [
        {key: item[key] for key in ("remote_topic", "local_topic", "qos") if key in item}
        for item in items
    ]


@dataclass(slots=True)
class BridgeCounters:
    sent_messages: int = 0
    sent_bytes: int = 0
    received_messages: int = 0
    received_bytes: int = 0

    def as_metrics(self, name: str) -> dict[str, object]:
        return {
            "bridge name": name,
            "sent messages": self.sent_messages,
            "received messages": self.received_messages,
            "sent bytes": self.sent_bytes,
            "received bytes": self.received_bytes,
            "MQTT reconnect times": 0,
            "uplink msg dropped": 0,
            "downlink msg dropped": 0,
        }


class BridgeTable:
    """The configured bridges in config order, as NanoMQ's bridge endpoints see them."""

    def __init__(self, bridges: Iterable[BridgeSettings] = ()) -> None:
        self._nodes: dict[str, dict[str, object]] = {}
        self._counters: dict[str, BridgeCounters] = {}
        # Whether the API changed a bridge (PUT, switch, sub, unsub, DELETE).
        self.edited = False
        for bridge in bridges:
            self.add(bridge)

    @classmethod
    def seeded(
        cls,
        configured: Iterable[BridgeSettings],
        entries: Iterable[Mapping[str, object]],
        held: BridgeTable | None = None,
    ) -> BridgeTable:
        """The configured bridges with a scenario's ``entries``: each over the configured
        bridge of its name (whose TLS and properties stay) or after them. A masked password
        keeps the one ``held`` (or the config) has for that name."""
        configured = tuple(configured)
        table = cls(configured)
        by_name = {bridge.name: bridge for bridge in configured}
        for entry in entries:
            name = str(entry["name"])
            bridge = bridge_from_block(name, entry, prefix=name, strict=False)
            base = by_name.get(name)
            if base is not None:
                bridge = replace(
                    base, **{field: getattr(bridge, field) for field in _SCENARIO_FIELDS}
                )
            node = render_node(bridge)
            current = held._nodes.get(name) if held is not None else None
            current = current or table._nodes.get(name)
            if current is not None:
                restore_secrets(node, current)
            table._nodes[name] = node
            table._counters.setdefault(name, BridgeCounters())
        return table

    def scenario_entries(self) -> list[dict[str, object]]:
        """The bridges as a scenario lists them, passwords masked."""
        entries: list[dict[str, object]] = []
        for node in self._nodes.values():
            connector = node["connector"]
            assert isinstance(connector, Mapping)
            entry: dict[str, object] = {"name": node["name"], "enable": node["enable"]}
            for key in _CONNECTOR_KEYS:
                if connector.get(key) is not None:
                    entry[key] = MASK if key == "password" else connector[key]
            entry["keepalive"] = connector["keepalive"]
            entry["forwards"] = _scenario_topics(node["forwards"])
            entry["subscription"] = _scenario_topics(node["subscription"])
            entries.append(entry)
        return entries

    def add(self, bridge: BridgeSettings) -> None:
        self._nodes[bridge.name] = render_node(bridge)
        self._counters.setdefault(bridge.name, BridgeCounters())

    def __len__(self) -> int:
        return len(self._nodes)

    def names(self) -> list[str]:
        return list(self._nodes)

    def nodes(self, name: str | None = None) -> list[object]:
        """Rendered nodes, all or the named one, secrets masked."""
        chosen = (
            self._nodes.values()
            if name is None
            else [self._nodes[name]]
            if name in self._nodes
            else []
        )
        return [masked(node) for node in chosen]

    def replace(self, name: str, body: Mapping[str, object]) -> None:
        """PUT /bridges/{name}: 108 without the name key, 115 for an unknown bridge."""
        config = body.get(name)
        if not isinstance(config, Mapping):
            raise BridgeRequestInvalid(f"body must have an object under the key {name!r}")
        if name not in self._nodes:
            raise BridgeNotFound(name)
        node = render_node(bridge_from_block(name, config, prefix=name, strict=False))
        restore_secrets(node, self._nodes[name])
        self._nodes[name] = node
        self.edited = True

    def switch(self, name: str, on: object) -> None:
        if not isinstance(on, bool):
            raise BridgeRequestInvalid("data.bridge_switch must be true or false")
        node = self._nodes.get(name)
        if node is None:
            raise BridgeNotFound(name)
        node["enable"] = on
        self.edited = True

    def subscribe(self, name: str, entries: object) -> int:
        node = self._nodes.get(name)
        if node is None:
            raise BridgeNotFound(name)
        added = [
            _topic(topic, qos_always=True)
            for topic in bridge_topics("subscription", entries, strict=False)
        ]
        subscriptions = node["subscription"]
        assert isinstance(subscriptions, list)
        for item in added:
            subscriptions[:] = [
                s for s in subscriptions if s["remote_topic"] != item["remote_topic"]
            ]
            subscriptions.append(item)
        self.edited = True
        return len(added)

    def unsubscribe(self, name: str, entries: object) -> int:
        node = self._nodes.get(name)
        if node is None or not node["enable"]:
            raise BridgeNotFound(name)  # NanoMQ: a disabled bridge counts as not found
        topics = {
            entry["topic"]
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, Mapping) and isinstance(entry.get("topic"), str)
        }
        subscriptions = node["subscription"]
        assert isinstance(subscriptions, list)
        before = len(subscriptions)
        subscriptions[:] = [s for s in subscriptions if s["remote_topic"] not in topics]
        self.edited = True
        return before - len(subscriptions)

    def delete(self, name: str) -> None:
        if self._nodes.pop(name, None) is None:
            raise BridgeNotFound(name)
        self._counters.pop(name, None)
        self.edited = True

    def forward(self, topic: str, payload_size: int) -> None:
        """Count a local publish on every enabled bridge that forwards its topic."""
        for name, node in self._nodes.items():
            forwards = node["forwards"]
            assert isinstance(forwards, list)
            if node["enable"] and any(filter_matches(f["local_topic"], topic) for f in forwards):
                counters = self._counters[name]
                counters.sent_messages += 1
                counters.sent_bytes += payload_size

    def metrics(self) -> list[dict[str, object]]:
        return [
            self._counters[name].as_metrics(name)
            for name, node in self._nodes.items()
            if node["enable"]
        ]
