"""How NanoMQ's JWT library reads a token, step for step: what NanoMQ accepts and why.

NanoMQ checks a Bearer token with l8w8jwt (nanomq/nanomq rest_api.c jwt_authorize calls
l8w8jwt_decode with RS256, validate_iss = the key file's name, validate_exp with 200 s of
tolerance). The library (GlitchedPolygons/l8w8jwt src/decode.c, src/base64.c, src/claim.c,
with zserge/jsmn in non-strict mode and lib/checknum) reads a token loosely:

- the token is cut at its first two dots; the signature is all the rest, later dots included;
- base64url skips every character it does not know and stops at the first padded quartet;
- the header's claims and the payload's go into one list, header first; the JSON reader is
  jsmn's, non-strict (colons may be missing, a trailing ``"k" "v"`` is one more claim), and
  every key of a nested object is a claim too, in document order;
- a claim is found by the first key that *starts with* the name (``issuer`` is found for
  ``iss``, ``expiry`` for ``exp``), and iss passes when its text *starts with* the key file's
  name; exp is read by strtoll (``1.7e9`` is 1);
- string values keep their escapes, except ``\\"`` and ``\\/``; any other ``\\X`` is a
  backslash with X dropped.

:func:`read_token` reproduces all of it, so that the JWT strategy can refuse every token
NanoMQ refuses, for NanoMQ's reason, and then refuse what NanoMQ accepts only through this
looseness, saying so.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass
from typing import Literal, NamedTuple

Part = Literal["header", "payload"]

# l8w8jwt's enum l8w8jwt_validation_result (include/l8w8jwt/decode.h).
ISS_FAILURE = 1 << 0
EXP_FAILURE = 1 << 4
SIGNATURE_FAILURE = 1 << 7

# l8w8jwt's claim types (include/l8w8jwt/claim.h).
STRING, INTEGER, NUMBER, BOOLEAN, NULL, ARRAY, OBJECT, OTHER = range(8)

_URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SEXTETS = {byte: index for index, byte in enumerate(_URL_ALPHABET)} | {ord("="): 0}
_PAD = ord("=")
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_LLONG_MAX = 2**63 - 1
_LLONG_MIN = -(2**63)
# jsmn's token types.
_OBJECT, _ARRAY, _STRING, _PRIMITIVE = "object", "array", "string", "primitive"


class DecodeError(Exception):
    """l8w8jwt_decode returned an error: NanoMQ answers 103 whatever the claims say."""


def base64url_decode(segment: bytes) -> bytes:
    """l8w8jwt_base64_decode(url=1): unknown characters skipped, padding optional, decoding
    stops after the first quartet with padding in it; DecodeError where it fails."""
    if not segment:
        raise DecodeError("is empty")
    stripped = segment.rstrip(b"=")
    missing = -len(stripped) % 4
    if (
        b"+" not in segment
        and b"/" not in segment
        and b"=" not in stripped
        and missing != 3
        and len(segment) - len(stripped) in (0, missing)
    ):
        # Only the URL alphabet, padded right or not at all: what l8w8jwt decodes is what
        # base64 decodes (its virtual padding completes the last quartet). binascii's strict
        # mode refuses anything else, and takes padding beyond a full quartet, so both go to
        # the loop below, which reads them as l8w8jwt does.
        try:
            return binascii.a2b_base64(stripped + b"=" * missing, strict_mode=True)
        except binascii.Error:
            pass
    return base64url_walk(segment)


def base64url_walk(segment: bytes) -> bytes:
    """l8w8jwt_base64_decode(url=1) step for step."""
    if not segment:
        raise DecodeError("is empty")
    if segment.endswith(b"\0"):
        segment = segment[:-1]
    valid = [byte for byte in segment if byte in _SEXTETS]
    remainder = len(valid) % 4
    if not valid or remainder == 1:
        raise DecodeError("is not base64url (a character count no padding can complete)")
    valid += [_PAD] * {0: 0, 2: 2, 3: 1}[remainder]
    out = bytearray()
    block: list[int] = []
    pad = 0
    for byte in valid:
        if byte == _PAD:
            pad += 1
        block.append(_SEXTETS[byte])
        if len(block) == 4:
            b0, b1, b2, b3 = block
            out.append(((b0 << 2) | (b1 >> 4)) & 255)
            out.append(((b1 << 4) | (b2 >> 2)) & 255)
            out.append(((b2 << 6) | b3) & 255)
            block = []
            if pad:
                if pad > 2:
                    raise DecodeError("is not base64url (too much padding)")
                del out[-pad:]
                break
    return bytes(out)


class Token(NamedTuple):
    """One jsmn token: its type and the byte range it covers (strings: between the quotes)."""

    kind: str
    start: int
    end: int


def _parse_string(js: bytes, pos: int, tokens: list[Token] | None) -> int:
    """jsmn_parse_string: the position of the closing quote; DecodeError where jsmn fails."""
    start = pos
    pos += 1
    length = len(js)
    while pos < length and js[pos] != 0:
        char = js[pos]
        if char == 0x22:  # "
            if tokens is not None:
                tokens.append(Token(_STRING, start + 1, pos))
            return pos
        if char == 0x5C and pos + 1 < length:  # backslash
            pos += 1
            escaped = js[pos]
            if escaped in b'"/\\bfrnt':
                pass
            elif escaped == 0x75:  # u
                pos += 1
                digits = 0
                while digits < 4 and pos < length and js[pos] != 0:
                    if js[pos] not in b"0123456789abcdefABCDEF":
                        raise DecodeError("holds a bad \\u escape")
                    pos += 1
                    digits += 1
                pos -= 1
            else:
                raise DecodeError("holds an escape JSON does not have")
        pos += 1
    raise DecodeError("holds a string that does not end")


def _parse_primitive(js: bytes, pos: int, tokens: list[Token] | None) -> int:
    """jsmn_parse_primitive (non-strict): the position of its last byte."""
    start = pos
    length = len(js)
    while pos < length and js[pos] != 0:
        char = js[pos]
        if char in b":\t\r\n ,]}":
            break
        if char < 32 or char >= 127:
            raise DecodeError("holds a byte JSON does not allow outside a string")
        pos += 1
    if tokens is not None:
        tokens.append(Token(_PRIMITIVE, start, pos))
    return pos - 1


def jsmn_parse(js: bytes, tokens: list[Token] | None) -> int:
    """jsmn_parse, non-strict and without parent links: the number of tokens (with ``tokens``
    None, the counting pass, which ignores closing brackets), filling ``tokens`` otherwise;
    DecodeError where jsmn returns an error."""
    count = 0
    # For the filling pass: the end of each container (-1 while open), by token index.
    ends: list[int] = []
    pos = 0
    length = len(js)
    while pos < length and js[pos] != 0:
        char = js[pos]
        if char in b"{[":
            count += 1
            if tokens is not None:
                tokens.append(Token(_OBJECT if char == 0x7B else _ARRAY, pos, -1))
                ends.append(-1)
        elif char in b"}]":
            if tokens is not None:
                kind = _OBJECT if char == 0x7D else _ARRAY
                for index in range(len(tokens) - 1, -1, -1):
                    token = tokens[index]
                    if token.kind in (_OBJECT, _ARRAY) and ends[index] == -1:
                        if token.kind != kind:
                            raise DecodeError("closes a bracket it did not open")
                        ends[index] = pos + 1
                        tokens[index] = Token(kind, token.start, pos + 1)
                        break
                else:
                    raise DecodeError("closes a bracket it did not open")
        elif char == 0x22:
            pos = _parse_string(js, pos, tokens)
            count += 1
            if tokens is not None:
                ends.append(0)
        elif char in b"\t\r\n :,":
            pass
        else:
            pos = _parse_primitive(js, pos, tokens)
            count += 1
            if tokens is not None:
                ends.append(0)
        pos += 1
    if tokens is not None and -1 in ends:
        raise DecodeError("leaves an object or array open")
    return count


def checknum(text: bytes) -> int:
    """lib/checknum's checknum: 1 for an integer, 2 for any other number, 0 for no number."""
    start, end = 0, len(text)
    while start < end and text[start] == 0x20:
        start += 1
    while end > start and text[end - 1] == 0x20:
        end -= 1
    at = start
    if at < end and text[at] in b"+-":
        at += 1
        if at >= end:
            return 0
    seen = 0
    if at < end and text[at] == 0x30:
        seen |= 1
        at += 1
        if at < end and text[at] != 0x2E:
            return 0
    for index in range(at, end):
        char = text[index]
        previous = text[index - 1] if index > 0 else 0
        if 0x30 <= char <= 0x39:
            seen |= 1
        elif char == 0x2D:  # -
            if seen & 2 or previous not in b"eE":
                return 0
            seen |= 2
        elif char == 0x2E:  # .
            if seen & 4 or seen & 8:
                return 0
            seen |= 4
        elif char in b"eE":
            if not seen & 1 or seen & 8 or index + 1 >= end:
                return 0
            seen |= 8
        elif char == 0x2B:  # +
            if seen & 16 or previous not in b"eE":
                return 0
            seen |= 16
        else:
            return 0
    if seen == 0:
        return 0
    if seen == 1:
        return 1
    return 2 if seen & 1 else 0


def _unescape(raw: bytes, *, key: bool) -> bytes:
    """l8w8jwt_unescape_claim: ``\\"`` (and in values ``\\/``) unescaped; any other escape is
    its backslash, the next byte dropped."""
    if b"\\" not in raw:
        return raw
    out = bytearray()
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == 0x5C and index != len(raw) - 1:
            following = raw[index + 1]
            if following == 0x22 or (not key and following == 0x2F):
                out.append(following)
            else:
                out.append(char)
            index += 2
            continue
        out.append(char)
        index += 1
    return bytes(out)


class Claim(NamedTuple):
    """A claim as l8w8jwt keeps it, and where it was found: ``depth`` 1 is a member of the
    part's top object, more is a member of an object nested in it (0: after that object)."""

    key: bytes
    value: bytes
    type: int
    part: Part
    depth: int

    @property
    def name(self) -> str:
        return self.key.decode("utf-8", "replace")

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "replace")

    def where(self) -> str:
        if self.depth == 0:
            return f"{self.name!r} after the {self.part}'s object"
        nested = ", in a nested object" if self.depth > 1 else ""
        return f"{self.name!r} in the {self.part}{nested}"


class _Pairs(list[tuple[str, object]]):
    """An object's members, in order, duplicates kept."""


# A flat object's members as written: numbers as their text.
Members = list[tuple[str, object]]


class _RawNumber(str):
    """A number as written."""


def _no_constant(name: str) -> object:
    raise ValueError(name)


_FLAT = json.JSONDecoder(
    object_pairs_hook=_Pairs,
    parse_int=_RawNumber,
    parse_float=_RawNumber,
    parse_constant=_no_constant,
)


def _flat_claims(data: bytes, part: Part) -> tuple[list[Claim], Members] | None:
    """The claims of a flat JSON object without escapes (nearly every token), read at C speed,
    and its members: for such text jsmn's tokens and l8w8jwt's claims are the members as
    written. None for anything else, which the exact walk reads."""
    if b"\\" in data:
        return None
    try:
        members = _FLAT.decode(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if type(members) is not _Pairs:
        return None
    claims: list[Claim] = []
    for key, value in members:
        kind = type(value)
        if kind is str:
            claims.append(Claim(key.encode(), value.encode(), STRING, part, 1))  # type: ignore[attr-defined]
        elif kind is _RawNumber:
            raw = value.encode()  # type: ignore[attr-defined]
            number = 1 if raw.isdigit() else checknum(raw)
            if number == 0:
                return None
            claims.append(Claim(key.encode(), raw, INTEGER if number == 1 else NUMBER, part, 1))
        elif kind is bool:
            claims.append(Claim(key.encode(), b"true" if value else b"false", BOOLEAN, part, 1))
        elif value is None:
            claims.append(Claim(key.encode(), b"null", NULL, part, 1))
        else:
            return None  # a nested object or array: the exact walk
    return claims, members


def parse_claims(data: bytes, part: Part) -> list[Claim]:
    """l8w8jwt_parse_claims: every key/value pair, the flat walk over jsmn's tokens included;
    DecodeError where it fails."""
    flat = _flat_claims(data, part)
    return flat[0] if flat is not None else walk_claims(data, part)


def walk_claims(data: bytes, part: Part) -> list[Claim]:
    """l8w8jwt_parse_claims step for step: jsmn's two passes, then the flat walk over its
    tokens (a key's place, then a value's)."""
    count = jsmn_parse(data, None)
    if count == 0:
        return []
    tokens: list[Token] = []
    jsmn_parse(data, tokens)
    if tokens[0].kind != _OBJECT:
        raise DecodeError("is not a JSON object")
    claims: list[Claim] = []
    open_ends: list[int] = []  # the ends of the containers around the current token
    index = 1
    while index < len(tokens):
        key, value = tokens[index], tokens[index + 1] if index + 1 < len(tokens) else None
        if value is None or key.kind != _STRING:
            raise DecodeError("has a member that is not a string key and a value")
        while open_ends and open_ends[-1] <= key.start:
            open_ends.pop()
        depth = len(open_ends)
        raw = data[value.start : value.end]
        if value.kind == _OBJECT:
            kind = OBJECT
        elif value.kind == _ARRAY:
            kind = ARRAY
        elif value.kind == _STRING:
            kind = STRING
        elif len(raw) <= 5 and (raw[:4] == b"true" or raw[:5] == b"false"):
            kind = BOOLEAN
        elif raw == b"null":
            kind = NULL
        else:
            number = checknum(raw)
            if number == 0:
                raise DecodeError(f"has a value that is not JSON: {raw[:20]!r}")
            kind = INTEGER if number == 1 else NUMBER
        if value.kind in (_OBJECT, _ARRAY):
            open_ends.append(value.end)
        claims.append(
            Claim(
                _unescape(data[key.start : key.end], key=True),
                _unescape(raw, key=False),
                kind,
                part,
                # tokens[0] is the part's own object, around everything but trailing tokens.
                depth + 1 if key.start < tokens[0].end else 0,
            )
        )
        index += 2
    return claims


def get_claim(claims: list[Claim], name: bytes) -> Claim | None:
    """l8w8jwt_get_claim: the first claim whose key starts with ``name``."""
    for claim in claims:
        if claim.key.startswith(name):
            return claim
    return None


def strtoll(text: bytes) -> int:
    """C's strtoll(text, NULL, 10): leading white space, a sign, digits; 0 for none; saturated."""
    index = 0
    while index < len(text) and text[index] in b" \t\n\v\f\r":
        index += 1
    negative = False
    if index < len(text) and text[index] in b"+-":
        negative = text[index] == 0x2D
        index += 1
    digits_start = index
    while index < len(text) and 0x30 <= text[index] <= 0x39:
        index += 1
    digits = text[digits_start:index].lstrip(b"0")
    if len(digits) > 19:
        return _LLONG_MIN if negative else _LLONG_MAX
    number = int(digits or b"0")
    return max(_LLONG_MIN, -number) if negative else min(number, _LLONG_MAX)


@dataclass(frozen=True, slots=True)
class ReadToken:
    """A token cut and decoded as l8w8jwt does, before any key is involved."""

    segments: int  # dot-separated pieces in the token as sent
    signing_input: bytes  # header.payload exactly as sent
    header: bytes
    payload: bytes
    signature: bytes
    claims: list[Claim]
    # Each part's members when it is a flat object without escapes, else None.
    members: dict[str, Members | None]

    def claim(self, name: bytes) -> Claim | None:
        return get_claim(self.claims, name)


def read_token(token: bytes) -> ReadToken:
    """``token`` as l8w8jwt_decode reads it up to the checks; DecodeError (NanoMQ: 103) with
    the reason where it fails."""
    first = token.find(b".")
    if first < 0:
        raise DecodeError("token has no dot: a JWT is header.payload.signature")
    second = token.find(b".", first + 1)
    try:
        header = base64url_decode(token[:first])
    except DecodeError as exc:
        raise DecodeError(f"token header {exc}") from None
    if second < 0:
        raise DecodeError("token has no signature: a JWT is header.payload.signature")
    try:
        payload = base64url_decode(token[first + 1 : second])
    except DecodeError as exc:
        raise DecodeError(f"token payload {exc}") from None
    try:
        signature = base64url_decode(token[second + 1 :])
    except DecodeError as exc:
        raise DecodeError(f"token signature {exc}") from None
    claims: list[Claim] = []
    members: dict[str, Members | None] = {}
    for part, text in (("header", header), ("payload", payload)):
        try:
            flat = _flat_claims(text, part)  # type: ignore[arg-type]
            if flat is not None:
                claims += flat[0]
                members[part] = flat[1]
            else:
                claims += walk_claims(text, part)  # type: ignore[arg-type]
                members[part] = None
        except DecodeError as exc:
            raise DecodeError(f"token {part} {exc}") from None
        except RecursionError:  # not reachable: the walk is flat, but never a 500
            raise DecodeError(f"token {part} is too deeply nested") from None
    return ReadToken(
        segments=token.count(b".") + 1,
        signing_input=token[:second],
        header=header,
        payload=payload,
        signature=signature,
        claims=claims,
        members=members,
    )


def exp_seconds(claim: Claim | None) -> int | None:
    """The exp NanoMQ reads from ``claim`` (strtoll of its text), None without one."""
    return None if claim is None else strtoll(claim.value)
