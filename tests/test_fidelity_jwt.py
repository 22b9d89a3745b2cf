"""JWT claims read as NanoMQ's JWT library reads them, against a real server.

NanoMQ (nanomq/nanomq rest_api.c jwt_authorize) hands the token to l8w8jwt_decode with RS256,
validate_iss = the key file's name and validate_exp with 200 s of tolerance, and answers 116
when the only failure is exp, 103 otherwise. What the library does is in the docstrings; the
files are GlitchedPolygons/l8w8jwt src/decode.c (l8w8jwt_decode, l8w8jwt_parse_claims,
l8w8jwt_unescape_claim), src/claim.c (l8w8jwt_get_claim), src/base64.c
(l8w8jwt_base64_decode), and zserge/jsmn jsmn.h (jsmn_parse, non-strict).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nanoadmin.auth import l8w8jwt
from nanoadmin.auth.jwt_auth import JwtAuth, load_public_keys
from nanoadmin.errors import AuthError
from tests.support import Client, ClientFactory, KeyPair, jwt_settings

HEADER = b'{"alg":"RS256","typ":"JWT"}'


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(keypair: KeyPair, payload: bytes, header: bytes = HEADER) -> str:
    """An RS256 token over exactly these header and payload bytes."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = keypair.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


@pytest.fixture
async def jwt_client(make_client: ClientFactory, tmp_path: Path, keypair: KeyPair) -> Client:
    return await make_client(jwt_settings(tmp_path, keypair.public_path, cache_size=100))


async def answer(client: Client, token: str) -> tuple[int, int, str]:
    response = await client.get("/api/v4/brokers", headers={"Authorization": f"Bearer {token}"})
    body = await response.json()
    return response.status, body["code"], body.get("message", "")


def claims(keypair: KeyPair, text: str) -> bytes:
    """A payload's text with {iss}, {now}, {soon} and {past} filled in."""
    now = int(time.time())
    return (
        text.replace("{iss}", keypair.public_path.name)
        .replace("{now}", str(now))
        .replace("{soon}", str(now + 3600))
        .replace("{past}", str(now - 1000))
        .encode()
    )


async def test_a_key_starting_with_iss_before_iss_is_read_as_iss(
    jwt_client: Client, keypair: KeyPair
) -> None:
    """l8w8jwt_get_claim returns the first claim whose key starts with the name (strncmp over
    its length): "issuer" is the iss NanoMQ checks, and "x" fails it (103)."""
    payload = claims(keypair, '{"issuer":"x","iss":"{iss}","exp":{soon}}')
    status, code, message = await answer(jwt_client, signed(keypair, payload))
    assert (status, code) == (401, 103)
    assert "'issuer'" in message
    assert "does not start with" in message


async def test_iss_wrong_in_the_header_is_refused(jwt_client: Client, keypair: KeyPair) -> None:
    """l8w8jwt_decode parses the header's claims into the list before the payload's: a
    header iss is found first (103 when wrong)."""
    header = b'{"alg":"RS256","iss":"wrong"}'
    payload = claims(keypair, '{"iss":"{iss}","exp":{soon}}')
    status, code, message = await answer(jwt_client, signed(keypair, payload, header))
    assert (status, code) == (401, 103)
    assert "in the header" in message


async def test_exp_past_in_the_header_is_expiry(jwt_client: Client, keypair: KeyPair) -> None:
    """The header's exp is found before the payload's: expired, 116 (the only failure)."""
    header = b'{"alg":"RS256","exp":1}'
    payload = claims(keypair, '{"iss":"{iss}","exp":{soon}}')
    status, code, message = await answer(jwt_client, signed(keypair, payload, header))
    assert (status, code) == (401, 116)
    assert "in the header" in message


async def test_a_duplicated_exp_is_read_at_its_first_value(
    jwt_client: Client, keypair: KeyPair
) -> None:
    """l8w8jwt keeps every member, duplicates included, and the lookup returns the first:
    past then future is expired (116); future then past NanoMQ accepts, nanoadmin does not
    (a duplicate key is not JSON a reader agrees on)."""
    first_past = claims(keypair, '{"iss":"{iss}","exp":{past},"exp":{soon}}')
    assert (await answer(jwt_client, signed(keypair, first_past)))[:2] == (401, 116)
    first_soon = claims(keypair, '{"iss":"{iss}","exp":{soon},"exp":{past}}')
    status, code, message = await answer(jwt_client, signed(keypair, first_soon))
    assert (status, code) == (401, 103)
    assert "appears twice" in message
    assert "NanoMQ would read the first" in message


@pytest.mark.parametrize(
    ("payload", "header", "said"),
    [
        # No iss, but a claim whose name starts with iss and holds the key name.
        ('{"issuer":"{iss}","exp":{soon}}', HEADER, "NanoMQ would read 'issuer' in the payload"),
        # iss or exp only in the header.
        ('{"exp":{soon}}', b'{"alg":"RS256","iss":"{iss}"}', "'iss' in the header"),
        ('{"iss":"{iss}"}', b'{"alg":"RS256","exp":{soon}}', "'exp' in the header"),
        # A claim whose name starts with exp comes first and has not expired; the real one has.
        ('{"iss":"{iss}","expiry":9999999999,"exp":{past}}', HEADER, "'expiry'"),
        # Claims nested in an object are claims too (the flat walk over jsmn's tokens).
        ('{"meta":{"iss":"{iss}","exp":{soon}}}', HEADER, "in a nested object"),
    ],
)
async def test_tokens_nanomq_accepts_only_through_its_looseness_stay_refused(
    jwt_client: Client, keypair: KeyPair, payload: str, header: bytes, said: str
) -> None:
    """Each of these passes l8w8jwt_decode's checks in NanoMQ; nanoadmin refuses it (103)
    and its message says what NanoMQ would read."""
    header_bytes = claims(keypair, header.decode())
    status, code, message = await answer(
        jwt_client, signed(keypair, claims(keypair, payload), header_bytes)
    )
    assert (status, code) == (401, 103), message
    assert said in message
    assert "NanoMQ would" in message


async def test_iss_is_compared_by_its_start(jwt_client: Client, keypair: KeyPair) -> None:
    """The iss check is strncmp(value, validate_iss, strlen(validate_iss)): NanoMQ accepts an
    iss that only starts with the key file's name, and refuses a shorter one."""
    longer = claims(keypair, '{"iss":"{iss}-anything","exp":{soon}}')
    status, code, message = await answer(jwt_client, signed(keypair, longer))
    assert (status, code) == (401, 103)
    assert "compares only the first" in message
    shorter = claims(keypair, '{"iss":"nanomq","exp":{soon}}')
    status, code, message = await answer(jwt_client, signed(keypair, shorter))
    assert (status, code) == (401, 103)
    assert "does not start with" in message


async def test_a_claim_named_like_iss_but_shorter_is_no_iss(
    jwt_client: Client, keypair: KeyPair
) -> None:
    """strncmp over the wanted name's length: a key shorter than it ("is") never matches."""
    payload = claims(keypair, '{"is":"{iss}","exp":{soon}}')
    status, code, message = await answer(jwt_client, signed(keypair, payload))
    assert (status, code) == (401, 103)
    assert "no iss claim" in message


@pytest.mark.parametrize(
    ("exp", "code", "said"),
    [
        ("1.7e9", 116, "as 1"),  # strtoll stops at the "."
        ('"1.7e9"', 116, "as 1"),
        ('"abc"', 116, "as 0"),
        ("true", 116, "as 0"),
        ('"  {soon}x"', 0, ""),  # white space, digits, then anything: accepted
        ("99999999999999999999", 0, ""),  # saturates at LLONG_MAX: never expires
    ],
)
async def test_exp_is_read_by_strtoll(
    jwt_client: Client, keypair: KeyPair, exp: str, code: int, said: str
) -> None:
    """exp fails when time(NULL) - 200 > strtoll(value, NULL, 10), the value being the
    claim's text whatever its JSON type."""
    payload = claims(keypair, '{"iss":"{iss}","exp":' + exp + "}")
    status, got, message = await answer(jwt_client, signed(keypair, payload))
    assert got == code, message
    assert said in message


async def test_escapes_are_read_as_l8w8jwt_reads_them(jwt_client: Client, keypair: KeyPair) -> None:
    """l8w8jwt_unescape_claim undoes only \\" and \\/; any other escape keeps its backslash and
    drops the next character: "nanomq\\u002epub" is read as "nanomq\\002epub" (103)."""
    name = keypair.public_path.name
    escaped = name.replace(".", "\\u002e")
    payload = claims(keypair, '{"iss":"' + escaped + '","exp":{soon}}')
    status, code, message = await answer(jwt_client, signed(keypair, payload))
    assert (status, code) == (401, 103)
    assert "does not start with" in message
    slash = claims(keypair, '{"iss":"{iss}","exp":{soon},"aud":"a\\/b"}')
    assert (await answer(jwt_client, signed(keypair, slash)))[:2] == (200, 0)


@pytest.mark.parametrize(
    "payload",
    [
        '{"iss":"{iss}","exp":{soon},"roles":[1,2]}',  # an array element in a key's place
        '{"iss":"{iss}","exp":{soon}}{"a":1}',  # a second object: a key's place again
        '{"iss":"{iss}","exp":{soon},"n":NaN}',  # checknum refuses NaN
        '\ufeff{"iss":"{iss}","exp":{soon}}',  # a BOM is a byte jsmn refuses
        '{"iss":"{iss}","exp":{soon},"e":"\\x"}',  # an escape JSON does not have
        '["{iss}"]',  # not an object
    ],
)
async def test_payloads_l8w8jwt_cannot_read_are_103(
    jwt_client: Client, keypair: KeyPair, payload: str
) -> None:
    """l8w8jwt_parse_claims fails (L8W8JWT_DECODE_FAILED_INVALID_TOKEN_FORMAT): 103."""
    status, code, message = await answer(jwt_client, signed(keypair, claims(keypair, payload)))
    assert (status, code) == (401, 103)
    assert message


async def test_jsmn_non_strict_json_nanomq_takes_is_refused(
    jwt_client: Client, keypair: KeyPair
) -> None:
    """Non-strict jsmn takes a missing colon and a trailing string pair as claims; NanoMQ
    accepts these tokens, nanoadmin does not (103, saying so)."""
    for payload in ('{"iss" "{iss}","exp":{soon}}', '{"iss":"{iss}","exp":{soon}} "k" "v"'):
        status, code, message = await answer(jwt_client, signed(keypair, claims(keypair, payload)))
        assert (status, code) == (401, 103)
        assert "not valid JSON" in message
        assert "NanoMQ's JSON reader would take it" in message


async def test_bad_signature_and_expired_is_103(jwt_client: Client, keypair: KeyPair) -> None:
    """Signature failure (0x80) and expiry (0x10) together are not expiry alone: 103."""
    payload = claims(keypair, '{"iss":"{iss}","exp":{past}}')
    head, body, signature = signed(keypair, payload).split(".")
    forged = f"{head}.{body}.{signature[::-1]}"
    status, code, message = await answer(jwt_client, forged)
    assert (status, code) == (401, 103)
    assert "signature" in message
    assert "expired" in message


async def test_dots_after_the_signature_nanomq_ignores_are_refused(
    jwt_client: Client, keypair: KeyPair
) -> None:
    """The signature is everything after the second dot; base64url skips the dots in it, so
    NanoMQ accepts a valid token with "." appended. nanoadmin takes three parts only."""
    token = signed(keypair, claims(keypair, '{"iss":"{iss}","exp":{soon}}'))
    assert (await answer(jwt_client, token))[:2] == (200, 0)
    status, code, message = await answer(jwt_client, token + ".")
    assert (status, code) == (401, 103)
    assert "4 parts" in message


async def test_characters_base64url_skips_are_refused(jwt_client: Client, keypair: KeyPair) -> None:
    """l8w8jwt_base64_decode skips every byte outside the URL alphabet: a signature written in
    the standard alphabet ("+" for "-", "/" for "_") decodes to other bytes, and NanoMQ refuses
    the token (103); a stray character in the signature (the signing input is the header and
    payload as sent) leaves the token valid there, refused here."""
    good = signed(keypair, claims(keypair, '{"iss":"{iss}","exp":{soon}}'))
    head, body, signature = good.split(".")
    if "-" in signature or "_" in signature:
        standard = signature.replace("-", "+").replace("_", "/")
        status, code, message = await answer(jwt_client, f"{head}.{body}.{standard}")
        assert (status, code) == (401, 103)
        assert "signature" in message  # too few bytes to decode, or not the signature
    status, code, message = await answer(
        jwt_client, f"{head}.{body}.{signature[:9]}!{signature[9:]}"
    )
    assert (status, code) == (401, 103)
    assert "skips the characters" in message


def test_a_refused_token_is_never_served_from_the_cache(keypair: KeyPair) -> None:
    """The cache holds only tokens that passed every check; a token refused is refused again,
    and one accepted is refused from the first second NanoMQ refuses it (exp + 201)."""
    now = [float(int(time.time()))]
    auth = JwtAuth(load_public_keys((keypair.public_path,)), cache_size=10, clock=lambda: now[0])
    loose = signed(keypair, claims(keypair, '{"issuer":"{iss}","exp":{soon}}'))
    for _ in range(2):
        with pytest.raises(AuthError) as refused:
            auth.verify(loose)
        assert refused.value.code == 103
    assert auth.cache is not None
    assert len(auth.cache) == 0
    exp = int(now[0]) + 10
    token = signed(keypair, claims(keypair, '{"iss":"{iss}","exp":' + str(exp) + "}"))
    assert auth.verify(token).name == keypair.public_path.name
    assert len(auth.cache) == 1
    now[0] = exp + 200.999  # time(NULL) - 200 == exp: NanoMQ still accepts
    assert auth.verify(token).name == keypair.public_path.name
    now[0] = exp + 201.0
    with pytest.raises(AuthError) as expired:
        auth.verify(token)
    assert expired.value.code == 116


def test_a_key_file_over_l8w8jwt_s_limit_does_not_load(tmp_path: Path, keypair: KeyPair) -> None:
    """L8W8JWT_MAX_KEY_SIZE is 8192: with a larger key file NanoMQ refuses every token."""
    from nanoadmin.config import ConfigError

    padded = tmp_path / "big.pub"
    padded.write_bytes(keypair.public_path.read_bytes() + b"\n" * 8192)
    with pytest.raises(ConfigError, match="8192 bytes"):
        load_public_keys((padded,))


async def test_whitespace_only_header_has_no_claims(jwt_client: Client, keypair: KeyPair) -> None:
    """jsmn counts no token in " ": l8w8jwt takes the header with no claims, NanoMQ accepts the
    token; nanoadmin refuses it, as a header without alg RS256 (D10)."""
    payload = claims(keypair, '{"iss":"{iss}","exp":{soon}}')
    status, code, message = await answer(jwt_client, signed(keypair, payload, b" "))
    assert (status, code) == (401, 103)
    assert "not valid JSON" in message or "alg must be RS256" in message
    assert json.loads(payload)  # the payload itself is fine


scalars = st.one_of(
    st.text(max_size=8),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
members = st.lists(st.tuples(st.text(max_size=6), scalars), max_size=6)


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(members=members, spaces=st.sampled_from(["", " ", "\n\t"]))
def test_the_fast_claim_reader_reads_as_jsmn_does(
    members: list[tuple[str, object]], spaces: str
) -> None:
    """Flat objects are read without the byte-by-byte walk; for each, the claims are the
    walk's (jsmn's tokens, l8w8jwt's types and texts), duplicates and all."""
    text = "{" + spaces + ",".join(f"{dumps(k)}:{spaces}{dumps(v)}" for k, v in members)
    data = (text + spaces + "}").encode()
    try:
        walked: list[l8w8jwt.Claim] | str = l8w8jwt.walk_claims(data, "payload")
    except l8w8jwt.DecodeError:
        walked = "refused"
    try:
        read: list[l8w8jwt.Claim] | str = l8w8jwt.parse_claims(data, "payload")
    except l8w8jwt.DecodeError:
        read = "refused"
    assert read == walked


@settings(max_examples=500, deadline=None)
@given(segment=st.text("AZaz09-_=+/.!", max_size=12).map(str.encode))
# Padding past a full quartet: binascii takes it, l8w8jwt refuses it.
@example(segment=b"0000==")
@example(segment=b"AA=")
def test_the_fast_base64url_reads_as_l8w8jwt_does(segment: bytes) -> None:
    """The fast path (binascii) and l8w8jwt_base64_decode's loop give the same bytes, or
    both refuse."""

    def outcome(decode: Callable[[bytes], bytes]) -> bytes | str:
        try:
            return decode(segment)
        except l8w8jwt.DecodeError:
            return "refused"

    assert outcome(l8w8jwt.base64url_decode) == outcome(l8w8jwt.base64url_walk)
