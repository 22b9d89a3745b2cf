"""HTTP Basic as NanoMQ checks it: exact ``Basic `` prefix, lenient base64, one user."""

from __future__ import annotations

import base64
import hmac

from aiohttp import web

from nanoadmin.auth.base import AUTHORIZATION, AuthError, AuthStrategy, Identity
from nanoadmin.errors import EMPTY_USERNAME_OR_PASSWORD, WRONG_USERNAME_OR_PASSWORD
from nanoadmin.http.limits import MAX_BASIC_CREDENTIAL

CHALLENGE = 'Basic realm="nanoadmin"'
PREFIX = "Basic "

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_SEXTETS = {char: index for index, char in enumerate(_ALPHABET)} | {"-": 62}


def lenient_b64decode(text: str) -> bytes:
    """nng's decoder: skips whitespace, stops at ``=`` or any other character it does not know."""
    bits = 0
    nbits = 0
    out = bytearray()
    for char in text:
        if char in " \t\r\n":
            continue
        sextet = _SEXTETS.get(char)
        if sextet is None:
            break
        bits = (bits << 6) | sextet
        nbits += 6
        if nbits >= 8:
            nbits -= 8
            out.append((bits >> nbits) & 0xFF)
    return bytes(out)


def check_basic(header: str | None, expected: bytes) -> None:
    """Raise AuthError unless ``header`` carries ``expected`` (``user:password``)."""
    if header is None or len(header) <= len(PREFIX) or not header.startswith(PREFIX):
        raise AuthError(EMPTY_USERNAME_OR_PASSWORD, "missing Basic credentials", CHALLENGE)
    encoded = header[len(PREFIX) :]
    if len(encoded) > MAX_BASIC_CREDENTIAL:
        raise AuthError(WRONG_USERNAME_OR_PASSWORD, "Basic credentials too long", CHALLENGE)
    if len(encoded) < 4:
        raise AuthError(WRONG_USERNAME_OR_PASSWORD, "wrong username or password", CHALLENGE)
    decoded = lenient_b64decode(encoded)
    if not hmac.compare_digest(decoded, expected):
        reason = "wrong username or password"
        if b"\0" in decoded and hmac.compare_digest(decoded.split(b"\0", 1)[0], expected):
            # nanomq/nanomq rest_api.c basic_authorize compares with strcmp.
            reason += " (NanoMQ would compare only up to the NUL byte and accept them)"
        raise AuthError(WRONG_USERNAME_OR_PASSWORD, reason, CHALLENGE)


class BasicAuth(AuthStrategy):
    name = "basic"

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._expected = f"{username}:{password}".encode()
        # The header every ordinary client sends, checked first so the common case costs one
        # constant-time compare instead of a decode.
        self._canonical = PREFIX + base64.b64encode(self._expected).decode("ascii")
        self._identity = Identity(scheme="basic", name=username)

    def authenticate(self, request: web.Request) -> Identity:
        header = request.headers.get(AUTHORIZATION)
        # compare_digest takes ASCII str only; a non-ASCII header is never the canonical one.
        if header is not None and header.isascii() and hmac.compare_digest(header, self._canonical):
            return self._identity
        check_basic(header, self._expected)
        return self._identity
