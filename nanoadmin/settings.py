"""Settings: the loaded config tree, validated once into frozen dataclasses."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

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

    def get(name: str) -> object | None:
        return lookup(section, name)

    enable = True
    if fmt == "kv":
        raw = get("enable")
        enable = boolean("http_server.enable", raw) if raw is not None else False
    keyfiles_raw = get("jwt.public.keyfile")
    keyfiles = (
        tuple(
            _resolve(base, name)
            for name in string_list("http_server.jwt.public.keyfile", keyfiles_raw)
        )
        if keyfiles_raw is not None
        else ()
    )
    cache_raw = get("jwt.token_cache_size")
    values: dict[str, object] = {
        "enable": enable,
        "jwt": JwtSettings(
            public_keyfiles=keyfiles,
            token_cache_size=(
                integer("http_server.jwt.token_cache_size", cache_raw, maximum=10_000_000)
                if cache_raw is not None
                else DEFAULT_TOKEN_CACHE_SIZE
            ),
        ),
    }
    readers = {
        "port": _port,
        "ip_addr": string,
        "limit_conn": lambda k, v: integer(k, v, minimum=1, maximum=100_000),
        "max_body": lambda k, v: max(1, byte_size(k, v)),
        "username": string,
        "password": string,
        "auth_type": _auth_type,
    }
    for name, read in readers.items():
        raw = get(name)
        if raw is not None:
            values[name] = read(f"http_server.{name}", raw)
    return HttpServerSettings(**values)  # type: ignore[arg-type]


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
