"""The auth-strategy interface: one ``authenticate`` that returns an Identity or raises."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from aiohttp import hdrs, web

from nanoadmin.errors import AuthError

__all__ = ("AUTHORIZATION", "AuthError", "AuthStrategy", "Identity")

# aiohttp's istr: a case-insensitive header lookup then skips folding the name.
AUTHORIZATION = hdrs.AUTHORIZATION


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request authenticated as; ``scheme`` is what the access log shows."""

    scheme: str
    name: str


class AuthStrategy(abc.ABC):
    """How every /api/v4 request is authenticated; chosen once from ``http_server.auth_type``."""

    name: ClassVar[str]

    @abc.abstractmethod
    def authenticate(self, request: web.Request) -> Identity:
        """Return who sent ``request``, or raise AuthError (never any other exception).

        Synchronous: a strategy checks the request's headers against what it holds in memory,
        with no I/O to wait for, and a coroutine per request would cost more than the check.
        """

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Read the time from ``clock`` from now on; a strategy that reads none ignores it."""
        del clock
