"""What a config changed through the API may not do, whoever is authenticated.

It may not switch auth off, nor make the server accept a credential that nobody configured
(NanoMQ's default admin/public, on a server that never used it), nor name a file outside the
folders the operator's own config already reads from: through ``GET /configuration`` and the
error messages, a file a config names is a file the API can be asked about.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from nanoadmin.config import ConfigError
from nanoadmin.config.hocon import is_within
from nanoadmin.settings import HttpServerSettings, Settings, TlsSettings


class RefusedChange(ConfigError):
    """A change the API may not make; the message says why, and nothing was changed."""


def _resolved(base: Path | None, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() or base is None else base.parent / path


def _tls_files(tls: TlsSettings) -> list[str]:
    return [name for name in (tls.keyfile, tls.certfile, tls.cacertfile) if name is not None]


def named_files(settings: Settings) -> list[Path]:
    """Every file ``settings`` name: key files, TLS files (the listener's, the bridges', the
    HTTP auth requests'), and what the config included."""
    http = settings.http_server
    names = _tls_files(settings.tls)
    for bridge in settings.bridges:
        names += _tls_files(bridge.tls)
    auth_http = settings.auth_http
    for request in (auth_http.auth_req, auth_http.acl_req, auth_http.super_req):
        names += _tls_files(request.tls)
    paths = [_resolved(settings.path, name) for name in names]
    return [*http.jwt.public_keyfiles, *paths, *settings.included]


def operator_folders(settings: Settings) -> list[Path]:
    """The folders the operator's start-up config reads from: its own and its files'."""
    folders = [] if settings.path is None else [settings.path.parent]
    for path in named_files(settings):
        folders.append(path.parent)
    return [Path(os.path.realpath(folder)) for folder in dict.fromkeys(folders)]


def check_files(settings: Settings, folders: Iterable[Path]) -> None:
    allowed = list(folders)
    for path in named_files(settings):
        if not is_within(path, allowed):
            raise RefusedChange(
                f"{path} is outside the folders this server's config reads from "
                f"({', '.join(map(str, allowed))}); a config posted through the API may name "
                "only files there"
            )


def check_auth(current: HttpServerSettings, new: HttpServerSettings) -> None:
    """RefusedChange when ``new`` switches auth off or accepts a password nobody set."""
    if new.auth_type == "no_auth" and current.auth_type != "no_auth":
        raise RefusedChange(
            "http_server.auth_type = no_auth would switch authentication off; through the API "
            "it can never be switched off (edit the file and restart to do it)"
        )
    same_password = current.auth_type == "basic" and current.password == new.password
    if new.auth_type == "basic" and not same_password and not new.password_set:
        raise RefusedChange(
            "http_server would accept Basic auth with a password that was never set (NanoMQ's "
            "default); set http_server.password"
        )


def check_served(current: Settings, new: Settings) -> None:
    """RefusedChange when ``new`` would serve another folder at / or let another origin's
    pages call the API: both only ever as the operator started the server."""
    dist = new.nanoadmin.dist
    if dist is not None and dist != current.nanoadmin.dist:
        raise RefusedChange(
            "nanoadmin.dist names a folder this server does not serve; through the API the "
            "folder served at / can never be changed (edit the file or use --dist)"
        )
    extra = set(new.nanoadmin.cors) - set(current.nanoadmin.cors)
    if extra:
        raise RefusedChange(
            f"nanoadmin.cors adds {', '.join(sorted(extra))}; through the API no origin can be "
            "allowed that the server was not started with (edit the file or use --cors)"
        )


def check_config_change(current: Settings, new: Settings, folders: Iterable[Path]) -> None:
    """Everything a config posted through the API must satisfy to be written."""
    check_auth(current.http_server, new.http_server)
    check_files(new, folders)
    check_served(current, new)
