"""Scenario files (TOML or JSON) that seed the broker model, and the built-in data sets."""

from __future__ import annotations

import binascii
import gc
import json
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple, NoReturn, TypeVar

from nanoadmin.config.files import MAX_SCENARIO_BYTES, FileProblem, read_regular_file
from nanoadmin.model.broker import (
    BrokerModel,
    Client,
    DuplicateClient,
    ModelError,
    RetainedMessage,
)
from nanoadmin.model.rules import parse_action
from nanoadmin.model.topics import is_valid_filter, is_valid_topic_name

T = TypeVar("T")


class ScenarioError(ValueError):
    """A scenario nanoadmin refuses; the message is one line naming the file, entry and field."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.splitlines()))

    @property
    def message(self) -> str:
        return str(self.args[0])


class RuleSeed(NamedTuple):
    id: int
    action: str
    rawsql: str
    enabled: bool
    params: Mapping[str, object]


class ClientSeed(NamedTuple):
    client: Client
    subscriptions: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    # A tuple when parsed; generated scenarios make their clients on demand (see mock.py).
    clients: Sequence[ClientSeed] = ()
    retained: tuple[RetainedMessage, ...] = ()
    # Validated plain dicts in NanoMQ's bridge-node key order; the HTTP side renders them.
    bridges: tuple[Mapping[str, object], ...] = ()
    # The rule engine's rules, with their ids; None: the config's rules.
    rules: tuple[RuleSeed, ...] | None = None


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file: ``.toml`` or ``.json``, else whichever parses."""
    tree = read_tree(path, "scenario")
    if not isinstance(tree, Mapping):
        raise ScenarioError(
            f"{path}: the top level is {_describe(tree)}. "
            "Expected a table with clients, retained and bridges."
        )
    return parse_scenario(tree, str(path))


def read_tree(path: Path, what: str) -> object:
    """A TOML or JSON file's tree (by its suffix, else whichever parses), read as a regular
    file of at most MAX_SCENARIO_BYTES; ScenarioError naming the file otherwise."""
    source = str(path)
    try:
        data = read_regular_file(path, max_bytes=MAX_SCENARIO_BYTES, what=what)
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(f"{source}: cannot read the file: file not found") from None
    except FileProblem as problem:
        raise ScenarioError(problem.message) from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{source}: not UTF-8 text") from None
    suffix = path.suffix.lower()
    if suffix == ".json":
        tree = _parse_json(text, source)
    elif suffix == ".toml":
        tree = _parse_toml(text, source)
    else:
        try:
            tree = _parse_json(text, source)
        except ScenarioError as json_error:
            try:
                tree = _parse_toml(text, source)
            except ScenarioError as toml_error:
                # Report against the format the text looks like ("[[clients]]" is TOML).
                looks_json = text.lstrip().startswith("{") or (
                    text.lstrip().startswith("[") and not text.lstrip().startswith("[[")
                )
                raise (json_error if looks_json else toml_error) from None
    return tree


class _DuplicateKey(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json.loads keeps the last of two equal keys; TOML refuses them, and so do we.
    table: dict[str, object] = {}
    for key, value in pairs:
        if key in table:
            raise _DuplicateKey(key)
        table[key] = value
    return table


def _parse_json(text: str, source: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_object_without_duplicates)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            f"{source}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except _DuplicateKey as exc:
        key = _show(exc.args[0])
        raise ScenarioError(f"{source}: not valid JSON: the key {key} twice") from None
    except ValueError:  # int() refuses more than 4300 digits
        raise ScenarioError(f"{source}: not valid JSON: a number of over 4300 digits") from None
    except RecursionError:
        raise ScenarioError(f"{source}: not valid JSON: nested too deep") from None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _parse_toml(text: str, source: str) -> object:
    try:
        return tomllib.loads(text)
    except ValueError as exc:
        if not isinstance(exc, tomllib.TOMLDecodeError):  # int() past 4300 digits
            raise ScenarioError(f"{source}: not valid TOML: a number of over 4300 digits") from None
        # Python 3.11's TOMLDecodeError keeps the position only in its message.
        reason = str(exc)
        position = _TOML_POSITION.search(reason)
        if position is None:
            raise ScenarioError(f"{source}: not valid TOML: {reason}") from None
        line, column = position.groups()
        reason = reason[: position.start()]
        raise ScenarioError(
            f"{source}:{line}: not valid TOML: {reason} (column {column})"
        ) from None
    except RecursionError:
        raise ScenarioError(f"{source}: not valid TOML: arrays or tables nested too deep") from None


def parse_scenario(tree: Mapping[str, object], source: str) -> Scenario:
    """Validate a parsed scenario tree; ``source`` names it in error messages."""
    top = _Table(source, "", tree, ("clients", "retained", "bridges", "rules"))
    clients: list[ClientSeed] = []
    seen_ids: set[str] = set()
    for index, entry in enumerate(top.tables("clients")):
        seed = _parse_client(source, f"clients[{index}]", entry)
        client_id = seed.client.client_id
        if client_id in seen_ids:
            where = f"clients[{index}] (client_id {client_id!r})"
            _fail(source, where, f"client_id {client_id!r} is a duplicate.")
        seen_ids.add(client_id)
        clients.append(seed)
    retained: list[RetainedMessage] = []
    seen_topics: set[str] = set()
    for index, entry in enumerate(top.tables("retained")):
        message = _parse_retained(source, f"retained[{index}]", entry)
        if message.topic in seen_topics:
            where = f"retained[{index}] (topic {message.topic!r})"
            _fail(source, where, f"topic {message.topic!r} is a duplicate.")
        seen_topics.add(message.topic)
        retained.append(message)
    bridges: list[Mapping[str, object]] = []
    seen_names: set[object] = set()
    for index, entry in enumerate(top.tables("bridges")):
        bridge = _parse_bridge(source, f"bridges[{index}]", entry)
        name = bridge["name"]
        if name in seen_names:
            _fail(source, f"bridges[{index}] (name {name!r})", f"name {name!r} is a duplicate.")
        seen_names.add(name)
        bridges.append(bridge)
    rules: list[RuleSeed] | None = None
    if "rules" in top.value:
        rules = []
        seen_rule_ids: set[int] = set()
        for index, entry in enumerate(top.tables("rules")):
            rule = _parse_rule(source, f"rules[{index}]", entry, len(rules) + 1)
            if rule.id in seen_rule_ids:
                _fail(source, f"rules[{index}] (id {rule.id})", f"id {rule.id} is a duplicate.")
            seen_rule_ids.add(rule.id)
            rules.append(rule)
    return Scenario(
        tuple(clients),
        tuple(retained),
        tuple(bridges),
        None if rules is None else tuple(rules),
    )


def apply_scenario(model: BrokerModel, scenario: Scenario) -> None:
    """Seed ``model``; retained messages are stored, not counted as published.

    The model keeps the scenario's ``Client`` records, so a scenario can seed again (restart).
    """
    if len(model):
        # Checked first so a clash leaves the model as it was.
        for seed in scenario.clients:
            if seed.client.client_id in model:
                raise DuplicateClient(seed.client.client_id)
    add_client = model.add_client
    with _paused_gc():
        for client, subscriptions in scenario.clients:
            add_client(client, subscriptions)
    for message in scenario.retained:
        model.store_retained(message.topic, message.payload, message.qos)


@contextmanager
def _paused_gc() -> Iterator[None]:
    """Pause the cycle collector around a bulk load that makes no garbage cycles.

    Otherwise its full collections rescan every object created so far, again and again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# -- validation ----------------------------------------------------------------------------------

_MISSING: Final = object()
_CLIENT_KEYS = (
    "client_id",
    "username",
    "keepalive",
    "proto_ver",
    "clean_start",
    "conn_state",
    "will_topic",
    "will_msg",
    "subscriptions",
)
_BRIDGE_KEYS = (
    "name",
    "server",
    "proto_ver",
    "clientid",
    "username",
    "password",
    "keepalive",
    "clean_start",
    "enable",
    "forwards",
    "subscription",
)
_SERVER_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s/]+")


def _fail(source: str, where: str, message: str) -> NoReturn:
    raise ScenarioError(f"{source}: {where}: {message}" if where else f"{source}: {message}")


def _encodable(text: str) -> bool:
    """JSON's "\\ud800" is a str that UTF-8 cannot encode, so no response could carry it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
    if isinstance(value, int | float):
        return repr(value)
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return f"the value {_show(value)}"


class _Table:
    """One table of a scenario, read field by field; each error names file, entry and field."""

    def __init__(
        self,
        source: str,
        where: str,
        value: object,
        allowed: Sequence[str],
        *,
        label: str | None = None,
        prefix: str = "",
    ) -> None:
        self.source = source
        self.prefix = prefix
        if not isinstance(value, Mapping):
            if prefix:
                _fail(source, where, f"{prefix[:-1]} has value {_show(value)}. Expected a table.")
            _fail(
                source,
                "",
                f"{where or 'the top level'} has value {_show(value)}. Expected a table.",
            )
        self.value: Mapping[str, object] = value
        if label is not None:
            name = value.get(label)
            if isinstance(name, str) and name:
                where = f"{where} ({label} {name!r})"
        self.where = where
        for key in value:
            if key not in allowed:
                owner = f"{prefix[:-1]} has unknown key" if prefix else "unknown key"
                self.fail(f"{owner} {key!r}. Expected one of: {', '.join(allowed)}.")

    def fail(self, message: str) -> NoReturn:
        _fail(self.source, self.where, message)

    def bad(self, key: str, value: object, expected: str) -> NoReturn:
        self.fail(f"{self.prefix}{key} has value {_show(value)}. Expected {expected}.")

    def get(self, key: str, default: object, expected: str) -> object:
        value = self.value.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                self.fail(f"{self.prefix}{key} is missing. Expected {expected}.")
            return default
        return value

    def string(self, key: str, default: object = _MISSING, *, non_empty: bool = False) -> str:
        expected = "a non-empty string" if non_empty else "a string"
        value = self.get(key, default, expected)
        if not isinstance(value, str) or (non_empty and not value) or "\0" in value:
            self.bad(key, value, expected)
        if not _encodable(value):
            self.bad(key, value, "text without lone UTF-16 surrogates")
        return value

    def optional_string(self, key: str) -> str | None:
        value = self.value.get(key)
        if value is not None and not isinstance(value, str):
            self.bad(key, value, "a string")
        if value is not None and not _encodable(value):
            self.bad(key, value, "text without lone UTF-16 surrogates")
        return value

    def integer(self, key: str, default: object, low: int, high: int) -> int:
        expected = f"an integer {low}..{high}"
        value = self.get(key, default, expected)
        # bool is an int subclass; true is not a keepalive.
        if type(value) is not int or not low <= value <= high:
            self.bad(key, value, expected)
        return value

    def one_of(self, key: str, default: T, choices: tuple[T, ...], expected: str) -> T:
        value = self.get(key, default, expected)
        # 4.0 == 4 and true == 1, but neither is a protocol version.
        if type(value) is not type(default) or value not in choices:
            self.bad(key, value, expected)
        return choices[choices.index(value)]

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default, "true or false")
        if not isinstance(value, bool):
            self.bad(key, value, "true or false")
        return value

    def tables(self, key: str) -> list[object]:
        value = self.value.get(key, [])
        if not isinstance(value, list):
            self.bad(key, value, "an array of tables")
        return value


def _parse_client(source: str, where: str, entry: object) -> ClientSeed:
    table = _Table(source, where, entry, _CLIENT_KEYS, label="client_id")
    client_id = table.string("client_id", non_empty=True)
    username = table.string("username", "")
    keepalive = table.integer("keepalive", 60, 0, 65535)
    proto_ver = table.one_of("proto_ver", 4, (3, 4, 5), "3, 4 or 5")
    clean_start = table.boolean("clean_start", True)
    conn_state = table.one_of(
        "conn_state", "connected", ("connected", "disconnected"), "'connected' or 'disconnected'"
    )
    will_topic = table.optional_string("will_topic")
    if will_topic is not None and not is_valid_topic_name(will_topic):
        table.bad("will_topic", will_topic, "a topic name without wildcards")
    will_msg = table.optional_string("will_msg")
    if will_msg is not None and will_topic is None:
        table.fail("will_msg is set without will_topic. Expected both or neither.")
    subscriptions: list[tuple[str, int]] = []
    seen: set[str] = set()
    for index, item in enumerate(table.tables("subscriptions")):
        sub = _Table(source, table.where, item, ("topic", "qos"), prefix=f"subscriptions[{index}].")
        topic = sub.string("topic", non_empty=True)
        if not is_valid_filter(topic):
            sub.bad("topic", topic, "a valid MQTT topic filter")
        if topic in seen:
            sub.fail(f"subscriptions[{index}].topic {topic!r} is a duplicate.")
        seen.add(topic)
        subscriptions.append((topic, sub.integer("qos", 0, 0, 2)))
    client = Client(
        client_id=client_id,
        username=username,
        keepalive=keepalive,
        conn_state="connected" if conn_state == "connected" else "disconnected",
        clean_start=clean_start,
        proto_ver=proto_ver,
        will_topic=will_topic,
        will_msg=will_msg,
    )
    return ClientSeed(client, tuple(subscriptions))


def _parse_retained(source: str, where: str, entry: object) -> RetainedMessage:
    keys = ("topic", "payload", "payload_base64", "qos")
    table = _Table(source, where, entry, keys, label="topic")
    topic = table.string("topic", non_empty=True)
    if not is_valid_topic_name(topic):
        table.bad("topic", topic, "a topic name without wildcards")
    qos = table.integer("qos", 0, 0, 2)
    if "payload_base64" in table.value:
        if "payload" in table.value:
            table.fail("payload and payload_base64 are both set. Expected one of them.")
        encoded = table.string("payload_base64")
        try:
            data = binascii.a2b_base64(encoded, strict_mode=True)
        except (binascii.Error, ValueError):
            table.bad("payload_base64", encoded, "standard base64 (a payload that is not UTF-8)")
        return RetainedMessage(topic, data, qos)
    payload = table.get("payload", "", "a string")
    if not isinstance(payload, str):
        table.bad("payload", payload, "a string")
    if not _encodable(payload):
        table.bad("payload", payload, "text without lone UTF-16 surrogates")
    return RetainedMessage(topic, payload.encode("utf-8"), qos)


def _parse_rule(source: str, where: str, entry: object, next_id: int) -> RuleSeed:
    table = _Table(source, where, entry, ("id", "rawsql", "enabled", "actions"))
    rule_id = table.integer("id", next_id, 1, 2**31 - 1)
    rawsql = table.string("rawsql", non_empty=True)
    enabled = table.boolean("enabled", True)
    try:
        action, params = parse_action(table.get("actions", _MISSING, "a list of one action"))
    except ModelError as exc:
        table.fail(f"actions: {exc.message}.")
    return RuleSeed(rule_id, action, rawsql, enabled, params)


def _parse_bridge(source: str, where: str, entry: object) -> dict[str, object]:
    table = _Table(source, where, entry, _BRIDGE_KEYS, label="name")
    name = table.string("name", non_empty=True)
    server = table.string("server")
    if not _SERVER_URL.match(server):
        table.bad("server", server, "a URL such as 'mqtt-tcp://broker.example:1883'")
    bridge: dict[str, object] = {
        "name": name,
        "enable": table.boolean("enable", True),
        "server": server,
        "proto_ver": table.one_of("proto_ver", 4, (3, 4, 5), "3, 4 or 5"),
        "clientid": table.optional_string("clientid"),
        "clean_start": table.boolean("clean_start", True),
        "username": table.optional_string("username"),
        "password": table.optional_string("password"),
        "keepalive": table.integer("keepalive", 60, 0, 65535),
    }
    forwards: list[dict[str, object]] = []
    for index, item in enumerate(table.tables("forwards")):
        rule = _Table(
            source,
            table.where,
            item,
            ("remote_topic", "local_topic", "qos"),
            prefix=f"forwards[{index}].",
        )
        local_topic = rule.string("local_topic", non_empty=True)
        if not is_valid_filter(local_topic):
            rule.bad("local_topic", local_topic, "a valid MQTT topic filter")
        remote_topic = rule.string("remote_topic")
        if remote_topic and not is_valid_topic_name(remote_topic):
            rule.bad("remote_topic", remote_topic, "a topic name without wildcards, or ''")
        forward: dict[str, object] = {"remote_topic": remote_topic, "local_topic": local_topic}
        if "qos" in rule.value:
            forward["qos"] = rule.integer("qos", 0, 0, 2)
        forwards.append(forward)
    subscription: list[dict[str, object]] = []
    for index, item in enumerate(table.tables("subscription")):
        rule = _Table(
            source,
            table.where,
            item,
            ("remote_topic", "local_topic", "qos"),
            prefix=f"subscription[{index}].",
        )
        remote_topic = rule.string("remote_topic", non_empty=True)
        if not is_valid_filter(remote_topic):
            rule.bad("remote_topic", remote_topic, "a valid MQTT topic filter")
        local_topic = rule.string("local_topic")
        if local_topic and not is_valid_topic_name(local_topic):
            rule.bad("local_topic", local_topic, "a topic name without wildcards, or ''")
        subscription.append(
            {
                "remote_topic": remote_topic,
                "local_topic": local_topic,
                # NanoMQ skips a bridge subscription without a qos, so it is required here.
                "qos": rule.integer("qos", _MISSING, 0, 2),
            }
        )
    bridge["forwards"] = forwards
    bridge["subscription"] = subscription
    return bridge


# -- built-in data sets --------------------------------------------------------------------------

# The broker NanoMQ 0.25.6 was recorded against (tests/fixtures/reference/README.md).
_REFERENCE_CLIENTS: Final[list[dict[str, object]]] = [
    {
        "client_id": "ref-sub-1",
        "username": "alice",
        "keepalive": 60,
        "proto_ver": 4,
        "subscriptions": [
            {"topic": "sensors/+/temp", "qos": 1},
            {"topic": "alerts/#", "qos": 0},
        ],
    },
    {
        "client_id": "ref-pubsub-2",
        "username": "bob",
        "keepalive": 120,
        "proto_ver": 5,
        "subscriptions": [
            {"topic": "cmd/ref-pubsub-2", "qos": 2},
            {"topic": "sensors/room1/temp", "qos": 0},
        ],
    },
]
_REFERENCE_RETAINED: Final[list[dict[str, object]]] = [
    {"topic": "sensors/room1/temp", "payload": "21.5", "qos": 1},
    {"topic": "status/ref-pubsub-2", "payload": "online", "qos": 0},
]
_DEMO_CLIENTS: Final[list[dict[str, object]]] = [
    {
        "client_id": "meter-legacy-07",
        "username": "metering",
        "keepalive": 300,
        "proto_ver": 3,
        "subscriptions": [{"topic": "cmd/meter-legacy-07", "qos": 1}],
    },
    {
        "client_id": "dashboard-ops",
        "username": "ops",
        "keepalive": 60,
        "proto_ver": 5,
        "clean_start": False,
        "conn_state": "disconnected",
        "subscriptions": [
            {"topic": "alerts/#", "qos": 1},
            {"topic": "sensors/+/temp", "qos": 0},
        ],
    },
    {
        "client_id": "gateway-site1",
        "username": "gateway",
        "keepalive": 30,
        "proto_ver": 5,
        "will_topic": "status/gateway-site1",
        "will_msg": "offline",
        "subscriptions": [{"topic": "cmd/gateway-site1", "qos": 1}],
    },
    {
        "client_id": "ingest-worker-1",
        "username": "ingest",
        "keepalive": 60,
        "proto_ver": 5,
        "subscriptions": [{"topic": "$share/ingest/sensors/#", "qos": 1}],
    },
]


def reference_scenario() -> Scenario:
    """Exactly the two clients and two retained messages the reference recordings were made with."""
    return parse_scenario(
        {"clients": _REFERENCE_CLIENTS, "retained": _REFERENCE_RETAINED}, "<reference scenario>"
    )


def demo_scenario() -> Scenario:
    """The small data set served when no scenario is given: the reference clients and four more."""
    return parse_scenario(
        {"clients": _REFERENCE_CLIENTS + _DEMO_CLIENTS, "retained": _REFERENCE_RETAINED},
        "<demo scenario>",
    )
