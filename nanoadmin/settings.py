"""Settings: the loaded config tree, validated once into frozen dataclasses."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar

from nanoadmin.config import ConfigError, ConfigFormat, load_tree
from nanoadmin.config.errors import key_location
from nanoadmin.config.values import (
    ValueProblem,
    boolean,
    byte_size,
    integer,
    lookup,
    string,
    string_list,
)

logger = logging.getLogger("nanoadmin.settings")

R = TypeVar("R")
AuthType = Literal["basic", "jwt", "no_auth"]
AUTH_TYPES: tuple[AuthType, ...] = ("basic", "jwt", "no_auth")
DEFAULT_CONF_PATH = Path("conf/nanomq.conf")
DEFAULT_TOKEN_CACHE_SIZE = 10_000


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

    @property
    def bind_host(self) -> str:
        return self.ip_addr or "0.0.0.0"


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path | None
    format: ConfigFormat
    http_server: HttpServerSettings
    # The whole normalised tree, for the configuration the API renders; never mutated.
    tree: Mapping[str, object] = field(default_factory=dict)
    # How it was loaded, so a reload reads it the same way.
    forced_kv: bool = False
    port_override: int | None = None

    def with_port(self, port: int) -> Settings:
        return replace(self, http_server=replace(self.http_server, port=port))


def _port(key: str, value: object) -> int:
    port = integer(key, value, minimum=0, maximum=65535)
    return port or 8081  # NanoMQ: 0 means the default port


def _auth_type(key: str, value: object) -> AuthType:
    text = string(key, value).strip().lower()
    if text not in AUTH_TYPES:
        raise ValueProblem(key, value, "one of: " + ", ".join(AUTH_TYPES))
    return text


def _limit_conn(key: str, value: object) -> int:
    return integer(key, value, minimum=1, maximum=100_000)


def _max_body(key: str, value: object) -> int:
    return max(1, byte_size(key, value))


def _cache_size(key: str, value: object) -> int:
    return integer(key, value, maximum=10_000_000)


def _resolve(base: Path | None, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() or base is None else base.parent / path


def http_server_from_tree(
    tree: Mapping[str, object], fmt: ConfigFormat, base: Path | None
) -> HttpServerSettings:
    """Read ``http_server`` with NanoMQ's defaults; raises ValueProblem on a bad value."""
    section = lookup(tree, "http_server")
    if section is None:
        section = {}
    if not isinstance(section, Mapping):
        raise ValueProblem("http_server", section, "a block of settings")

    def read(name: str, reader: Callable[[str, object], R], default: R) -> R:
        raw = lookup(section, name)
        return default if raw is None else reader(f"http_server.{name}", raw)

    defaults = HttpServerSettings()
    keyfiles: list[str] = read("jwt.public.keyfile", string_list, [])
    return HttpServerSettings(
        # HOCON: the block's presence enables the server; KV: http_server.enable, default off.
        enable=read("enable", boolean, False) if fmt == "kv" else True,
        port=read("port", _port, defaults.port),
        ip_addr=read("ip_addr", string, defaults.ip_addr),
        limit_conn=read("limit_conn", _limit_conn, defaults.limit_conn),
        max_body=read("max_body", _max_body, defaults.max_body),
        username=read("username", string, defaults.username),
        password=read("password", string, defaults.password),
        auth_type=read("auth_type", _auth_type, defaults.auth_type),
        jwt=JwtSettings(
            public_keyfiles=tuple(_resolve(base, name) for name in keyfiles),
            token_cache_size=read("jwt.token_cache_size", _cache_size, DEFAULT_TOKEN_CACHE_SIZE),
        ),
    )


# NanoMQ reads these before the file, so the file overrides them.
_ENVIRONMENT = {
    "NANOMQ_HTTP_SERVER_PORT": ("port", _port),
    "NANOMQ_HTTP_SERVER_USERNAME": ("username", string),
    "NANOMQ_HTTP_SERVER_PASSWORD": ("password", string),
    "NANOMQ_HTTP_SERVER_AUTH_TYPE": ("auth_type", _auth_type),
    "NANOMQ_HTTP_SERVER_JWT_PUBLIC_KEYFILE": ("jwt.public.keyfile", string),
}


def _environment_tree(environ: Mapping[str, str]) -> dict[str, object]:
    section: dict[str, object] = {}
    for variable, (name, read) in _ENVIRONMENT.items():
        if variable in environ:
            try:
                read(variable, environ[variable])
            except ValueProblem as problem:
                raise ConfigError(f"environment: {problem}") from None
            if name == "jwt.public.keyfile":
                keyfile = str(Path(environ[variable]).expanduser().resolve())
                section["jwt"] = {"public": {"keyfile": keyfile}}
            else:
                section[name] = environ[variable]
    return {"http_server": section} if section else {}


def _merge(base: Mapping[str, object], over: Mapping[str, object]) -> dict[str, object]:
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


def settings_from_tree(
    tree: Mapping[str, object],
    *,
    fmt: ConfigFormat = "hocon",
    path: Path | None = None,
    base: Path | None = None,
) -> Settings:
    """Settings for a tree read from ``path``; relative key files resolve beside ``base``."""
    try:
        http_server = http_server_from_tree(tree, fmt, base or path)
    except ValueProblem as problem:
        raise ConfigError(f"{key_location(path, problem.key)}: {problem}") from None
    return Settings(path=path, format=fmt, http_server=http_server, tree=tree)


def load_settings(
    conf: str | None = None,
    *,
    old_conf: str | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Defaults < NANOMQ_* environment < config file < ``port``; ConfigError on anything bad."""
    environ = os.environ if environ is None else environ
    path = Path(old_conf) if old_conf else config_path(conf, environ)
    fmt, file_tree = load_tree(path, force_kv=old_conf is not None)
    tree = _merge(_environment_tree(environ), file_tree)
    settings = settings_from_tree(tree, fmt=fmt, path=path)
    if not settings.http_server.enable:
        logger.warning("%s: http_server.enable is false; nanoadmin serves the API anyway", path)
    if port is not None:
        try:
            settings = settings.with_port(_port("--port", port))
        except ValueProblem as problem:
            raise ConfigError(str(problem)) from None
    return replace(settings, forced_kv=old_conf is not None, port_override=port)


def reload_settings(settings: Settings) -> Settings:
    """Read ``settings``' file again, the way it was first read."""
    if settings.path is None:
        return settings
    path = str(settings.path)
    if settings.forced_kv:
        return load_settings(old_conf=path, port=settings.port_override)
    return load_settings(path, port=settings.port_override)


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
    return "\n".join(lines)
