"""Auth strategies by name, resolved once from ``http_server.auth_type``."""

from __future__ import annotations

import time
from collections.abc import Callable

from nanoadmin.auth.base import AuthError, AuthStrategy, Identity
from nanoadmin.auth.basic_auth import BasicAuth
from nanoadmin.auth.no_auth import NoAuth
from nanoadmin.settings import AuthType, HttpServerSettings

__all__ = ("AUTH_STRATEGIES", "AuthError", "AuthStrategy", "Identity", "make_strategy")


Clock = Callable[[], float]


def _basic(settings: HttpServerSettings, clock: Clock) -> AuthStrategy:
    return BasicAuth(settings.username, settings.password)


def _jwt(settings: HttpServerSettings, clock: Clock) -> AuthStrategy:
    # On demand: PyJWT and cryptography take a tenth of a second to import, which a server
    # with Basic auth would pay at every start for nothing.
    from nanoadmin.auth.jwt_auth import JwtAuth, load_public_keys

    keys = load_public_keys(settings.jwt.public_keyfiles)
    return JwtAuth(keys, cache_size=settings.jwt.token_cache_size, clock=clock)


def _no_auth(settings: HttpServerSettings, clock: Clock) -> AuthStrategy:
    return NoAuth()


AUTH_STRATEGIES: dict[AuthType, Callable[[HttpServerSettings, Clock], AuthStrategy]] = {
    "basic": _basic,
    "jwt": _jwt,
    "no_auth": _no_auth,
}


def make_strategy(settings: HttpServerSettings, clock: Clock = time.time) -> AuthStrategy:
    """The strategy for ``settings.auth_type``, reading the time (JWT ``exp``) from ``clock``;
    ConfigError when its keys cannot be loaded."""
    return AUTH_STRATEGIES[settings.auth_type](settings, clock)
