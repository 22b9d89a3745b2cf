"""MQTT bridges from the config: rendered nodes, on/off, (un)subscriptions and counters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nanoadmin.config.values import ValueProblem, boolean, duration_seconds, integer
from nanoadmin.model.broker import ModelError
from nanoadmin.model.secrets import masked, restore_secrets
from nanoadmin.model.topics import filter_matches

TLS_KEYS = (
    "enable",
    "url",
    "key_password",
    "key",
    "cert",
    "cacert",
    "verify_peer",
    "fail_if_no_peer_cert",
)


class BridgeNotFound(ModelError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no bridge named {name!r}")


class BridgeRequestInvalid(ModelError):
    """A bridge request whose body lacks what NanoMQ requires."""


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None if value is None else str(value)


def _int(key: str, value: object, default: int) -> int:
    if value is None:
        return default
    try:
        return integer(key, value)
    except ValueProblem:
        return default


def _bool(key: str, value: object, default: bool) -> bool:
    if value is None:
        return default
    try:
        return boolean(key, value)
    except ValueProblem:
        return default


def empty_tls() -> dict[str, object]:
    return {
        key: False if key in ("enable", "verify_peer", "fail_if_no_peer_cert") else None
        for key in TLS_KEYS
    }


def tls_from(ssl: object) -> dict[str, object]:
    """An ``ssl {}`` block (bridge or auth_http) in the rendered ``tls`` shape, paths kept."""
    tls = empty_tls()
    if isinstance(ssl, Mapping):
        tls["enable"] = _bool("ssl.enable", ssl.get("enable"), bool(ssl))
        tls["key_password"] = _str_or_none(ssl.get("key_password"))
        tls["key"] = _str_or_none(ssl.get("keyfile"))
        tls["cert"] = _str_or_none(ssl.get("certfile"))
        tls["cacert"] = _str_or_none(ssl.get("cacertfile"))
        tls["verify_peer"] = _bool("ssl.verify_peer", ssl.get("verify_peer"), False)
        tls["fail_if_no_peer_cert"] = _bool(
            "ssl.fail_if_no_peer_cert", ssl.get("fail_if_no_peer_cert"), False
        )
    return tls


def _topics(entries: object, *, qos_always: bool) -> list[dict[str, object]]:
    topics: list[dict[str, object]] = []
    if not isinstance(entries, list):
        return topics
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        remote, local = entry.get("remote_topic"), entry.get("local_topic")
        if not isinstance(remote, str) or not isinstance(local, str):
            continue
        item: dict[str, object] = {}
        for affix in ("prefix", "suffix"):
            if isinstance(entry.get(affix), str):
                item[affix] = entry[affix]
        item["remote_topic"] = remote
        item["local_topic"] = local
        qos = _int("qos", entry.get("qos"), -1)
        if qos_always or 0 <= qos <= 2:
            item["qos"] = min(max(qos, 0), 2)
        topics.append(item)
    return topics


def node_from_config(name: str, config: Mapping[str, object]) -> dict[str, object]:
    """One ``bridges.mqtt.<name>`` block (or a PUT body) as NanoMQ renders the node."""
    proto_ver = _int("proto_ver", config.get("proto_ver"), 4)
    keepalive = config.get("keepalive")
    try:
        keepalive_s = int(duration_seconds("keepalive", keepalive)) if keepalive is not None else 60
    except ValueProblem:
        keepalive_s = 60
    connector: dict[str, object] = {
        "server": _str_or_none(config.get("server")) or "",
        "proto_ver": proto_ver,
        "clientid": _str_or_none(config.get("clientid")),
        "clean_start": _bool("clean_start", config.get("clean_start"), True),
        "username": _str_or_none(config.get("username")),
        "password": _str_or_none(config.get("password")),
        "keepalive": keepalive_s,
    }
    if proto_ver == 5:
        for block in ("conn_properties", "will_properties"):
            value = config.get(block)
            if isinstance(value, Mapping):
                connector[block] = dict(value)
    node: dict[str, object] = {
        "name": name,
        "enable": _bool("enable", config.get("enable"), True),
        "parallel": _int("max_parallel_processes", config.get("max_parallel_processes"), 2),
        "connector": connector,
        "forwards": _topics(config.get("forwards"), qos_always=False),
        "subscription": _topics(config.get("subscription"), qos_always=True),
    }
    sub_properties = config.get("sub_properties")
    if proto_ver == 5 and isinstance(sub_properties, Mapping):
        node["sub_properties"] = dict(sub_properties)
    node["tls"] = tls_from(config.get("ssl"))
    return node


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

    def __init__(self, bridges: Mapping[str, Mapping[str, object]] | None = None) -> None:
        self._nodes: dict[str, dict[str, object]] = {}
        self._counters: dict[str, BridgeCounters] = {}
        for name, config in (bridges or {}).items():
            self.add(name, config)

    @classmethod
    def from_tree(cls, tree: Mapping[str, object]) -> BridgeTable:
        bridges = tree.get("bridges")
        mqtt = bridges.get("mqtt") if isinstance(bridges, Mapping) else None
        table = cls()
        if isinstance(mqtt, Mapping):
            for name, config in mqtt.items():
                # `bridges.mqtt.cache` is the bridge's SQLite cache, not a bridge.
                if name != "cache" and isinstance(config, Mapping):
                    table.add(str(name), config)
        return table

    def add(self, name: str, config: Mapping[str, object]) -> None:
        self._nodes[name] = node_from_config(name, config)
        self._counters.setdefault(name, BridgeCounters())

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
        node = node_from_config(name, config)
        restore_secrets(node, self._nodes[name])
        self._nodes[name] = node

    def switch(self, name: str, on: object) -> None:
        if not isinstance(on, bool):
            raise BridgeRequestInvalid("data.bridge_switch must be true or false")
        node = self._nodes.get(name)
        if node is None:
            raise BridgeNotFound(name)
        node["enable"] = on

    def subscribe(self, name: str, entries: object) -> int:
        node = self._nodes.get(name)
        if node is None:
            raise BridgeNotFound(name)
        added = _topics(entries, qos_always=True)
        subscriptions = node["subscription"]
        assert isinstance(subscriptions, list)
        for item in added:
            subscriptions[:] = [
                s for s in subscriptions if s["remote_topic"] != item["remote_topic"]
            ]
            subscriptions.append(item)
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
        return before - len(subscriptions)

    def delete(self, name: str) -> None:
        if self._nodes.pop(name, None) is None:
            raise BridgeNotFound(name)
        self._counters.pop(name, None)

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
