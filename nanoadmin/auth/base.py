"""The auth-strategy interface: one ``authenticate`` that returns an Identity or raises."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

from aiohttp import hdrs, web

# aiohttp's istr: a case-insensitive header lookup then skips folding the name.
AUTHORIZATION = hdrs.AUTHORIZATION

# NanoMQ's result codes for authentication failures.
CODE_BAD_CREDENTIALS = 103
CODE_NO_CREDENTIALS = 104
CODE_TOKEN_EXPIRED = 116


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request authenticated as; ``scheme`` is what the access log shows."""

    scheme: str
    name: str


class AuthError(Exception):
    """Authentication failed: the middleware answers 401 with ``code`` and ``challenge``."""

    def __init__(self, code: int, message: str, challenge: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.challenge = challenge


class AuthStrategy(abc.ABC):
    """How every /api/v4 request is authenticated; chosen once from ``http_server.auth_type``."""

    name: ClassVar[str]

    @abc.abstractmethod
    def authenticate(self, request: web.Request) -> Identity:
        """Return who sent ``request``, or raise AuthError (never any other exception).

        Synchronous: a strategy checks the request's headers against what it holds in memory,
        with no I/O to wait for, and a coroutine per request would cost more than the check.
        """
