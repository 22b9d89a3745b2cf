"""JWT as NanoMQ checks it: RS256, ``iss`` names the public key file, ``exp`` with 200 s grace."""

from __future__ import annotations

import binascii
import json
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from jwt.algorithms import RSAAlgorithm

from nanoadmin.auth.base import AUTHORIZATION, AuthError, AuthStrategy, Identity
from nanoadmin.config import ConfigError
from nanoadmin.config.files import MAX_KEY_BYTES, read_regular_file
from nanoadmin.errors import (
    EMPTY_USERNAME_OR_PASSWORD,
    TOKEN_EXPIRED,
    WRONG_USERNAME_OR_PASSWORD,
)

CHALLENGE = 'Bearer error="invalid_token"'
CHALLENGE_NO_TOKEN = 'Bearer realm="nanoadmin"'
PREFIX = "Bearer"
BEARER_SPACE = PREFIX + " "
EXP_GRACE_SECONDS = 200
_TOKEN_START = len(BEARER_SPACE)
# What the verified-token cache may hold in all: 10 000 ordinary tokens of ~500 characters fit
# five times over; 10 000 tokens of 64 KB would not (they would take 700 MB).
DEFAULT_CACHE_CHARS = 25_000_000
MAX_EXP = 2**53  # an exp in year 285 million; a float holds every second up to it exactly

_RS256 = RSAAlgorithm(RSAAlgorithm.SHA256)
# strtoll's: C whitespace, a sign, ASCII digits.
_LEADING_INTEGER = re.compile(r"[ \t\n\v\f\r]*([+-]?)0*([0-9]*)")
_INT64_DIGITS = 19


def load_public_key(path: Path) -> RSAPublicKey:
    """An RSA key from SPKI PEM, PKCS#1 PEM or an X.509 certificate; ConfigError otherwise."""
    where = f"http_server.jwt.public.keyfile {str(path)!r}"
    try:
        data = read_regular_file(
            path, max_bytes=MAX_KEY_BYTES, what="http_server.jwt.public.keyfile"
        )
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found") from None
    if b"PRIVATE KEY-----" in data:
        raise ConfigError(f"{where}: is a private key. Expected the RSA public key (PEM)")
    key: object
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{where}: not a PEM public key. Expected an RSA public key "
            "(BEGIN PUBLIC KEY, BEGIN RSA PUBLIC KEY or a certificate)"
        ) from None
    if not isinstance(key, RSAPublicKey):
        raise ConfigError(f"{where}: is not an RSA key. Expected an RSA public key for RS256")
    return key


def load_public_keys(paths: tuple[Path, ...]) -> dict[str, RSAPublicKey]:
    """Keys by the ``iss`` that selects them: each file's name."""
    if not paths:
        raise ConfigError(
            "http_server.jwt.public.keyfile is not set. Expected the RSA public key file for "
            "auth_type = jwt"
        )
    keys: dict[str, RSAPublicKey] = {}
    for path in paths:
        if path.name in keys:
            raise ConfigError(
                f"http_server.jwt.public.keyfile names two files called {path.name!r}; "
                "each key's file name is the iss that selects it, so names must differ"
            )
        keys[path.name] = load_public_key(path)
    return keys


def load_private_key(path: Path) -> RSAPrivateKey:
    try:
        data = read_regular_file(path, max_bytes=MAX_KEY_BYTES, what="private key file")
    except FileNotFoundError:
        raise ConfigError(f"{path}: private key file not found") from None
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(f"{path}: is not an RSA private key. Expected one for RS256")
    return key


def _b64url_json(segment: str) -> object:
    raw = segment.replace("-", "+").replace("_", "/")
    raw += "=" * (-len(raw) % 4)
    return json.loads(binascii.a2b_base64(raw.encode("ascii"), strict_mode=True))


def claim_seconds(value: object) -> int | None:
    """``exp`` as NanoMQ reads it: a number, or the leading integer of a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 2**62 else None
    if isinstance(value, str):
        match = _LEADING_INTEGER.match(value)  # always matches: every part may be empty
        sign, digits = match.groups() if match else ("", "")
        if len(digits) > _INT64_DIGITS:  # strtoll saturates; int() would refuse 4300 digits
            return -(2**63) if sign == "-" else 2**63 - 1
        number = int(digits or "0")
        return max(-(2**63), min(-number if sign == "-" else number, 2**63 - 1))
    return None


def accepted_until_for(exp: int | None) -> float | None:
    """The last clock reading at which a token with ``exp`` is accepted: NanoMQ's 200 s grace
    after it. A float, since a clock reading compares with a float faster than with an int."""
    if exp is None:
        return None
    return float(max(-MAX_EXP, min(exp, MAX_EXP)) + EXP_GRACE_SECONDS)


def bearer_token(header: str | None) -> str:
    """The one word after ``Bearer``; AuthError 104 when absent, or followed by more words."""
    if header is None or not header.startswith(PREFIX):
        raise AuthError(EMPTY_USERNAME_OR_PASSWORD, "missing Bearer token", CHALLENGE_NO_TOKEN)
    words = header[len(PREFIX) :].split()
    if len(words) != 1:
        reason = "missing Bearer token" if not words else "unexpected text after the Bearer token"
        raise AuthError(EMPTY_USERNAME_OR_PASSWORD, reason, CHALLENGE_NO_TOKEN)
    return words[0]


class VerifiedTokenCache:
    """Tokens whose signature and ``iss`` verified, with the last clock reading at which each is
    still accepted (``exp`` plus the grace); bounded in entries and in the tokens' characters,
    oldest evicted first."""

    def __init__(self, max_size: int, max_chars: int = DEFAULT_CACHE_CHARS) -> None:
        self.max_size = max_size
        self.max_chars = max_chars
        self._chars = 0
        self._entries: dict[str, tuple[float, Identity]] = {}
        # The dict's own get: the accept path is then one C call, not a method calling a method.
        self.get: Callable[[str], tuple[float, Identity] | None] = self._entries.get

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def chars(self) -> int:
        return self._chars

    def put(self, token: str, accepted_until: float, identity: Identity) -> None:
        if len(token) > self.max_chars:
            return
        previous = self._entries.pop(token, None)
        if previous is not None:
            self._chars -= len(token)
        # Dicts keep insertion order, so the first key is the oldest entry.
        while self._entries and (
            len(self._entries) >= self.max_size or self._chars + len(token) > self.max_chars
        ):
            oldest = next(iter(self._entries))
            del self._entries[oldest]
            self._chars -= len(oldest)
        self._entries[token] = (accepted_until, identity)
        self._chars += len(token)

    def clear(self) -> None:
        self._entries.clear()
        self._chars = 0


class JwtAuth(AuthStrategy):
    name = "jwt"

    def __init__(
        self,
        keys: Mapping[str, RSAPublicKey],
        *,
        cache_size: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = dict(keys)
        self._cache = VerifiedTokenCache(cache_size) if cache_size > 0 else None
        self._clock = clock
        names = sorted(self._keys)
        self._iss_hint = (
            f"iss must be {names[0]!r}"
            if len(names) == 1
            else "iss must be one of: " + ", ".join(names)
        )

    @property
    def cache(self) -> VerifiedTokenCache | None:
        return self._cache

    def _check_accepted_until(self, accepted_until: float | None) -> None:
        if accepted_until is None or self._clock() > accepted_until:
            raise AuthError(TOKEN_EXPIRED, "token expired or has no exp claim", CHALLENGE)

    def verify(self, token: str) -> Identity:
        """Check one token; AuthError 103 for any failure but expiry alone, which is 116."""
        if self._cache is not None:
            cached = self._cache.get(token)
            if cached is not None:
                self._check_accepted_until(cached[0])
                return cached[1]
        parts = token.split(".")
        if len(parts) != 3:
            raise AuthError(WRONG_USERNAME_OR_PASSWORD, "token must have three parts", CHALLENGE)
        try:
            header = _b64url_json(parts[0])
            payload = _b64url_json(parts[1])
            signature = binascii.a2b_base64(
                (parts[2].replace("-", "+").replace("_", "/") + "=" * (-len(parts[2]) % 4)).encode(
                    "ascii"
                ),
                strict_mode=True,
            )
        except (ValueError, UnicodeError, RecursionError):
            raise AuthError(
                WRONG_USERNAME_OR_PASSWORD, "token is not valid base64url JSON", CHALLENGE
            ) from None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise AuthError(
                WRONG_USERNAME_OR_PASSWORD, "token header and payload must be objects", CHALLENGE
            )
        if header.get("alg") != "RS256":
            raise AuthError(WRONG_USERNAME_OR_PASSWORD, "token alg must be RS256", CHALLENGE)
        iss = payload.get("iss")
        key = self._keys.get(iss) if isinstance(iss, str) else None
        if key is None:
            raise AuthError(WRONG_USERNAME_OR_PASSWORD, f"token {self._iss_hint}", CHALLENGE)
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        if not _RS256.verify(signing_input, key, signature):
            raise AuthError(
                WRONG_USERNAME_OR_PASSWORD, "token signature does not verify", CHALLENGE
            )
        accepted_until = accepted_until_for(claim_seconds(payload.get("exp")))
        self._check_accepted_until(accepted_until)
        assert accepted_until is not None and isinstance(iss, str)
        identity = Identity(scheme="bearer", name=iss)
        if self._cache is not None:
            self._cache.put(token, accepted_until, identity)
        return identity

    def authenticate(self, request: web.Request) -> Identity:
        header = request.headers.get(AUTHORIZATION)
        cache = self._cache
        if cache is not None and header is not None and header.startswith(BEARER_SPACE):
            # The usual header, "Bearer <a token verified before>", unexpired: no parsing. A
            # cached token holds no whitespace, so a hit is exactly one word after "Bearer ".
            entry = cache.get(header[_TOKEN_START:])
            if entry is not None and self._clock() <= entry[0]:
                return entry[1]
        return self.verify(bearer_token(header))
