"""The broker's live configuration: GET /configuration renders it, POST changes it in memory."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeGuard, TypeVar

from nanoadmin.config.values import (
    boolean,
    byte_size,
    duration_seconds,
    integer,
    lookup,
    number,
)
from nanoadmin.model.bridges import BridgeTable, empty_tls, tls_from
from nanoadmin.model.secrets import MASK, is_mask_echo, masked

SECTIONS = ("basic", "tls", "auth", "auth_http", "websocket", "http_server", "sqlite", "bridge")
HTTP_PARAMS = (
    "username",
    "password",
    "clientid",
    "access",
    "topic",
    "ipaddress",
    "sockport",
    "common",
    "protocol",
    "subject",
    "mountpoint",
)


def _float32(value: float) -> float:
    # NanoMQ keeps keepalive_backoff as a C float; cJSON prints the widened double.
    return float(struct.unpack("f", struct.pack("f", value))[0])


R = TypeVar("R")


def _value(read: Callable[[str, object], R], tree: Mapping[str, object], key: str, default: R) -> R:
    """The value at ``key`` read by ``read`` (ValueProblem if malformed), or ``default``."""
    value = lookup(tree, key)
    return default if value is None else read(key, value)


def _seconds(key: str, value: object) -> int:
    return int(duration_seconds(key, value))


def _threads(default: int) -> Callable[[str, object], int]:
    # NanoMQ: 0 (the KV file's default) means "two per CPU".
    return lambda key, value: integer(key, value) or default


MAX_PEM_BYTES = 1024 * 1024


def _pem(base: Path | None, value: object) -> str | None:
    """NanoMQ renders TLS files by their contents; an unreadable file renders as null, and so
    does one larger than any PEM file (``/dev/zero`` never ends)."""
    if not isinstance(value, str) or "\0" in value:
        return None
    path = Path(value)
    if not path.is_absolute() and base is not None:
        path = base.parent / path
    try:
        with path.open("rb") as file:
            data = file.read(MAX_PEM_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_PEM_BYTES:
        return None
    return data.decode("utf-8", errors="replace")


def _address(prefix: str, block: object) -> str | None:
    bind = lookup(block, "bind") if isinstance(block, Mapping) else None
    return prefix + bind if isinstance(bind, str) else None


class LiveConfig:
    """Sections in NanoMQ's key order; every change is applied whole or not at all."""

    def __init__(
        self, tree: Mapping[str, object], *, path: Path | None, http_server: Mapping[str, object]
    ) -> None:
        """Raises ValueProblem, naming the dotted key, for a malformed value."""
        self.basic = self._basic(tree)
        self.tls = self._tls(tree, path)
        self.auth = self._auth(tree)
        self.auth_http = self._auth_http(tree)
        self.websocket = self._websocket(tree)
        self.http_server = dict(http_server)
        self.sqlite = self._sqlite(tree)
        self.bridges = BridgeTable.from_tree(tree)
        self.enable_mqtt_stream = _value(boolean, tree, "parquet.enable", False)

    @staticmethod
    def _basic(tree: Mapping[str, object]) -> dict[str, object]:
        threads = 2 * (os.cpu_count() or 1)
        if lookup(tree, "listeners") is None:
            url: str | None = "nmq-tcp://0.0.0.0:1883"
        else:
            url = _address("nmq-tcp://", lookup(tree, "listeners.tcp"))
        packet = _value(byte_size, tree, "mqtt.max_packet_size", 10240 * 1024)
        client_packet = _value(byte_size, tree, "mqtt.client_max_packet_size", packet)
        return {
            "url": url,
            "num_taskq_thread": _value(_threads(threads), tree, "system.num_taskq_thread", threads),
            "max_taskq_thread": _value(_threads(threads), tree, "system.max_taskq_thread", threads),
            "parallel": _value(_threads(threads), tree, "system.parallel", threads),
            "property_size": _value(integer, tree, "mqtt.property_size", 32),
            "daemon": _value(boolean, tree, "system.daemon", False),
            "max_packet_size": packet // 1024,
            "client_max_packet_size": client_packet // 1024,
            "msq_len": _value(integer, tree, "mqtt.max_mqueue_len", 1024),
            "qos_duration": _value(_seconds, tree, "mqtt.retry_interval", 10),
            "keepalive_backoff": _float32(_value(number, tree, "mqtt.keepalive_multiplier", 1.5)),
            "allow_anonymous": _value(boolean, tree, "auth.allow_anonymous", True),
            "ipc_internal": _value(boolean, tree, "system.enable_ipc_internal", True),
        }

    @staticmethod
    def _tls(tree: Mapping[str, object], path: Path | None) -> dict[str, object]:
        tls = empty_tls()
        ssl = lookup(tree, "listeners.ssl")
        if isinstance(ssl, Mapping):
            key_password = ssl.get("key_password")
            tls["enable"] = _value(boolean, tree, "listeners.ssl.enable", "bind" in ssl)
            tls["url"] = _address("tls+nmq-tcp://", ssl)
            tls["key_password"] = key_password if isinstance(key_password, str) else None
            tls["key"] = _pem(path, ssl.get("keyfile"))
            tls["cert"] = _pem(path, ssl.get("certfile"))
            tls["cacert"] = _pem(path, ssl.get("cacertfile"))
            tls["verify_peer"] = _value(boolean, tree, "listeners.ssl.verify_peer", False)
            tls["fail_if_no_peer_cert"] = _value(
                boolean, tree, "listeners.ssl.fail_if_no_peer_cert", False
            )
        return tls

    @staticmethod
    def _auth(tree: Mapping[str, object]) -> list[dict[str, object]]:
        passwords = lookup(tree, "auth.password")
        if not isinstance(passwords, Mapping):
            return []
        return [
            {"login": str(user), "password": str(password)} for user, password in passwords.items()
        ]

    @staticmethod
    def _auth_http(tree: Mapping[str, object]) -> dict[str, object]:
        base = "auth.http_auth"
        block = lookup(tree, base)

        def request(name: str) -> dict[str, object]:
            req = lookup(tree, f"{base}.{name}")
            req = req if isinstance(req, Mapping) else {}
            url, method = req.get("url"), req.get("method")
            headers, params = req.get("headers"), req.get("params")
            return {
                "url": url if isinstance(url, str) else None,
                "method": method if isinstance(method, str) else None,
                "headers": {str(k): str(v) for k, v in headers.items()}
                if isinstance(headers, Mapping)
                else {},
                "params": [str(k) for k in params] if isinstance(params, Mapping) else [],
                "tls": tls_from(req.get("ssl")),
            }

        return {
            "enable": _value(boolean, tree, f"{base}.enable", isinstance(block, Mapping)),
            "timeout": _value(_seconds, tree, f"{base}.timeout", 5),
            "connect_timeout": _value(_seconds, tree, f"{base}.connect_timeout", 5),
            "pool_size": _value(integer, tree, f"{base}.pool_size", 32),
            "cache_ttl": _value(_seconds, tree, f"{base}.cache_ttl", 0),
            "auth_req": request("auth_req"),
            "acl_req": request("acl_req"),
            "super_req": request("super_req"),
        }

    @staticmethod
    def _websocket(tree: Mapping[str, object]) -> dict[str, object]:
        ws, wss = lookup(tree, "listeners.ws"), lookup(tree, "listeners.wss")
        has_listeners = isinstance(lookup(tree, "listeners"), Mapping)
        return {
            "enable": isinstance(ws, Mapping)
            and _value(boolean, tree, "listeners.ws.enable", True),
            # NanoMQ quirk: tls_enable is true whenever a listeners block exists.
            "tls_enable": _value(boolean, tree, "listeners.wss.enable", has_listeners),
            "url": _address("nmq-ws://", ws),
            "tls_url": _address("nmq-wss://", wss),
        }

    @staticmethod
    def _sqlite(tree: Mapping[str, object]) -> dict[str, object]:
        path = lookup(tree, "sqlite.mounted_file_path")
        return {
            "enable": _value(
                boolean, tree, "sqlite.enable", isinstance(lookup(tree, "sqlite"), Mapping)
            ),
            "disk_cache_size": _value(integer, tree, "sqlite.disk_cache_size", 102400),
            "flush_mem_threshold": _value(integer, tree, "sqlite.flush_mem_threshold", 100),
            "resend_interval": _value(integer, tree, "sqlite.resend_interval", 0),
            "mounted_file_path": path if isinstance(path, str) else None,
        }

    # -- rendering -----------------------------------------------------------------------------

    def section(self, name: str) -> object:
        """One section as GET /configuration renders it, secrets masked (difference D6)."""
        sections: dict[str, object] = {
            "basic": self.basic,
            "tls": self.tls,
            "auth": self.auth,
            "auth_http": self.auth_http,
            "websocket": self.websocket,
            "http_server": self.http_server,
            "sqlite": self.sqlite,
        }
        if name == "bridge":
            return {"nodes": self.bridges.nodes()}
        return masked(sections[name])

    def render(self) -> dict[str, object]:
        return {name: self.section(name) for name in SECTIONS}

    def reload_view(self) -> dict[str, object]:
        basic = self.basic
        return {
            "property_size": basic["property_size"],
            "max_packet_size": basic["max_packet_size"],
            "client_max_packet_size": basic["client_max_packet_size"],
            "msq_len": basic["msq_len"],
            "qos_duration": basic["qos_duration"],
            "keepalive_backoff": basic["keepalive_backoff"],
            "allow_anonymous": basic["allow_anonymous"],
            "enable_mqtt_stream": self.enable_mqtt_stream,
            "bridge_mode": len(self.bridges) > 0,
        }

    # -- changes (NanoMQ ignores keys of the wrong type; so do we) -----------------------------

    def apply_reload(self, data: Mapping[str, object]) -> None:
        numbers = (
            "property_size",
            "max_packet_size",
            "client_max_packet_size",
            "msq_len",
            "qos_duration",
        )
        self._apply_numbers(self.basic, data, numbers)
        backoff = data.get("keepalive_backoff")
        if _is_number(backoff):
            self.basic["keepalive_backoff"] = _float32(backoff)
        if isinstance(data.get("allow_anonymous"), bool):
            self.basic["allow_anonymous"] = data["allow_anonymous"]

    @staticmethod
    def _apply_numbers(
        target: dict[str, object], data: Mapping[str, object], keys: tuple[str, ...]
    ) -> None:
        for key in keys:
            value = data.get(key)
            if _is_number(value) and 0 <= value <= 2**32 - 1:
                target[key] = int(value)

    @staticmethod
    def _apply_types(
        target: dict[str, object], data: Mapping[str, object], kinds: Mapping[str, type]
    ) -> None:
        for key, kind in kinds.items():
            value = data.get(key)
            if is_mask_echo(key, value, target):
                continue
            if isinstance(value, kind) and not (kind is not bool and isinstance(value, bool)):
                target[key] = value

    def apply_basic(self, data: Mapping[str, object]) -> None:
        self._apply_types(
            self.basic,
            data,
            {"url": str, "daemon": bool, "allow_anonymous": bool, "ipc_internal": bool},
        )
        self._apply_numbers(
            self.basic,
            data,
            (
                "num_taskq_thread",
                "max_taskq_thread",
                "parallel",
                "property_size",
                "msq_len",
                "qos_duration",
                "max_packet_size",
                "client_max_packet_size",
            ),
        )
        backoff = data.get("keepalive_backoff")
        if _is_number(backoff):
            self.basic["keepalive_backoff"] = _float32(backoff)

    def apply_tls(self, data: Mapping[str, object]) -> None:
        renamed = dict(data)
        if "keypass" in renamed:
            renamed["key_password"] = renamed.pop("keypass")
        self._apply_types(
            self.tls,
            renamed,
            {
                "enable": bool,
                "url": str,
                "key_password": str,
                "key": str,
                "cert": str,
                "cacert": str,
                "verify_peer": bool,
                "fail_if_no_peer_cert": bool,
            },
        )

    def apply_auth(self, entries: list[object]) -> None:
        current = {entry["login"]: entry["password"] for entry in self.auth}
        self.auth = [
            {
                "login": entry["username"],
                "password": current.get(entry["username"], MASK)
                if is_mask_echo("password", entry["password"], entry)
                else entry["password"],
            }
            for entry in entries
            if isinstance(entry, Mapping)
            and isinstance(entry.get("username"), str)
            and isinstance(entry.get("password"), str)
        ]

    def apply_websocket(self, data: Mapping[str, object]) -> None:
        self._apply_types(
            self.websocket, data, {"enable": bool, "url": str, "tls_enable": bool, "tls_url": str}
        )

    def http_server_update(self, data: Mapping[str, object]) -> dict[str, object]:
        """The http_server section after ``data``: the caller applies it with the new strategy."""
        updated = dict(self.http_server)
        self._apply_types(updated, data, {"enable": bool, "username": str, "password": str})
        port = data.get("port")
        if _is_number(port) and 1 <= port <= 65535:
            updated["port"] = int(port)
        if data.get("auth_type") in ("basic", "jwt"):
            updated["auth_type"] = data["auth_type"]
        return updated

    def apply_sqlite(self, data: Mapping[str, object]) -> None:
        self._apply_types(self.sqlite, data, {"enable": bool, "mounted_file_path": str})
        self._apply_numbers(
            self.sqlite, data, ("disk_cache_size", "flush_mem_threshold", "resend_interval")
        )


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
