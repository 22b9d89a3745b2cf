"""The broker's live configuration: GET /configuration renders it, POST changes it in memory.

Built from validated Settings only; every change is applied whole or not at all, and keys of
the wrong type are ignored, as NanoMQ ignores them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

from nanoadmin.config import ConfigError
from nanoadmin.config.files import MAX_PEM_BYTES, read_regular_file
from nanoadmin.model.bridges import BridgeTable, render_tls
from nanoadmin.model.secrets import MASK, is_mask_echo, masked
from nanoadmin.settings import (
    AuthHttpSettings,
    HttpAuthRequestSettings,
    HttpServerSettings,
    Settings,
    TlsSettings,
    float32,
    http_server_view,
    is_number,
)

SECTIONS = ("basic", "tls", "auth", "auth_http", "websocket", "http_server", "sqlite", "bridge")
# What NanoMQ's auth_http setter takes in ``params``, case-insensitively, and what it stores
# (nanomq/nanomq conf_api.c set_auth_http_req: "subject" is stored as "protocol").
_AUTH_HTTP_PARAMS = {
    "username": "username",
    "password": "password",
    "clientid": "clientid",
    "access": "access",
    "topic": "topic",
    "ipaddress": "ipaddress",
    "sockport": "sockport",
    "common": "common",
    "protocol": "protocol",
    "subject": "protocol",
    "mountpoint": "mountpoint",
}
_AUTH_HTTP_REQUESTS = ("auth_req", "acl_req", "super_req")


def _certificates(base: Path | None, value: str | None) -> str | None:
    """NanoMQ renders TLS files by their contents. nanoadmin shows the contents of a file only
    when it holds PEM certificates that parse as such (what any other file holds is nobody's
    business through this API: a config can name any path); anything else shows as its path."""
    if value is None:
        return None
    path = Path(value)
    if not path.is_absolute() and base is not None:
        path = base.parent / path
    try:
        data = read_regular_file(path, max_bytes=MAX_PEM_BYTES, what="certificate file")
    except (OSError, ConfigError):
        return value
    if b"-----BEGIN CERTIFICATE-----" not in data:
        return value
    from cryptography import x509  # only for servers that show certificates

    try:
        x509.load_pem_x509_certificates(data)
        return data.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return value


def _listener_tls(tls: TlsSettings, base: Path | None) -> dict[str, object]:
    rendered = render_tls(tls)
    # The key shows masked (D6) whatever the file holds; its path is all there is to show.
    rendered["cert"] = _certificates(base, tls.certfile)
    rendered["cacert"] = _certificates(base, tls.cacertfile)
    return rendered


def _auth_request(request: HttpAuthRequestSettings) -> dict[str, object]:
    return {
        "url": request.url,
        "method": request.method,
        "headers": dict(request.headers),
        "params": list(request.params),
        "tls": render_tls(request.tls),
    }


def _auth_http(settings: AuthHttpSettings) -> dict[str, object]:
    return {
        "enable": settings.enable,
        "timeout": settings.timeout,
        "connect_timeout": settings.connect_timeout,
        "pool_size": settings.pool_size,
        "cache_ttl": settings.cache_ttl,
        "auth_req": _auth_request(settings.auth_req),
        "acl_req": _auth_request(settings.acl_req),
        "super_req": _auth_request(settings.super_req),
    }


class LiveConfig:
    """Sections in NanoMQ's key order, as mutable JSON-shaped values. The http_server section is
    not here: it is the server's own settings, rendered by :func:`http_server_view`."""

    def __init__(self, settings: Settings) -> None:
        basic = settings.basic
        self.basic: dict[str, object] = {
            "url": basic.url,
            "num_taskq_thread": basic.num_taskq_thread,
            "max_taskq_thread": basic.max_taskq_thread,
            "parallel": basic.parallel,
            "property_size": basic.property_size,
            "daemon": basic.daemon,
            "max_packet_size": basic.max_packet_size,
            "client_max_packet_size": basic.client_max_packet_size,
            "msq_len": basic.msq_len,
            "qos_duration": basic.qos_duration,
            "keepalive_backoff": basic.keepalive_backoff,
            "allow_anonymous": basic.allow_anonymous,
            "ipc_internal": basic.ipc_internal,
        }
        self.tls = _listener_tls(settings.tls, settings.path)
        self.auth: list[dict[str, object]] = [
            {"login": login, "password": password} for login, password in settings.auth_users
        ]
        self.auth_http = _auth_http(settings.auth_http)
        websocket = settings.websocket
        self.websocket: dict[str, object] = {
            "enable": websocket.enable,
            "tls_enable": websocket.tls_enable,
            "url": websocket.url,
            "tls_url": websocket.tls_url,
        }
        sqlite = settings.sqlite
        self.sqlite: dict[str, object] = {
            "enable": sqlite.enable,
            "disk_cache_size": sqlite.disk_cache_size,
            "flush_mem_threshold": sqlite.flush_mem_threshold,
            "resend_interval": sqlite.resend_interval,
            "mounted_file_path": sqlite.mounted_file_path,
        }
        self.bridges = BridgeTable(settings.bridges)
        self.enable_mqtt_stream = settings.mqtt_stream
        # What the API changed since this config was read: (section, key) -> value, and
        # whether it replaced the auth list. A POST /reload carries them over (carry_over).
        self._changed: dict[tuple[str, str], object] = {}
        self._auth_changed = False

    def carry_over(self, previous: LiveConfig) -> None:
        """Keep what the API changed in ``previous``, as NanoMQ keeps every runtime change
        over POST /reload (nanomq/nanomq rest_api.c post_reload_config writes into the live
        config and never re-reads the file): its values win over this config's, its bridges
        (if any were edited) replace these, and nothing else does."""
        for (section, key), value in previous._changed.items():
            getattr(self, section)[key] = copy.deepcopy(value)
        self._changed.update(previous._changed)
        if previous._auth_changed:
            self.auth = copy.deepcopy(previous.auth)
            self._auth_changed = True
        if previous.bridges.edited:
            self.bridges = previous.bridges

    def _record(self, section: str, before: Mapping[str, object]) -> None:
        current = getattr(self, section)
        for key, value in current.items():
            if before.get(key) != value or (section, key) in self._changed:
                self._changed[(section, key)] = copy.deepcopy(value)

    # -- rendering -----------------------------------------------------------------------------

    def section(self, name: str, http: HttpServerSettings) -> object:
        """One section as GET /configuration renders it, secrets masked (difference D6)."""
        if name == "bridge":
            return {"nodes": self.bridges.nodes()}
        sections: dict[str, object] = {
            "basic": self.basic,
            "tls": self.tls,
            "auth": self.auth,
            "auth_http": self.auth_http,
            "websocket": self.websocket,
            "http_server": http_server_view(http),
            "sqlite": self.sqlite,
        }
        return masked(sections[name])

    def render(self, http: HttpServerSettings) -> dict[str, object]:
        return {name: self.section(name, http) for name in SECTIONS}

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
        before = copy.deepcopy(self.basic)
        self._apply_reload(data)
        self._record("basic", before)

    def _apply_reload(self, data: Mapping[str, object]) -> None:
        numbers = (
            "property_size",
            "max_packet_size",
            "client_max_packet_size",
            "msq_len",
            "qos_duration",
        )
        self._apply_numbers(self.basic, data, numbers)
        backoff = data.get("keepalive_backoff")
        if is_number(backoff):
            self.basic["keepalive_backoff"] = float32(backoff)
        if isinstance(data.get("allow_anonymous"), bool):
            self.basic["allow_anonymous"] = data["allow_anonymous"]

    @staticmethod
    def _apply_numbers(
        target: dict[str, object], data: Mapping[str, object], keys: tuple[str, ...]
    ) -> None:
        for key in keys:
            value = data.get(key)
            if is_number(value) and 0 <= value <= 2**32 - 1:
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
        before = copy.deepcopy(self.basic)
        self._apply_basic(data)
        self._record("basic", before)

    def _apply_basic(self, data: Mapping[str, object]) -> None:
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
        if is_number(backoff):
            self.basic["keepalive_backoff"] = float32(backoff)

    def apply_tls(self, data: Mapping[str, object]) -> None:
        before = copy.deepcopy(self.tls)
        self._apply_tls(data)
        self._record("tls", before)

    def _apply_tls(self, data: Mapping[str, object]) -> None:
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
        self._auth_changed = True
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
        before = copy.deepcopy(self.websocket)
        self._apply_websocket(data)
        self._record("websocket", before)

    def _apply_websocket(self, data: Mapping[str, object]) -> None:
        self._apply_types(
            self.websocket, data, {"enable": bool, "url": str, "tls_enable": bool, "tls_url": str}
        )

    def apply_sqlite(self, data: Mapping[str, object]) -> None:
        before = copy.deepcopy(self.sqlite)
        self._apply_sqlite(data)
        self._record("sqlite", before)

    def _apply_sqlite(self, data: Mapping[str, object]) -> None:
        self._apply_types(self.sqlite, data, {"enable": bool, "mounted_file_path": str})
        self._apply_numbers(
            self.sqlite, data, ("disk_cache_size", "flush_mem_threshold", "resend_interval")
        )

    def apply_auth_http(self, data: Mapping[str, object]) -> None:
        """POST /configuration/auth_http (nanomq/nanomq conf_api.c set_auth_http_config): the
        booleans and numbers it reads, and each of auth_req, acl_req, super_req given."""
        before = copy.deepcopy(self.auth_http)
        self._apply_types(self.auth_http, data, {"enable": bool})
        for key in ("timeout", "connect_timeout", "pool_size"):
            value = data.get(key)
            if is_number(value) and 0 <= value < 2**64:
                self.auth_http[key] = int(value)
        for name in _AUTH_HTTP_REQUESTS:
            request = data.get(name)
            if isinstance(request, Mapping):
                target = self.auth_http[name]
                assert isinstance(target, dict)
                _apply_auth_request(target, request)
        self._record("auth_http", before)


def _apply_auth_request(target: dict[str, object], data: Mapping[str, object]) -> None:
    """One of auth_http's requests, as NanoMQ's set_auth_http_req changes it: ``url`` and
    ``method`` strings; ``headers``' string members overwrite the existing headers by position
    (NanoMQ would crash on more members than there are headers; here they are added); a
    ``params`` list replaces the list, with the names it knows and nothing else."""
    for key in ("url", "method"):
        value = data.get(key)
        if isinstance(value, str):
            target[key] = value
    headers = data.get("headers")
    if isinstance(headers, Mapping):
        current = target["headers"]
        assert isinstance(current, dict)
        pairs = list(current.items())
        index = 0
        for key, value in headers.items():
            if not isinstance(value, str):
                continue
            if index < len(pairs):
                pairs[index] = (key, value)
            else:
                pairs.append((key, value))
            index += 1
        target["headers"] = dict(pairs)
    if "params" in data:
        params = data["params"]
        # cJSON_ArrayForEach walks an object's members too, and nothing else.
        items = list(params.values()) if isinstance(params, Mapping) else params
        names: list[object] = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str) and item.lower() in _AUTH_HTTP_PARAMS:
                names.append(_AUTH_HTTP_PARAMS[item.lower()])
        target["params"] = names
