"""The listener's settings, read from the plain config tree (NanoMQ's HOCON shape).

``nanoadmin.mqtt.enable`` (a key NanoMQ ignores) turns the listener on from the file, or
``--mqtt [HOST:]PORT`` from the command line; the rest is NanoMQ's own: ``listeners.tcp.bind``,
``mqtt.max_packet_size``, ``mqtt.keepalive_multiplier``, ``mqtt.max_mqueue_len``,
``auth.allow_anonymous`` and ``auth.password`` (the ``nanomq_pwd.conf`` pairs).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nanoadmin.config.errors import ConfigError, key_location
from nanoadmin.config.values import (
    ValueProblem,
    boolean,
    byte_size,
    integer,
    lookup,
    number,
    string,
)
from nanoadmin.mqtt.limits import MAX_QUEUED_MESSAGES, PROTOCOL_MAX_PACKET

DEFAULT_BIND = ("0.0.0.0", 1883)
DEFAULT_MAX_PACKET_SIZE = 10240 * 1024
_BIND = re.compile(r"^(?:(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):)?([0-9]{1,5})$")


def password_digest(password: bytes) -> bytes:
    """What is kept of a password: equal-length digests compare in constant time."""
    return hashlib.sha256(password).digest()


@dataclass(frozen=True, slots=True)
class MqttAuth:
    allow_anonymous: bool = True
    # username -> digest of its password; never the password itself.
    passwords: Mapping[str, bytes] = field(default_factory=dict)

    def __repr__(self) -> str:  # no digest in a log line either
        return f"MqttAuth(allow_anonymous={self.allow_anonymous}, users={len(self.passwords)})"


@dataclass(frozen=True, slots=True)
class MqttSettings:
    enable: bool = False
    host: str = DEFAULT_BIND[0]
    port: int = DEFAULT_BIND[1]
    max_packet_size: int = DEFAULT_MAX_PACKET_SIZE
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


def _read_auth(tree: Mapping[str, object]) -> MqttAuth:
    anonymous = lookup(tree, "auth.allow_anonymous")
    allow = True if anonymous is None else boolean("auth.allow_anonymous", anonymous)
    passwords = lookup(tree, "auth.password")
    digests: dict[str, bytes] = {}
    if passwords is not None:
        if not isinstance(passwords, Mapping):
            raise ValueProblem("auth.password", passwords, 'a block of "username": "password"')
        for user, password in passwords.items():
            if not isinstance(password, str):
                raise ValueProblem(f"auth.password.{user}", password, "a quoted string")
            digests[str(user)] = password_digest(password.encode("utf-8"))
    return MqttAuth(allow, digests)


def _positive_number(key: str, value: object) -> float:
    multiplier = number(key, value)
    if not 1.0 <= multiplier <= 100.0:
        raise ValueProblem(key, value, "a number 1..100")
    return multiplier


def read_mqtt_settings(
    tree: Mapping[str, object], path: Path | None = None, bind: str | None = None
) -> MqttSettings:
    """The listener's settings; ``bind`` is ``--mqtt``'s value, which also enables it.

    A bad value is a ConfigError naming the file, line and key; a password's value is never
    shown.
    """
    try:
        return _read(tree, bind)
    except ValueProblem as problem:
        key = problem.key
        if key == "--mqtt":
            raise ConfigError(str(problem)) from None
        text = problem.without_value if key.startswith("auth.password") else str(problem)
        raise ConfigError(f"{key_location(path, key)}: {text}") from None


def mqtt_enabled(tree: Mapping[str, object], path: Path | None = None) -> bool:
    """Whether the config itself turns the listener on (``nanoadmin { mqtt { enable } }``)."""
    raw = lookup(tree, "nanoadmin.mqtt.enable")
    try:
        return raw is not None and boolean("nanoadmin.mqtt.enable", raw)
    except ValueProblem as problem:
        raise ConfigError(f"{key_location(path, problem.key)}: {problem}") from None


def _read(tree: Mapping[str, object], bind: str | None) -> MqttSettings:
    raw_enable = lookup(tree, "nanoadmin.mqtt.enable")
    enable = bind is not None or (
        raw_enable is not None and boolean("nanoadmin.mqtt.enable", raw_enable)
    )
    raw_bind = lookup(tree, "listeners.tcp.bind")
    host, port = DEFAULT_BIND
    if raw_bind is not None:
        host, port = parse_bind("listeners.tcp.bind", raw_bind, DEFAULT_BIND[0])
    if bind is not None:
        host, port = parse_bind("--mqtt", bind, host)
    raw_size = lookup(tree, "mqtt.max_packet_size")
    size = DEFAULT_MAX_PACKET_SIZE
    if raw_size is not None:
        size = byte_size("mqtt.max_packet_size", raw_size)
        if size < 1:
            raise ValueProblem("mqtt.max_packet_size", raw_size, "a size of at least 1 byte")
    raw_multiplier = lookup(tree, "mqtt.keepalive_multiplier")
    multiplier = 1.5
    if raw_multiplier is not None:
        multiplier = _positive_number("mqtt.keepalive_multiplier", raw_multiplier)
    raw_queue = lookup(tree, "mqtt.max_mqueue_len")
    queue = 1024
    if raw_queue is not None:
        queue = integer("mqtt.max_mqueue_len", raw_queue, minimum=1)
    return MqttSettings(
        enable=enable,
        host=host,
        port=port,
        # NanoMQ's sample config says 256MB, one byte past what MQTT can encode.
        max_packet_size=min(size, PROTOCOL_MAX_PACKET),
        keepalive_multiplier=multiplier,
        max_mqueue_len=min(queue, MAX_QUEUED_MESSAGES),
        auth=_read_auth(tree),
    )


def read_mqtt_auth(tree: Mapping[str, object]) -> MqttAuth:
    """Only the auth part, for a reload: ValueProblem when it is bad."""
    return _read_auth(tree)
