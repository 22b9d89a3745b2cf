"""The old key=value format (nanomq_old.conf), translated into the HOCON-shaped tree."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from nanoadmin.config.errors import ConfigError

_KV_LINE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*=(.*)$")
_BLOCK_LINE = re.compile(r"(\{|\[)\s*$|^\s*(\}|\])")


def looks_like_kv(text: str) -> bool:
    """True when every line that is not blank or a comment is a plain ``key=value``."""
    saw_pair = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "//")):
            continue
        if not _KV_LINE.match(stripped) or _BLOCK_LINE.search(stripped.split("=", 1)[1]):
            return False
        saw_pair = True
    return saw_pair


def parse_kv(text: str) -> dict[str, str]:
    """NanoMQ's KV rules: trimmed key and value, later lines win, surrounding quotes stripped.

    A line that is neither blank, a ``#`` comment nor ``key=value`` is a ValueError: NanoMQ
    skips it, and a whole file in another format would then run on defaults (D8).
    """
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _KV_LINE.match(line)
        if match is None:
            if line.strip() and not line.lstrip().startswith("#"):
                raise ValueError(f"line {number} is not key=value")
            continue
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        pairs.pop(key, None)
        pairs[key] = value
    return pairs


def _strip_scheme(url: str) -> str:
    return url.split("://", 1)[1] if "://" in url else url


def _set(tree: dict[str, object], dotted: str, value: object) -> None:
    node = tree
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[leaf] = value


def _indexed_list(pairs: dict[str, str], prefix: str) -> list[dict[str, object]]:
    """``prefix.1.a=x``, ``prefix.2.a=y`` as ``[{a: x}, {a: y}]`` ordered by index."""
    items: dict[int, dict[str, object]] = {}
    for key, value in pairs.items():
        if key.startswith(prefix + "."):
            index, _, field = key[len(prefix) + 1 :].partition(".")
            if re.fullmatch(r"[0-9]{1,9}", index) and field:
                _set(items.setdefault(int(index), {}), field, value)
    return [items[index] for index in sorted(items)]


def _bridge(pairs: dict[str, str], prefix: str) -> dict[str, object]:
    node: dict[str, object] = {}
    renames = {"address": "server", "parallel": "max_parallel_processes"}
    for key, value in pairs.items():
        if not key.startswith(prefix + "."):
            continue
        field = key[len(prefix) + 1 :]
        head = field.split(".", 1)[0]
        if head in ("forwards", "subscription"):
            continue
        if head == "tls":
            field = "ssl" + field[3:]
        _set(node, renames.get(field, field), value)
    node["forwards"] = _indexed_list(pairs, prefix + ".forwards")
    node["subscription"] = _indexed_list(pairs, prefix + ".subscription")
    return node


_Rule = Callable[[str], tuple[str, object]]


def _to(dotted: str, convert: Callable[[str], object] = str) -> _Rule:
    return lambda value: (dotted, convert(value))


# Top-level and sectioned KV keys that have a different home in the HOCON tree.
_RENAMES: dict[str, _Rule] = {
    "url": _to("listeners.tcp.bind", _strip_scheme),
    "daemon": _to("system.daemon"),
    "num_taskq_thread": _to("system.num_taskq_thread"),
    "max_taskq_thread": _to("system.max_taskq_thread"),
    "parallel": _to("system.parallel"),
    "enable_ipc_internal": _to("system.enable_ipc_internal"),
    "property_size": _to("mqtt.property_size"),
    "max_packet_size": _to("mqtt.max_packet_size", lambda v: f"{v.strip()}KB"),
    "client_max_packet_size": _to("mqtt.client_max_packet_size", lambda v: f"{v.strip()}KB"),
    "msq_len": _to("mqtt.max_mqueue_len"),
    "qos_duration": _to("mqtt.retry_interval", lambda v: f"{v.strip()}s"),
    "keepalive_backoff": _to("mqtt.keepalive_multiplier"),
    "allow_anonymous": _to("auth.allow_anonymous"),
    "acl_nomatch": _to("auth.no_match"),
    "acl_deny_action": _to("auth.deny_action"),
    "tls.enable": _to("listeners.ssl.enable"),
    "tls.url": _to("listeners.ssl.bind", _strip_scheme),
    "tls.keyfile": _to("listeners.ssl.keyfile"),
    "tls.certfile": _to("listeners.ssl.certfile"),
    "tls.cacertfile": _to("listeners.ssl.cacertfile"),
    "tls.key_password": _to("listeners.ssl.key_password"),
    "tls.verify_peer": _to("listeners.ssl.verify_peer"),
    "tls.fail_if_no_peer_cert": _to("listeners.ssl.fail_if_no_peer_cert"),
    "websocket.enable": _to("listeners.ws.enable"),
    "websocket.url": _to("listeners.ws.bind", _strip_scheme),
    "websocket.tls_enable": _to("listeners.wss.enable"),
    "websocket.tls_url": _to("listeners.wss.bind", _strip_scheme),
    "http_server.parallel": _to("http_server.limit_conn"),
    "log.to": _to("log.to", lambda v: [part.strip() for part in v.split(",") if part.strip()]),
}


def kv_to_tree(pairs: dict[str, str]) -> dict[str, object]:
    """Place every KV key where the HOCON tree keeps it; unknown keys keep their dotted path."""
    tree: dict[str, object] = {}
    bridges: dict[str, dict[str, object]] = {}
    logins: dict[int, dict[str, str]] = {}
    for key, value in pairs.items():
        rule = _RENAMES.get(key)
        if rule is not None:
            _set(tree, *rule(value))
        elif key.startswith("bridge.mqtt."):
            name = key.split(".")[2]
            if name not in bridges:
                bridges[name] = _bridge(pairs, f"bridge.mqtt.{name}")
        elif re.fullmatch(r"auth\.[0-9]{1,9}\.(login|password)", key):
            _, index, field = key.split(".")
            logins.setdefault(int(index), {})[field] = value
        elif key.startswith("auth.http."):
            field = key[len("auth.http.") :]
            if field.endswith(".params"):
                params = dict(p.split("=", 1) for p in value.split(",") if "=" in p)
                _set(tree, f"auth.http_auth.{field}", params)
            else:
                _set(tree, f"auth.http_auth.{field}", value)
        elif key.startswith("web.hook."):
            _set(tree, "webhook." + key[len("web.hook.") :], value)
        else:
            _set(tree, key, value)
    listeners = tree.get("listeners")
    if isinstance(listeners, dict):
        # KV defaults, which the HOCON-only quirks of a listeners block would otherwise replace.
        listeners.setdefault("tcp", {"bind": "0.0.0.0:1883"})
        wss = listeners.setdefault("wss", {})
        if isinstance(wss, dict):
            wss.setdefault("enable", "false")
    if bridges:
        _set(tree, "bridges.mqtt", bridges)
    if logins:
        passwords = {
            entry["login"]: entry["password"]
            for _, entry in sorted(logins.items())
            if "login" in entry and "password" in entry
        }
        _set(tree, "auth.password", passwords)
    return tree


def load_kv(path: Path, text: str) -> dict[str, object]:
    try:
        return kv_to_tree(parse_kv(text))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: cannot read key=value config: {exc}") from None
