"""Settings: a config tree validated once, every section a frozen dataclass.

Every value is read and checked here, once, when a config is loaded; the runtime, the live
configuration and the auth strategy are built from ``Settings`` alone. A bad value is a
ConfigError naming the file, line, dotted key and the expected form. NanoMQ's quirks about what
a value means live here too, each in one place: the API renders these sections as NanoMQ does
(see ``model/live_config.py``), but never decides what a value is.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeGuard, TypeVar, get_args

from nanoadmin.config import ConfigError, ConfigFormat, load_tree
from nanoadmin.config.errors import key_location
from nanoadmin.config.values import (
    UnknownKey,
    ValueProblem,
    boolean,
    byte_size,
    duration_seconds,
    integer,
    is_secret_key,
    lookup,
    number,
    string,
    string_list,
)
from nanoadmin.http.limits import DEFAULT_JOURNAL_SIZE, DEFAULT_MAX_CONNECTIONS, MAX_JOURNAL_SIZE
from nanoadmin.mqtt.limits import MAX_QUEUED_MESSAGES, PROTOCOL_MAX_PACKET

logger = logging.getLogger("nanoadmin.settings")

R = TypeVar("R")
AuthType = Literal["basic", "jwt", "no_auth"]
AUTH_TYPES: tuple[AuthType, ...] = get_args(AuthType)
DEFAULT_CONF_PATH = Path("conf/nanomq.conf")
DEFAULT_TOKEN_CACHE_SIZE = 10_000
Tree = Mapping[str, object]


def _read(tree: object, key: str, reader: Callable[[str, object], R], default: R) -> R:
    """The value at dotted ``key`` below ``tree`` read by ``reader``, or ``default``."""
    value = lookup(tree, key) if isinstance(tree, Mapping) else None
    return default if value is None else reader(key, value)


def _at(prefix: str) -> Callable[[object, str, Callable[[str, object], R], R], R]:
    """``_read`` for a block found at ``prefix``, naming keys by their full dotted path."""

    def read(block: object, key: str, reader: Callable[[str, object], R], default: R) -> R:
        value = lookup(block, key) if isinstance(block, Mapping) else None
        return default if value is None else reader(f"{prefix}.{key}", value)

    return read


def _optional_string(key: str, value: object) -> str | None:
    return string(key, value)


# -- http_server --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JwtSettings:
    public_keyfiles: tuple[Path, ...] = ()
    # Verified tokens remembered until they expire; 0 turns the cache off.
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE


@dataclass(frozen=True, slots=True)
class HttpServerSettings:
    enable: bool = True
    port: int = 8081
    ip_addr: str | None = None
    limit_conn: int = 32
    max_body: int = 1_048_576
    username: str = "admin"
    password: str = "public"
    auth_type: AuthType = "basic"
    jwt: JwtSettings = field(default_factory=JwtSettings)
    # Whether the password was set (file, environment or the API), not NanoMQ's default.
    password_set: bool = False

    @property
    def bind_host(self) -> str:
        return self.ip_addr or "0.0.0.0"


def _port(key: str, value: object) -> int:
    port = integer(key, value, minimum=0, maximum=65535)
    return port or 8081  # NanoMQ: 0 means the default port


def _auth_type(key: str, value: object) -> AuthType:
    text = string(key, value).strip().lower()
    for auth_type in AUTH_TYPES:
        if text == auth_type:
            return auth_type
    raise ValueProblem(key, value, "one of: " + ", ".join(AUTH_TYPES))


def _limit_conn(key: str, value: object) -> int:
    return integer(key, value, minimum=1, maximum=100_000)


def _max_body(key: str, value: object) -> int:
    return max(1, byte_size(key, value))


def _cache_size(key: str, value: object) -> int:
    return integer(key, value, maximum=10_000_000)


def _resolve(base: Path | None, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() or base is None else base.parent / path


# Every key http_server may hold. It governs auth, so a key nanoadmin does not know is a typo
# that would leave a setting at its default (auth_tpye = jwt: Basic with admin/public).
HTTP_SERVER_KEYS: Mapping[str, object] = {
    "enable": None,
    "port": None,
    "ip_addr": None,
    "limit_conn": None,
    "parallel": None,  # NanoMQ 0.14-0.18's name of limit_conn; still read from KV files
    "max_body": None,
    "username": None,
    "password": None,
    "auth_type": None,
    "jwt": {
        "public": {"keyfile": None},
        "private": {"keyfile": None},
        "token_cache_size": None,
    },
}


def _known_keys_only(prefix: str, block: Mapping[str, object], known: Mapping[str, object]) -> None:
    for key, value in block.items():
        if key not in known:
            raise UnknownKey(f"{prefix}.{key}", list(known), f"a setting of {prefix}")
        below = known[key]
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            _known_keys_only(f"{prefix}.{key}", value, below)


def http_server_from_tree(tree: Tree, fmt: ConfigFormat, base: Path | None) -> HttpServerSettings:
    """Read ``http_server`` with NanoMQ's defaults; raises ValueProblem on a bad value."""
    section = lookup(tree, "http_server")
    if section is None:
        misspelled = difflib.get_close_matches("http_server", [str(k) for k in tree], 1, 0.75)
        if misspelled:
            raise UnknownKey(
                misspelled[0],
                ["http_server"],
                "a section NanoMQ reads (and there is no http_server)",
            )
    elif not isinstance(section, Mapping):
        raise ValueProblem("http_server", section, "a block of settings")
    else:
        _known_keys_only("http_server", section, HTTP_SERVER_KEYS)
    read = _at("http_server")
    defaults = HttpServerSettings()
    keyfiles: list[str] = read(section, "jwt.public.keyfile", string_list, [])
    return HttpServerSettings(
        # HOCON: the block's presence enables the server; KV: http_server.enable, default off.
        enable=read(section, "enable", boolean, False) if fmt == "kv" else True,
        port=read(section, "port", _port, defaults.port),
        ip_addr=read(section, "ip_addr", _optional_string, defaults.ip_addr),
        limit_conn=read(section, "limit_conn", _limit_conn, defaults.limit_conn),
        max_body=read(section, "max_body", _max_body, defaults.max_body),
        username=read(section, "username", string, defaults.username),
        password=read(section, "password", string, defaults.password),
        auth_type=read(section, "auth_type", _auth_type, defaults.auth_type),
        jwt=JwtSettings(
            public_keyfiles=tuple(_resolve(base, name) for name in keyfiles),
            token_cache_size=read(
                section, "jwt.token_cache_size", _cache_size, DEFAULT_TOKEN_CACHE_SIZE
            ),
        ),
        password_set=isinstance(section, Mapping) and "password" in section,
    )


def http_server_view(http: HttpServerSettings) -> dict[str, object]:
    """The http_server section as NanoMQ renders it: no_auth shows as "basic"."""
    return {
        "enable": http.enable,
        "port": http.port,
        "addr": http.ip_addr,
        "username": http.username,
        "password": http.password,
        "auth_type": "jwt" if http.auth_type == "jwt" else "basic",
    }


def http_server_posted(
    http: HttpServerSettings, data: Mapping[str, object], *, keep: Callable[[str, object], bool]
) -> HttpServerSettings:
    """``http`` after POST /configuration's http_server ``data``, as NanoMQ applies it: keys of
    the wrong type are ignored; ``auth_type`` is "basic" or "jwt", case-sensitive. ``keep(key,
    value)`` says a value must not be applied (a secret sent back masked, as GET showed it)."""
    enable, username, password, port = (
        data.get(k) for k in ("enable", "username", "password", "port")
    )
    password_posted = isinstance(password, str) and not keep("password", password)
    auth_type: AuthType = http.auth_type
    posted = data.get("auth_type")
    # no_auth shows as "basic": posting back what GET showed must not turn auth on.
    if posted == "jwt" or (posted == "basic" and http.auth_type != "no_auth"):
        auth_type = posted
    return replace(
        http,
        enable=enable if isinstance(enable, bool) else http.enable,
        port=int(port) if is_number(port) and 1 <= port <= 65535 else http.port,
        username=username
        if isinstance(username, str) and not keep("username", username)
        else http.username,
        password=password if isinstance(password, str) and password_posted else http.password,
        auth_type=auth_type,
        password_set=http.password_set or password_posted,
    )


def is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number: not a bool, not NaN."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


# -- the sections GET /configuration renders ----------------------------------------------------


def float32(value: float) -> float:
    # NanoMQ keeps keepalive_backoff as a C float; cJSON prints the widened double.
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _seconds(key: str, value: object) -> int:
    return int(duration_seconds(key, value))


def _threads(default: int) -> Callable[[str, object], int]:
    # NanoMQ: 0 (the KV file's default) means "two per CPU".
    return lambda key, value: integer(key, value) or default


def _address(prefix: str, block: object) -> str | None:
    bind = lookup(block, "bind") if isinstance(block, Mapping) else None
    return prefix + bind if isinstance(bind, str) else None


@dataclass(frozen=True, slots=True)
class BasicSettings:
    """NanoMQ's ``basic`` section; sizes in KiB, as it renders them."""

    url: str | None
    num_taskq_thread: int
    max_taskq_thread: int
    parallel: int
    property_size: int
    daemon: bool
    max_packet_size: int
    client_max_packet_size: int
    msq_len: int
    qos_duration: int
    keepalive_backoff: float
    allow_anonymous: bool
    ipc_internal: bool


def basic_from_tree(tree: Tree) -> BasicSettings:
    threads = 2 * (os.cpu_count() or 1)
    if lookup(tree, "listeners") is None:
        url: str | None = "nmq-tcp://0.0.0.0:1883"
    else:
        url = _address("nmq-tcp://", lookup(tree, "listeners.tcp"))
    packet = _read(tree, "mqtt.max_packet_size", byte_size, 10240 * 1024)
    client_packet = _read(tree, "mqtt.client_max_packet_size", byte_size, packet)
    return BasicSettings(
        url=url,
        num_taskq_thread=_read(tree, "system.num_taskq_thread", _threads(threads), threads),
        max_taskq_thread=_read(tree, "system.max_taskq_thread", _threads(threads), threads),
        parallel=_read(tree, "system.parallel", _threads(threads), threads),
        property_size=_read(tree, "mqtt.property_size", integer, 32),
        daemon=_read(tree, "system.daemon", boolean, False),
        max_packet_size=packet // 1024,
        client_max_packet_size=client_packet // 1024,
        msq_len=_read(tree, "mqtt.max_mqueue_len", integer, 1024),
        qos_duration=_read(tree, "mqtt.retry_interval", _seconds, 10),
        keepalive_backoff=float32(_read(tree, "mqtt.keepalive_multiplier", number, 1.5)),
        allow_anonymous=_read(tree, "auth.allow_anonymous", boolean, True),
        ipc_internal=_read(tree, "system.enable_ipc_internal", boolean, True),
    )


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """A TLS block: ``listeners.ssl``, or a bridge's or an HTTP auth request's ``ssl``. The
    files are as configured: the listener's are rendered by their contents, the others by name."""

    enable: bool = False
    url: str | None = None
    key_password: str | None = None
    keyfile: str | None = None
    certfile: str | None = None
    cacertfile: str | None = None
    verify_peer: bool = False
    fail_if_no_peer_cert: bool = False


def tls_from_block(prefix: str, block: object, *, url_prefix: str | None = None) -> TlsSettings:
    if not isinstance(block, Mapping):
        return TlsSettings()
    read = _at(prefix)
    enabled_by_default = "bind" in block if url_prefix is not None else bool(block)
    return TlsSettings(
        enable=read(block, "enable", boolean, enabled_by_default),
        url=_address(url_prefix, block) if url_prefix is not None else None,
        key_password=read(block, "key_password", string, None),
        keyfile=read(block, "keyfile", string, None),
        certfile=read(block, "certfile", string, None),
        cacertfile=read(block, "cacertfile", string, None),
        verify_peer=read(block, "verify_peer", boolean, False),
        fail_if_no_peer_cert=read(block, "fail_if_no_peer_cert", boolean, False),
    )


HTTP_AUTH_PARAMS = (
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


@dataclass(frozen=True, slots=True)
class HttpAuthRequestSettings:
    url: str | None = None
    method: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    params: tuple[str, ...] = ()
    tls: TlsSettings = field(default_factory=TlsSettings)


@dataclass(frozen=True, slots=True)
class AuthHttpSettings:
    enable: bool
    timeout: int
    connect_timeout: int
    pool_size: int
    cache_ttl: int
    auth_req: HttpAuthRequestSettings
    acl_req: HttpAuthRequestSettings
    super_req: HttpAuthRequestSettings


def _scalar_text(key: str, value: object) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueProblem(key, value, "a string")


def auth_http_from_tree(tree: Tree) -> AuthHttpSettings:
    base = "auth.http_auth"
    block = lookup(tree, base)

    def request(name: str) -> HttpAuthRequestSettings:
        prefix = f"{base}.{name}"
        req = lookup(tree, prefix)
        if not isinstance(req, Mapping):
            return HttpAuthRequestSettings()
        read = _at(prefix)
        headers, params = req.get("headers"), req.get("params")
        if headers is not None and not isinstance(headers, Mapping):
            raise ValueProblem(f"{prefix}.headers", headers, "a block of name = value")
        if params is not None and not isinstance(params, Mapping):
            raise ValueProblem(f"{prefix}.params", params, "a block such as {clientid = %c}")
        return HttpAuthRequestSettings(
            url=read(req, "url", string, None),
            method=read(req, "method", string, None),
            headers=tuple(
                (str(k), _scalar_text(f"{prefix}.headers.{k}", v))
                for k, v in (headers or {}).items()
            ),
            params=tuple(str(k) for k in params or {}),
            tls=tls_from_block(f"{prefix}.ssl", req.get("ssl")),
        )

    return AuthHttpSettings(
        enable=_read(tree, f"{base}.enable", boolean, isinstance(block, Mapping)),
        timeout=_read(tree, f"{base}.timeout", _seconds, 5),
        connect_timeout=_read(tree, f"{base}.connect_timeout", _seconds, 5),
        pool_size=_read(tree, f"{base}.pool_size", integer, 32),
        cache_ttl=_read(tree, f"{base}.cache_ttl", _seconds, 0),
        auth_req=request("auth_req"),
        acl_req=request("acl_req"),
        super_req=request("super_req"),
    )


def auth_users_from_tree(tree: Tree, *, strings_only: bool = False) -> tuple[tuple[str, str], ...]:
    """``auth.password``: NanoMQ's ``{include "nanomq_pwd.conf"}`` of ``"user": "pass"`` lines.
    NanoMQ's API shows a number as its text; its MQTT listener takes only quoted passwords
    (``strings_only``)."""
    passwords = lookup(tree, "auth.password")
    if passwords is None:
        return ()
    if not isinstance(passwords, Mapping):
        raise ValueProblem("auth.password", passwords, 'a block of "user": "password" lines')
    read = string if strings_only else _scalar_text
    return tuple(
        (str(user), read(f"auth.password.{user}", password)) for user, password in passwords.items()
    )


@dataclass(frozen=True, slots=True)
class WebsocketSettings:
    enable: bool
    tls_enable: bool
    url: str | None
    tls_url: str | None


def websocket_from_tree(tree: Tree) -> WebsocketSettings:
    ws, wss = lookup(tree, "listeners.ws"), lookup(tree, "listeners.wss")
    has_listeners = isinstance(lookup(tree, "listeners"), Mapping)
    return WebsocketSettings(
        enable=isinstance(ws, Mapping) and _read(tree, "listeners.ws.enable", boolean, True),
        # NanoMQ quirk: tls_enable is true whenever a listeners block exists.
        tls_enable=_read(tree, "listeners.wss.enable", boolean, has_listeners),
        url=_address("nmq-ws://", ws),
        tls_url=_address("nmq-wss://", wss),
    )


@dataclass(frozen=True, slots=True)
class SqliteSettings:
    enable: bool
    disk_cache_size: int
    flush_mem_threshold: int
    resend_interval: int
    mounted_file_path: str | None


def sqlite_from_tree(tree: Tree) -> SqliteSettings:
    return SqliteSettings(
        enable=_read(tree, "sqlite.enable", boolean, isinstance(lookup(tree, "sqlite"), Mapping)),
        disk_cache_size=_read(tree, "sqlite.disk_cache_size", integer, 102400),
        flush_mem_threshold=_read(tree, "sqlite.flush_mem_threshold", integer, 100),
        resend_interval=_read(tree, "sqlite.resend_interval", integer, 0),
        mounted_file_path=_read(tree, "sqlite.mounted_file_path", string, None),
    )


# -- bridges and rules ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BridgeTopic:
    """One forward or subscription of a bridge; ``qos`` None where none was configured."""

    remote_topic: str
    local_topic: str
    qos: int | None = None
    prefix: str | None = None
    suffix: str | None = None


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """One ``bridges.mqtt.<name>`` block; the keys NanoMQ renders, validated."""

    name: str
    server: str = ""
    proto_ver: int = 4
    clientid: str | None = None
    clean_start: bool = True
    username: str | None = None
    password: str | None = None
    keepalive: int = 60
    enable: bool = True
    parallel: int = 2
    conn_properties: Mapping[str, object] | None = None
    will_properties: Mapping[str, object] | None = None
    sub_properties: Mapping[str, object] | None = None
    forwards: tuple[BridgeTopic, ...] = ()
    subscription: tuple[BridgeTopic, ...] = ()
    tls: TlsSettings = field(default_factory=TlsSettings)


def _qos(key: str, value: object) -> int:
    return integer(key, value, minimum=0, maximum=2)


def _proto_ver(key: str, value: object) -> int:
    return integer(key, value, minimum=3, maximum=5)


def bridge_topics(prefix: str, entries: object, *, strict: bool) -> tuple[BridgeTopic, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        if strict:
            raise ValueProblem(prefix, entries, "a list of {remote_topic, local_topic} blocks")
        return ()
    topics: list[BridgeTopic] = []
    for index, entry in enumerate(entries):
        where = f"{prefix}[{index}]"
        if not isinstance(entry, Mapping):
            if strict:
                raise ValueProblem(where, entry, "a block with remote_topic and local_topic")
            continue
        remote, local = entry.get("remote_topic"), entry.get("local_topic")
        if not isinstance(remote, str) or not isinstance(local, str):
            # NanoMQ skips an entry without both topics.
            if strict and (remote is not None or local is not None):
                missing = "remote_topic" if not isinstance(remote, str) else "local_topic"
                raise ValueProblem(f"{where}.{missing}", entry.get(missing), "a string")
            continue
        read = _at(where)
        qos: int | None
        try:
            qos = read(entry, "qos", _qos, None)
        except ValueProblem:
            if strict:
                raise
            qos = None
        prefix_text, suffix_text = entry.get("prefix"), entry.get("suffix")
        topics.append(
            BridgeTopic(
                remote,
                local,
                qos,
                prefix_text if isinstance(prefix_text, str) else None,
                suffix_text if isinstance(suffix_text, str) else None,
            )
        )
    return tuple(topics)


def bridge_from_block(
    name: str, block: Mapping[str, object], *, prefix: str | None = None, strict: bool = True
) -> BridgeSettings:
    """A bridge from its config block (or a PUT body's, ``strict=False``: NanoMQ ignores what
    it cannot read there, and so do we)."""
    where = prefix if prefix is not None else f"bridges.mqtt.{name}"
    read = _at(where)
    defaults = BridgeSettings(name)

    def value(key: str, reader: Callable[[str, object], R], default: R) -> R:
        try:
            return read(block, key, reader, default)
        except ValueProblem:
            if strict:
                raise
            return default

    proto_ver = value("proto_ver", _proto_ver, defaults.proto_ver)

    def properties(key: str) -> Mapping[str, object] | None:
        found = block.get(key)
        return dict(found) if proto_ver == 5 and isinstance(found, Mapping) else None

    return BridgeSettings(
        name=name,
        server=value("server", string, defaults.server),
        proto_ver=proto_ver,
        clientid=value("clientid", _scalar_text, None),
        clean_start=value("clean_start", boolean, True),
        username=value("username", _scalar_text, None),
        password=value("password", _scalar_text, None),
        keepalive=value("keepalive", _seconds, defaults.keepalive),
        enable=value("enable", boolean, True),
        parallel=value("max_parallel_processes", integer, defaults.parallel),
        conn_properties=properties("conn_properties"),
        will_properties=properties("will_properties"),
        sub_properties=properties("sub_properties"),
        forwards=bridge_topics(f"{where}.forwards", block.get("forwards"), strict=strict),
        subscription=bridge_topics(
            f"{where}.subscription", block.get("subscription"), strict=strict
        ),
        tls=tls_from_block(f"{where}.ssl", block.get("ssl")) if strict else _lenient_tls(block),
    )


def _lenient_tls(block: Mapping[str, object]) -> TlsSettings:
    try:
        return tls_from_block("ssl", block.get("ssl"))
    except ValueProblem:
        return TlsSettings()


def bridges_from_tree(tree: Tree) -> tuple[BridgeSettings, ...]:
    mqtt = lookup(tree, "bridges.mqtt")
    if not isinstance(mqtt, Mapping):
        return ()
    return tuple(
        bridge_from_block(str(name), block)
        for name, block in mqtt.items()
        # `bridges.mqtt.cache` is the bridges' SQLite cache, not a bridge.
        if name != "cache" and isinstance(block, Mapping)
    )


RULE_ACTIONS = ("repub", "sqlite", "mysql", "postgresql", "timescaledb")


@dataclass(frozen=True, slots=True)
class RuleSettings:
    action: str
    sql: str
    enabled: bool = True
    params: Mapping[str, object] = field(default_factory=dict)


def rules_from_tree(tree: Tree) -> tuple[RuleSettings, ...] | None:
    """The ``rules`` block's rules, or None without one (NanoMQ then has no rule engine)."""
    block = lookup(tree, "rules")
    if not isinstance(block, Mapping):
        return None
    rules: list[RuleSettings] = []
    for action, section in block.items():
        if action not in RULE_ACTIONS or not isinstance(section, Mapping):
            continue
        entries = section.get("rules")
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise ValueProblem(f"rules.{action}.rules", entries, "a list of rule blocks")
        for index, entry in enumerate(entries):
            where = f"rules.{action}.rules[{index}]"
            if not isinstance(entry, Mapping):
                raise ValueProblem(where, entry, "a block with sql")
            sql = entry.get("sql")
            if not isinstance(sql, str):
                raise ValueProblem(f"{where}.sql", sql, "a string")
            params = {k: v for k, v in entry.items() if k not in ("sql", "enabled")}
            rules.append(
                RuleSettings(str(action), sql, _read(entry, "enabled", boolean, True), params)
            )
    return tuple(rules)


# -- the MQTT listener: nanoadmin.mqtt.enable (or --mqtt) and NanoMQ's own keys ----------------

DEFAULT_MQTT_BIND = ("0.0.0.0", 1883)
DEFAULT_MAX_PACKET_SIZE = 10240 * 1024
_BIND = re.compile(r"^(?:(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):)?([0-9]{1,5})$")


def password_digest(password: bytes) -> bytes:
    """What is kept of a password: equal-length digests compare in constant time."""
    return hashlib.sha256(password).digest()


@dataclass(frozen=True, slots=True)
class MqttAuth:
    """``auth.allow_anonymous`` and the ``auth.password`` pairs (nanomq_pwd.conf)."""

    allow_anonymous: bool = True
    # username -> digest of its password; never the password itself.
    passwords: Mapping[str, bytes] = field(default_factory=dict)

    def __repr__(self) -> str:  # no digest in a log line either
        return f"MqttAuth(allow_anonymous={self.allow_anonymous}, users={len(self.passwords)})"


@dataclass(frozen=True, slots=True)
class MqttSettings:
    enable: bool = False
    host: str = DEFAULT_MQTT_BIND[0]
    port: int = DEFAULT_MQTT_BIND[1]
    max_packet_size: int = DEFAULT_MAX_PACKET_SIZE  # bytes
    keepalive_multiplier: float = 1.5
    max_mqueue_len: int = 1024
    auth: MqttAuth = field(default_factory=MqttAuth)


def parse_bind(key: str, value: object, default_host: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``PORT`` (on ``default_host``); ValueProblem otherwise."""
    text = string(key, value).strip()
    # NanoMQ's listeners may carry a scheme (the KV url) and the ws ones a path.
    text = text.split("://", 1)[-1]
    match = _BIND.match(text)
    if match is None or int(match.group(2)) > 65535:
        raise ValueProblem(key, value, "HOST:PORT or PORT, such as 0.0.0.0:1883")
    host = match.group(1) or default_host
    return host.strip("[]"), int(match.group(2))


def _mqtt_auth(tree: Tree) -> MqttAuth:
    digests = {
        user: password_digest(password.encode("utf-8"))
        for user, password in auth_users_from_tree(tree, strings_only=True)
    }
    return MqttAuth(_read(tree, "auth.allow_anonymous", boolean, True), digests)


def _keepalive_multiplier(key: str, value: object) -> float:
    # Any number NanoMQ takes (its KV sample says 1250), held to what a listener can use.
    return min(max(number(key, value), 1.0), 100.0)


def _packet_size(key: str, value: object) -> int:
    size = byte_size(key, value)
    if size < 1:
        raise ValueProblem(key, value, "a size of at least 1 byte")
    # NanoMQ's sample config says 256MB, one byte past what MQTT can encode.
    return min(size, PROTOCOL_MAX_PACKET)


def _mqueue_len(key: str, value: object) -> int:
    # Any length NanoMQ takes (0 too), held to what a listener can use.
    return max(1, min(integer(key, value), MAX_QUEUED_MESSAGES))


def mqtt_from_tree(tree: Tree) -> MqttSettings:
    host, port = _read(
        tree,
        "listeners.tcp.bind",
        lambda key, value: parse_bind(key, value, DEFAULT_MQTT_BIND[0]),
        DEFAULT_MQTT_BIND,
    )
    return MqttSettings(
        enable=_read(tree, "nanoadmin.mqtt.enable", boolean, False),
        host=host,
        port=port,
        max_packet_size=_read(tree, "mqtt.max_packet_size", _packet_size, DEFAULT_MAX_PACKET_SIZE),
        keepalive_multiplier=_read(tree, "mqtt.keepalive_multiplier", _keepalive_multiplier, 1.5),
        max_mqueue_len=_read(tree, "mqtt.max_mqueue_len", _mqueue_len, 1024),
        auth=_mqtt_auth(tree),
    )


def with_mqtt_bind(settings: Settings, bind: str) -> Settings:
    """``--mqtt [HOST:]PORT``: the listener on, at that address (HOST defaults to the file's)."""
    try:
        host, port = parse_bind("--mqtt", bind, settings.mqtt.host)
    except ValueProblem as problem:
        raise ConfigError(str(problem)) from None
    return replace(settings, mqtt=replace(settings.mqtt, enable=True, host=host, port=port))


# -- nanoadmin's own section, which NanoMQ ignores ----------------------------------------------


@dataclass(frozen=True, slots=True)
class NanoadminSettings:
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    # Origins answered with CORS headers (--cors); none: no CORS, as NanoMQ.
    cors: tuple[str, ...] = ()
    # A folder served at / (--dist), as NanoMQ serves ./dist.
    dist: Path | None = None
    # The test double's control API under /_nanoadmin/v1/ (--control); off: those paths 404.
    control: bool = False
    # Requests the journal keeps (0: no journal).
    journal_size: int = DEFAULT_JOURNAL_SIZE
    # Fault rules loaded at start (--faults), TOML or JSON.
    faults: Path | None = None
    # The web console at / (and its assets under /_nanoadmin/console/).
    console: bool = True


NANOADMIN_KEYS: Mapping[str, object] = {
    "max_connections": None,
    "mqtt": {"enable": None},
    "cors": None,
    "dist": None,
    "control": None,
    "journal_size": None,
    "faults": None,
    "console": None,
}


def _max_connections(key: str, value: object) -> int:
    return integer(key, value, minimum=1, maximum=1_000_000)


def _journal_size(key: str, value: object) -> int:
    return integer(key, value, minimum=0, maximum=MAX_JOURNAL_SIZE)


def faults_file(key: str, value: object, base: Path | None = None) -> Path:
    """A fault file that exists, relative to ``base``'s folder (a config file) or the CWD."""
    path = _resolve(base, string(key, value))
    if not path.is_file():
        raise ValueProblem(key, value, "a TOML or JSON file of fault rules that exists")
    return path


# A serialized origin: scheme, host, optional port; no path, no trailing slash.
_ORIGIN = re.compile(
    r"(https?)://(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::([0-9]{1,5}))?",
    re.IGNORECASE,
)


def normalize_origin(text: str) -> str | None:
    """``text`` as a browser sends it in Origin (scheme and host in lower case), or None when
    it is not a serialized http(s) origin (``*``, ``null``, a path, a trailing slash)."""
    match = _ORIGIN.fullmatch(text.strip())
    if match is None:
        return None
    scheme, host, port = match.groups()
    if port is not None and not 0 < int(port) <= 65535:
        return None
    return f"{scheme.lower()}://{host.lower()}" + (f":{port}" if port is not None else "")


def cors_origins(key: str, value: object) -> tuple[str, ...]:
    """Serialized origins (``https://dash.example:8443``), as a browser sends them."""
    origins: list[str] = []
    for text in string_list(key, value):
        origin = normalize_origin(text)
        if origin is None:
            expected = (
                "an origin such as https://dash.example:8443 (never *: the API takes "
                "credentials, and a browser refuses * with them)"
            )
            raise ValueProblem(key, text, expected)
        origins.append(origin)
    return tuple(dict.fromkeys(origins))


def dist_folder(key: str, value: object, base: Path | None = None) -> Path:
    """A folder that exists, relative to ``base``'s folder (a config file) or the CWD; as its
    real path, so that two names of one folder compare equal."""
    path = _resolve(base, string(key, value))
    if not path.is_dir():
        raise ValueProblem(key, value, "a folder that exists")
    return Path(os.path.realpath(path))


def nanoadmin_from_tree(tree: Tree, base: Path | None = None) -> NanoadminSettings:
    block = lookup(tree, "nanoadmin")
    if block is None:
        return NanoadminSettings()
    if not isinstance(block, Mapping):
        raise ValueProblem("nanoadmin", block, "a block of settings")
    _known_keys_only("nanoadmin", block, NANOADMIN_KEYS)
    read = _at("nanoadmin")
    return NanoadminSettings(
        max_connections=read(block, "max_connections", _max_connections, DEFAULT_MAX_CONNECTIONS),
        cors=read(block, "cors", cors_origins, ()),
        dist=read(block, "dist", lambda key, value: dist_folder(key, value, base), None),
        control=read(block, "control", boolean, False),
        journal_size=read(block, "journal_size", _journal_size, DEFAULT_JOURNAL_SIZE),
        faults=read(block, "faults", lambda key, value: faults_file(key, value, base), None),
        console=read(block, "console", boolean, True),
    )


# -- log: NanoMQ's level names -------------------------------------------------------------------

# NanoMQ's levels (its --log_level, log.level and NANOMQ_LOG_LEVEL), and Python's own names.
LOG_LEVELS: Mapping[str, int] = {
    "trace": 5,
    "debug": 10,
    "info": 20,
    "warn": 30,
    "warning": 30,
    "error": 40,
    "fatal": 50,
    "critical": 50,
}


def log_level(key: str, value: object) -> str:
    text = string(key, value).strip().lower()
    if text not in LOG_LEVELS:
        raise ValueProblem(key, value, "one of: trace, debug, info, warn, error, fatal")
    return text


# -- keys nanoadmin does not know ----------------------------------------------------------------

# The sections of NanoMQ's config (and the odd top-level keys its KV format maps to), with the
# keys of those whose every key is known; None: not checked below that level. An unknown key
# is a warning (real files carry sections nanoadmin only displays), except in http_server and
# nanoadmin, where it is an error.
KNOWN_KEYS: Mapping[str, Mapping[str, object] | None] = {
    "system": dict.fromkeys(
        [
            "daemon",
            "num_taskq_thread",
            "max_taskq_thread",
            "parallel",
            "enable_ipc_internal",
            "hook_ipc_url",
            "cmd_ipc_url",
        ]
    ),
    "mqtt": dict.fromkeys(
        [
            "property_size",
            "max_topic_alias",
            "max_packet_size",
            "client_max_packet_size",
            "max_mqueue_len",
            "max_inflight_window",
            "max_awaiting_rel",
            "await_rel_timeout",
            "retry_interval",
            "keepalive_multiplier",
        ]
    ),
    "listeners": dict.fromkeys(["tcp", "ssl", "ws", "wss", "quic"]),
    "http_server": None,
    "log": dict.fromkeys(["to", "level", "dir", "file", "rotation", "uds_addr"]),
    "auth": dict.fromkeys(
        ["allow_anonymous", "no_match", "deny_action", "cache", "password", "acl", "http_auth"]
    ),
    "sqlite": dict.fromkeys(
        ["enable", "disk_cache_size", "mounted_file_path", "flush_mem_threshold", "resend_interval"]
    ),
    **dict.fromkeys(
        [
            "webhook",
            "bridges",
            "rules",
            "parquet",
            "plugin",
            "exchange_client",
            "preset",
            "nanoadmin",
        ]
    ),
    # What the KV format's own keys become (config/kv.py keeps unknown ones where they stand).
    **dict.fromkeys(
        [
            "acl_enable",
            "acl_cache_max_size",
            "acl_cache_ttl",
            "enable_acl_cache",
            "auth_enable",
            "aws",
            "bridge",
            "rule",
            "rule_option",
        ]
    ),
}


def unknown_keys(tree: Tree) -> list[tuple[str, str]]:
    """(dotted key, did-you-mean hint) for each key of ``tree`` KNOWN_KEYS does not know."""
    found: list[tuple[str, str]] = []

    def check(prefix: str, block: Mapping[str, object], known: Mapping[str, object]) -> None:
        for key in block:
            if key in known:
                below, value = known[key], block[key]
                if isinstance(below, Mapping) and isinstance(value, Mapping):
                    check(f"{prefix}{key}.", value, below)
                continue
            close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.75)
            found.append(
                (f"{prefix}{key}", f" (did you mean {prefix}{close[0]}?)" if close else "")
            )

    check("", tree, KNOWN_KEYS)
    return found


# -- the whole config -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path | None
    format: ConfigFormat
    http_server: HttpServerSettings
    basic: BasicSettings = field(default_factory=lambda: basic_from_tree({}))
    tls: TlsSettings = field(default_factory=TlsSettings)
    auth_users: tuple[tuple[str, str], ...] = ()
    auth_http: AuthHttpSettings = field(default_factory=lambda: auth_http_from_tree({}))
    websocket: WebsocketSettings = field(default_factory=lambda: websocket_from_tree({}))
    sqlite: SqliteSettings = field(default_factory=lambda: sqlite_from_tree({}))
    bridges: tuple[BridgeSettings, ...] = ()
    rules: tuple[RuleSettings, ...] | None = None
    # parquet.enable: GET /reload's enable_mqtt_stream.
    mqtt_stream: bool = False
    nanoadmin: NanoadminSettings = field(default_factory=NanoadminSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    # log.level (or NANOMQ_LOG_LEVEL), one of LOG_LEVELS; None: not set.
    log_level: str | None = None
    # What a reader of the config should hear of: keys nothing reads, variables the file beats.
    warnings: tuple[str, ...] = ()
    # The files the config included.
    included: tuple[Path, ...] = ()
    # How it was loaded, so a reload reads it the same way.
    forced_kv: bool = False
    port_override: int | None = None
    host_override: str | None = None
    mqtt_override: str | None = None
    cors_override: tuple[str, ...] | None = None
    dist_override: str | None = None
    control_override: bool = False
    faults_override: str | None = None

    def with_port(self, port: int) -> Settings:
        return replace(self, http_server=replace(self.http_server, port=port))


def settings_from_tree(
    tree: Tree,
    *,
    fmt: ConfigFormat = "hocon",
    path: Path | None = None,
    base: Path | None = None,
    source: str | None = None,
) -> Settings:
    """Settings for a tree read from ``path``; relative key files resolve beside ``base``.

    ConfigError, naming the file, line and key, for any value that is not of its form; with
    ``source`` (text that did not come from ``path``), naming ``source`` and the key but never
    the value, which may have come from an included file.
    """
    try:
        return Settings(
            path=path,
            format=fmt,
            http_server=http_server_from_tree(tree, fmt, base or path),
            basic=basic_from_tree(tree),
            tls=tls_from_block(
                "listeners.ssl", lookup(tree, "listeners.ssl"), url_prefix="tls+nmq-tcp://"
            ),
            auth_users=auth_users_from_tree(tree),
            auth_http=auth_http_from_tree(tree),
            websocket=websocket_from_tree(tree),
            sqlite=sqlite_from_tree(tree),
            bridges=bridges_from_tree(tree),
            rules=rules_from_tree(tree),
            mqtt_stream=_read(tree, "parquet.enable", boolean, False),
            nanoadmin=nanoadmin_from_tree(tree, base or path),
            mqtt=mqtt_from_tree(tree),
            log_level=_read(tree, "log.level", log_level, None),
            warnings=tuple(
                f"{key_location(path, key)}: unknown key {key} is ignored{hint}"
                for key, hint in unknown_keys(tree)
            ),
        )
    except ValueProblem as problem:
        if source is not None:
            raise ConfigError(f"{source}: {problem.without_value}") from None
        raise ConfigError(f"{key_location(path, problem.key)}: {problem}") from None


# -- where a config comes from --------------------------------------------------------------------


def _bind_host(key: str, value: object) -> str:
    # NanoMQ's NANOMQ_HTTP_SERVER_URL: a host, or a URL whose host is taken.
    text = string(key, value).strip()
    host = text.split("://", 1)[-1].split("/", 1)[0]
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if not host:
        raise ValueProblem(key, value, "a host such as 0.0.0.0 or http://0.0.0.0:8081")
    return host


def _keyfile(key: str, value: object) -> str:
    return str(Path(string(key, value)).expanduser().resolve())


# NanoMQ reads these before the file, so the file overrides them: (dotted key, reader). What
# the reader returns goes into the tree, to be read again as the file's values are.
_ENVIRONMENT: Mapping[str, tuple[str, Callable[[str, object], object]]] = {
    "NANOMQ_HTTP_SERVER_PORT": ("http_server.port", string),
    "NANOMQ_HTTP_SERVER_URL": ("http_server.ip_addr", _bind_host),
    "NANOMQ_HTTP_SERVER_USERNAME": ("http_server.username", string),
    "NANOMQ_HTTP_SERVER_PASSWORD": ("http_server.password", string),
    "NANOMQ_HTTP_SERVER_AUTH_TYPE": ("http_server.auth_type", string),
    "NANOMQ_HTTP_SERVER_JWT_PUBLIC_KEYFILE": ("http_server.jwt.public.keyfile", _keyfile),
    "NANOMQ_LOG_LEVEL": ("log.level", string),
}
# Checked as soon as they are read, so that a bad one is named as the variable it is.
_ENVIRONMENT_CHECKS: Mapping[str, Callable[[str, object], object]] = {
    "NANOMQ_HTTP_SERVER_PORT": _port,
    "NANOMQ_HTTP_SERVER_AUTH_TYPE": _auth_type,
    "NANOMQ_LOG_LEVEL": log_level,
}


def _environment_tree(environ: Mapping[str, str]) -> dict[str, object]:
    tree: dict[str, object] = {}
    for variable, (dotted, read) in _ENVIRONMENT.items():
        if variable not in environ:
            continue
        try:
            _ENVIRONMENT_CHECKS.get(variable, string)(variable, environ[variable])
            value = read(variable, environ[variable])
        except ValueProblem as problem:
            raise ConfigError(f"environment: {problem}") from None
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)
            node = child
        node[leaf] = value
    return tree


def _overridden_variables(environ: Mapping[str, str], file_tree: Tree, path: Path) -> list[str]:
    """A warning for each NANOMQ_* variable that the file also sets, and so beats."""
    warnings = []
    for variable, (dotted, _) in _ENVIRONMENT.items():
        if variable in environ and lookup(file_tree, dotted) is not None:
            shown = "******" if is_secret_key(dotted) else repr(environ[variable])
            warnings.append(
                f"{key_location(path, dotted)}: {dotted} in the file beats {variable}={shown} "
                "(the file wins over the environment, as in NanoMQ)"
            )
    return warnings


def _merge(base: Tree, over: Tree) -> dict[str, object]:
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(below, value)
        else:
            merged[key] = value
    return merged


def config_path(conf: str | None, environ: Mapping[str, str]) -> Path:
    """``--conf``, else ``NANOMQ_CONF_PATH``, else ``conf/nanomq.conf``."""
    if conf:
        return Path(conf)
    if environ.get("NANOMQ_CONF_PATH"):
        return Path(environ["NANOMQ_CONF_PATH"])
    return DEFAULT_CONF_PATH


def load_settings(
    conf: str | None = None,
    *,
    old_conf: str | None = None,
    port: int | None = None,
    host: str | None = None,
    mqtt: str | None = None,
    cors: Sequence[str] | None = None,
    dist: str | None = None,
    control: bool = False,
    faults: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Defaults < NANOMQ_* environment < config file < ``port``, ``host``, ``mqtt``, ``cors``
    (replacing the file's list), ``dist``, ``control`` (on when true) and ``faults`` (the
    command line's); ConfigError on anything bad."""
    environ = os.environ if environ is None else environ
    path = Path(old_conf) if old_conf else config_path(conf, environ)
    if not path.exists() and not path.is_symlink():
        if conf or old_conf:
            given = "given by --conf" if conf else "given by --old_conf"
        elif environ.get("NANOMQ_CONF_PATH"):
            given = "given by NANOMQ_CONF_PATH"
        else:
            given = f"the default, looked for in {Path.cwd()}"
        raise ConfigError(
            f"{path}: config file not found ({given}); name one with --conf FILE or "
            "NANOMQ_CONF_PATH"
        )
    included: list[Path] = []
    fmt, file_tree = load_tree(path, force_kv=old_conf is not None, included=included)
    tree = _merge(_environment_tree(environ), file_tree)
    settings = settings_from_tree(tree, fmt=fmt, path=path)
    settings = replace(
        settings,
        included=tuple(included),
        warnings=settings.warnings + tuple(_overridden_variables(environ, file_tree, path)),
    )
    if not settings.http_server.enable:
        logger.warning("%s: http_server.enable is false; nanoadmin serves the API anyway", path)
    if port is not None:
        try:
            settings = settings.with_port(_port("--port", port))
        except ValueProblem as problem:
            raise ConfigError(str(problem)) from None
    if host is not None:
        if not host.strip():
            raise ConfigError("--host has an empty value. Expected an address such as 0.0.0.0")
        settings = replace(settings, http_server=replace(settings.http_server, ip_addr=host))
    if mqtt is not None:
        settings = with_mqtt_bind(settings, mqtt)
    try:
        if cors is not None:
            origins = cors_origins("--cors", list(cors))
            settings = replace(settings, nanoadmin=replace(settings.nanoadmin, cors=origins))
        if dist is not None:
            folder = dist_folder("--dist", dist)
            settings = replace(settings, nanoadmin=replace(settings.nanoadmin, dist=folder))
        if faults is not None:
            path = faults_file("--faults", faults)
            settings = replace(settings, nanoadmin=replace(settings.nanoadmin, faults=path))
    except ValueProblem as problem:
        raise ConfigError(str(problem)) from None
    if control:
        settings = replace(settings, nanoadmin=replace(settings.nanoadmin, control=True))
    return replace(
        settings,
        forced_kv=old_conf is not None,
        port_override=port,
        host_override=host,
        mqtt_override=mqtt,
        cors_override=None if cors is None else tuple(cors),
        dist_override=dist,
        control_override=control,
        faults_override=faults,
    )


def reload_settings(settings: Settings) -> Settings:
    """Read ``settings``' file again, the way it was first read."""
    if settings.path is None:
        return settings
    path = str(settings.path)
    return load_settings(
        None if settings.forced_kv else path,
        old_conf=path if settings.forced_kv else None,
        port=settings.port_override,
        host=settings.host_override,
        mqtt=settings.mqtt_override,
        cors=settings.cors_override,
        dist=settings.dist_override,
        control=settings.control_override,
        faults=settings.faults_override,
    )


def describe_settings(settings: Settings) -> str:
    """The effective settings as ``key = value`` lines, secrets masked."""
    http = settings.http_server
    lines = [
        f"config: {settings.path} ({settings.format})",
        f"http_server.enable = {str(http.enable).lower()}",
        f"http_server.ip_addr = {http.bind_host}",
        f"http_server.port = {http.port}",
        f"http_server.limit_conn = {http.limit_conn}",
        f"http_server.max_body = {http.max_body}",
        f"http_server.username = {http.username}",
        "http_server.password = ******",
        f"http_server.auth_type = {http.auth_type}",
    ]
    for keyfile in http.jwt.public_keyfiles:
        lines.append(
            f'http_server.jwt.public.keyfile = {keyfile}  (tokens must carry "iss": '
            f'"{keyfile.name}")'
        )
    if http.auth_type == "jwt":
        lines.append(f"http_server.jwt.token_cache_size = {http.jwt.token_cache_size}")
    own = settings.nanoadmin
    if own.cors:
        lines.append(f"nanoadmin.cors = {', '.join(own.cors)}")
    if own.dist is not None:
        lines.append(f"nanoadmin.dist = {own.dist}  (served at / without auth)")
    if own.control:
        lines.append(
            f"nanoadmin.control = true  (/_nanoadmin/v1/, journal of {own.journal_size} requests)"
        )
    if own.faults is not None:
        lines.append(f"nanoadmin.faults = {own.faults}")
    if not own.console:
        lines.append("nanoadmin.console = false")
    return "\n".join(lines)
