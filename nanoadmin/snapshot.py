"""A scenario read from any server that speaks /api/v4: ``nanoadmin snapshot``."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

# One answer may be this large (100,000 clients are some 15 MB); a server that sends more, or
# takes longer, is refused rather than waited on.
MAX_ANSWER_BYTES = 256 * 1024 * 1024
TIMEOUT = 30.0
PAGE_LIMIT = 10_000
MAX_PAGES = 1000
_CLIENT_KEYS = ("client_id", "username", "keepalive", "proto_ver", "clean_start", "conn_state")
_CONNECTOR_KEYS = ("server", "proto_ver", "clientid", "clean_start", "username", "password")


class SnapshotError(Exception):
    """The server could not be read; the message says which request and why."""


class ApiReader:
    """GETs from ``base`` (``http://host:8081``) with one Authorization header."""

    def __init__(self, base: str, authorization: str | None) -> None:
        if not base.startswith(("http://", "https://")):
            raise SnapshotError(f"--from {base!r}: expected an http:// or https:// URL")
        self.base = base.rstrip("/")
        self.headers = {"Authorization": authorization} if authorization else {}

    def get(self, path: str) -> Any:
        url = self.base + path
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                raw = answer.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as error:
            detail = error.read(2048).decode("utf-8", "replace").strip()
            raise SnapshotError(f"GET {path}: HTTP {error.code} {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SnapshotError(f"GET {url}: {reason}") from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise SnapshotError(f"GET {path}: answer larger than {MAX_ANSWER_BYTES} bytes")
        try:
            body = json.loads(raw)
        except ValueError:
            raise SnapshotError(f"GET {path}: the answer is not JSON") from None
        if not isinstance(body, dict) or body.get("code", 0) != 0:
            raise SnapshotError(f"GET {path}: {str(body)[:200]}")
        return body

    def pages(self, path: str) -> Iterator[Mapping[str, Any]]:
        """Every item of a paged listing (``_page``/``_limit``, ``meta.hasnext``)."""
        for page in range(1, MAX_PAGES + 1):
            body = self.get(f"{path}?_page={page}&_limit={PAGE_LIMIT}")
            items = body.get("data", [])
            if not isinstance(items, list):
                raise SnapshotError(f"GET {path}: data is not a list")
            yield from (item for item in items if isinstance(item, Mapping))
            meta = body.get("meta")
            if not (isinstance(meta, Mapping) and meta.get("hasnext")) or not items:
                return
        raise SnapshotError(f"GET {path}: more than {MAX_PAGES} pages")


def _topics(items: object) -> list[dict[str, object]]:
    if not isinstance(items, list):
        return []
    return [
        {key: item[key] for key in ("remote_topic", "local_topic", "qos") if key in item}
        for item in items
        if isinstance(item, Mapping)
    ]


def read_scenario(reader: ApiReader) -> dict[str, Any]:
    """Clients with their subscriptions, bridges and rules, as a scenario tree."""
    subscriptions: dict[str, list[dict[str, object]]] = {}
    for item in reader.pages("/api/v4/subscriptions"):
        subscriptions.setdefault(str(item.get("clientid")), []).append(
            {"topic": item.get("topic"), "qos": item.get("qos", 0)}
        )
    clients = []
    for item in reader.pages("/api/v4/clients"):
        client = {key: item[key] for key in _CLIENT_KEYS if key in item}
        if item.get("will_topic") is not None:
            client["will_topic"] = item["will_topic"]
            client["will_msg"] = item.get("will_msg") or ""
        held = subscriptions.get(str(item.get("client_id")))
        if held:
            client["subscriptions"] = held
        clients.append(client)
    bridges = []
    for node in _bridge_nodes(reader.get("/api/v4/bridges")):
        connector = node.get("connector")
        connector = connector if isinstance(connector, Mapping) else {}
        bridge: dict[str, object] = {"name": node.get("name"), "enable": node.get("enable", True)}
        for key in _CONNECTOR_KEYS:
            if connector.get(key) is not None:
                bridge[key] = connector[key]
        if "keepalive" in connector:
            bridge["keepalive"] = connector["keepalive"]
        bridge["forwards"] = _topics(node.get("forwards"))
        bridge["subscription"] = _topics(node.get("subscription"))
        bridges.append(bridge)
    tree: dict[str, Any] = {"clients": clients, "bridges": bridges}
    rules = reader.get("/api/v4/rules").get("data")
    if isinstance(rules, list):
        # The API shows no action params; a rule's required ones are left empty to fill in.
        tree["rules"] = [
            {
                "id": rule.get("id"),
                "rawsql": rule.get("rawsql"),
                "enabled": rule.get("enabled", True),
                "actions": [{"name": rule.get("name"), "params": _required_params(rule)}],
            }
            for rule in rules
            if isinstance(rule, Mapping)
        ]
    return tree


def _bridge_nodes(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """NanoMQ's ``{"data": {"bridge": {"nodes": [...]}}}``."""
    data = body.get("data")
    bridge = data.get("bridge") if isinstance(data, Mapping) else None
    nodes = bridge.get("nodes") if isinstance(bridge, Mapping) else None
    return [node for node in nodes if isinstance(node, Mapping)] if isinstance(nodes, list) else []


def _required_params(rule: Mapping[str, object]) -> dict[str, object]:
    from nanoadmin.model.rules import REQUIRED_PARAMS

    return dict.fromkeys(REQUIRED_PARAMS.get(str(rule.get("name")), ()), "")


def basic_authorization(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


# -- TOML ---------------------------------------------------------------------------------------


def _toml_string(text: str) -> str:
    # JSON's escapes are TOML's, but for DEL, which TOML wants escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, Mapping):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise SnapshotError(f"cannot write {value!r} as TOML")


def _toml_key(key: str) -> str:
    return (
        key
        if key.replace("_", "").replace("-", "").isalnum() and key.isascii()
        else _toml_string(key)
    )


def to_toml(tree: Mapping[str, Any], source: str) -> str:
    """``tree`` (lists of flat tables) as a TOML scenario file."""
    lines = [f"# A scenario read from {source} by nanoadmin snapshot.", ""]
    for section, entries in tree.items():
        if section == "rules" and entries:
            lines.append("# The API does not show rule action params: fill in the empty ones.")
        for entry in entries:
            lines.append(f"[[{section}]]")
            lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in entry.items())
            lines.append("")
    return "\n".join(lines)
