"""JWT as NanoMQ checks it: RS256, ``iss`` names the public key file, ``exp`` with 200 s grace.

A token is refused when NanoMQ would refuse it, for NanoMQ's reason (``l8w8jwt.py`` reads it
as NanoMQ's JWT library does), and also when NanoMQ would take it only through that library's
looseness (a claim found by the start of its name, claims in the header or nested, iss
compared by its start, extra dots, characters base64url skips, JSON that is not JSON): the
message then says what NanoMQ would have read.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from jwt.algorithms import RSAAlgorithm

from nanoadmin.auth import l8w8jwt
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

# l8w8jwt's L8W8JWT_MAX_KEY_SIZE: NanoMQ refuses every token when its key file is larger.
L8W8JWT_MAX_KEY_BYTES = 8192

_RS256 = RSAAlgorithm(RSAAlgorithm.SHA256)
# A base64url segment as RFC 7515 writes it, padding tolerated.
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*={0,2}")


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
    if len(data) > L8W8JWT_MAX_KEY_BYTES:
        raise ConfigError(
            f"{where}: is larger than {L8W8JWT_MAX_KEY_BYTES} bytes, the most NanoMQ's JWT "
            "library reads (NanoMQ would refuse every token with it). Expected the RSA public "
            "key alone"
        )
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


def accepted_until_for(exp: int) -> float:
    """The first clock reading at which a token with ``exp`` is refused: NanoMQ refuses when
    ``time(NULL) - 200 > exp``, whole seconds, so it accepts up to the end of second exp+200.
    A float, since a clock reading compares with a float faster than with an int."""
    return float(max(-MAX_EXP, min(exp, MAX_EXP)) + EXP_GRACE_SECONDS + 1)


def _unique_members(items: list[tuple[str, object]]) -> dict[str, object]:
    found: dict[str, object] = {}
    for key, value in items:
        if key in found:
            raise ValueError(f"the key {key!r} appears twice; NanoMQ would read the first")
        found[key] = value
    return found


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


_STRICT = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_no_constant)


def _strict_json(part: str, data: bytes, members: l8w8jwt.Members | None) -> dict[str, object]:
    """``data`` as a JSON object, by the RFC: UTF-8, no duplicate key, no NaN, nothing after.
    ``members``: the part as l8w8jwt.py read it already, when flat (numbers as their text)."""
    try:
        value = (
            _unique_members(members)
            if members is not None
            else _STRICT.decode(data.decode("utf-8"))
        )
    except UnicodeDecodeError:
        reason = "it is not UTF-8"
    except RecursionError:
        reason = "it is nested too deeply"
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
    else:
        if isinstance(value, dict):
            return value
        reason = "it is not an object"
    raise AuthError(
        WRONG_USERNAME_OR_PASSWORD,
        f"token {part} is not valid JSON: {reason} (NanoMQ's JSON reader would take it)",
        CHALLENGE,
    )


def _read_as(claim: l8w8jwt.Claim, name: str) -> str:
    """How NanoMQ came to read ``claim`` as ``name``, unless it is the payload's own ``name``."""
    if claim.key == name.encode() and claim.part == "payload" and claim.depth == 1:
        return ""
    return (
        f" (read from {claim.where()}: NanoMQ takes the first claim whose name starts with "
        f"{name}, the header's first)"
    )


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

    def use_clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    @property
    def cache(self) -> VerifiedTokenCache | None:
        return self._cache

    def verify(self, token: str) -> Identity:
        """Check one token; AuthError 103 for any failure but expiry alone, which is 116."""
        if self._cache is not None:
            cached = self._cache.get(token)
            if cached is not None:
                if self._clock() >= cached[0]:
                    raise AuthError(
                        TOKEN_EXPIRED, "token expired: exp is more than 200 s ago", CHALLENGE
                    )
                return cached[1]
        raw = token.encode("utf-8", "surrogateescape")
        try:
            read = l8w8jwt.read_token(raw)
        except l8w8jwt.DecodeError as exc:
            raise AuthError(WRONG_USERNAME_OR_PASSWORD, str(exc), CHALLENGE) from None
        name, key = self._key_for(read.claim(b"iss"))
        exp = self._nanomq_verdict(read, name, key)
        self._beyond_nanomq(token, read, name)
        accepted_until = accepted_until_for(exp)
        identity = Identity(scheme="bearer", name=name)
        if self._cache is not None:
            self._cache.put(token, accepted_until, identity)
        return identity

    def _key_for(self, iss: l8w8jwt.Claim | None) -> tuple[str, RSAPublicKey]:
        """The key a token's iss selects (the longest key file name its text starts with, as
        NanoMQ compares), or the one key there is."""
        value = iss.value if iss is not None else b""
        names = [name for name in self._keys if value.startswith(name.encode())]
        if names:
            name = max(names, key=len)
            return name, self._keys[name]
        if len(self._keys) == 1:
            return next(iter(self._keys.items()))
        shown = f"iss {iss.text!r}" if iss is not None else "no iss"
        raise AuthError(
            WRONG_USERNAME_OR_PASSWORD, f"token has {shown}; {self._iss_hint}", CHALLENGE
        )

    def _nanomq_verdict(self, read: l8w8jwt.ReadToken, name: str, key: RSAPublicKey) -> int:
        """NanoMQ's own checks (l8w8jwt_decode's with NanoMQ's parameters): the exp it reads,
        or AuthError with each reason NanoMQ refuses the token for: 116 for expiry alone."""
        mask = 0
        reasons: list[str] = []
        if not _RS256.verify(read.signing_input, key, read.signature):
            mask |= l8w8jwt.SIGNATURE_FAILURE
            reasons.append(f"its signature does not verify with {name}")
        iss = read.claim(b"iss")
        if iss is None:
            mask |= l8w8jwt.ISS_FAILURE
            reasons.append("it has no iss claim (nor any claim whose name starts with iss)")
        elif not iss.value.startswith(name.encode()):
            mask |= l8w8jwt.ISS_FAILURE
            reasons.append(
                f"its iss {iss.text!r}{_read_as(iss, 'iss')} does not start with {name!r}"
            )
        exp_claim = read.claim(b"exp")
        exp = l8w8jwt.exp_seconds(exp_claim)
        if exp_claim is None or exp is None:
            mask |= l8w8jwt.EXP_FAILURE
            reasons.append("it has no exp claim (nor any claim whose name starts with exp)")
        elif math.floor(self._clock()) - EXP_GRACE_SECONDS > exp:
            mask |= l8w8jwt.EXP_FAILURE
            text = exp_claim.text
            read_as = f" (NanoMQ reads {text[:40]!r} as {exp})" if str(exp) != text else ""
            reasons.append(
                f"it expired: exp {exp}{read_as}{_read_as(exp_claim, 'exp')} is more than "
                f"{EXP_GRACE_SECONDS} s ago"
            )
        if mask:
            code = TOKEN_EXPIRED if mask == l8w8jwt.EXP_FAILURE else WRONG_USERNAME_OR_PASSWORD
            raise AuthError(code, "token refused: " + "; ".join(reasons), CHALLENGE)
        assert exp is not None
        return exp

    def _beyond_nanomq(self, token: str, read: l8w8jwt.ReadToken, name: str) -> None:
        """AuthError 103 for a token NanoMQ accepts only through its JWT library's looseness
        (and for D10's alg), each message saying what NanoMQ would have done."""
        would = "NanoMQ would accept the token"
        if read.segments != 3:
            raise AuthError(
                WRONG_USERNAME_OR_PASSWORD,
                f"token has {read.segments} parts, not header.payload.signature ({would}: it "
                "reads the dots after the signature as part of it)",
                CHALLENGE,
            )
        segments = token.encode("utf-8", "surrogateescape").split(b".")
        for part, segment in zip(("header", "payload", "signature"), segments, strict=True):
            if not _BASE64URL.fullmatch(segment) or len(segment.rstrip(b"=")) % 4 == 1:
                raise AuthError(
                    WRONG_USERNAME_OR_PASSWORD,
                    f"token {part} is not base64url ({would}: it skips the characters it does "
                    "not know)",
                    CHALLENGE,
                )
        header = _strict_json("header", read.header, read.members["header"])
        payload = _strict_json("payload", read.payload, read.members["payload"])
        if header.get("alg") != "RS256":
            raise AuthError(WRONG_USERNAME_OR_PASSWORD, "token alg must be RS256", CHALLENGE)
        for claim_name in ("iss", "exp"):
            claim = read.claim(claim_name.encode())
            assert claim is not None  # NanoMQ found both, or it would have refused
            read_as = _read_as(claim, claim_name)
            if read_as:
                where = "has none" if claim_name not in payload else "has one after it"
                raise AuthError(
                    WRONG_USERNAME_OR_PASSWORD,
                    f"NanoMQ would read {claim.where()} as {claim_name}, the first claim whose "
                    f"name starts with {claim_name} (the header's first), and accept the "
                    f"token; the payload {where}: put {claim_name} in the payload, first",
                    CHALLENGE,
                )
        iss = payload["iss"]
        if iss != name:
            raise AuthError(
                WRONG_USERNAME_OR_PASSWORD,
                f"token iss {iss!r} is not {name!r} ({would}: it compares only the first "
                f"{len(name)} characters); {self._iss_hint}",
                CHALLENGE,
            )

    def authenticate(self, request: web.Request) -> Identity:
        header = request.headers.get(AUTHORIZATION)
        cache = self._cache
        if cache is not None and header is not None and header.startswith(BEARER_SPACE):
            # The usual header, "Bearer <a token verified before>", unexpired: no parsing. A
            # cached token holds no whitespace, so a hit is exactly one word after "Bearer ".
            entry = cache.get(header[_TOKEN_START:])
            if entry is not None and self._clock() < entry[0]:
                return entry[1]
        return self.verify(bearer_token(header))
