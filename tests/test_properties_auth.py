"""Property and fuzz tests of the Authorization header: authenticated, or a 401 with 103/104.

Whatever the header, the Basic and Bearer parsers and JWT verification authenticate or refuse
with 103/104 (116 for an expired token), directly and through real servers. Examples are
bounded so the file runs in a few seconds.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given
from hypothesis import strategies as st

from nanoadmin.auth.base import AuthError, Identity
from nanoadmin.auth.basic_auth import check_basic
from nanoadmin.auth.jwt_auth import JwtAuth, bearer_token, load_public_keys
from tests.support import Client, ClientFactory, KeyPair, basic_settings, jwt_settings, raw_request
from tests.support.strategies import FAST, SERVER

# What aiohttp hands over: header bytes decoded as UTF-8 with surrogateescape.
header_text = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=80).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.tuples(
        st.sampled_from(["Basic ", "Basic", "basic ", "Bearer ", "Bearer", "Bearer  ", ""]),
        st.one_of(
            st.text(max_size=60),
            st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_. \t"),
        ),
    ).map("".join),
)


def assert_auth_error(exc: AuthError, codes: tuple[int, ...]) -> None:
    assert exc.code in codes
    assert exc.message
    assert exc.challenge


@FAST
@given(header=st.one_of(st.none(), header_text))
def test_basic_check_authenticates_or_refuses_with_103_or_104(header: str | None) -> None:
    try:
        check_basic(header, b"admin:public")
    except AuthError as exc:
        assert_auth_error(exc, (103, 104))
    else:
        assert header is not None
        assert header.startswith("Basic ")


@FAST
@given(header=st.one_of(st.none(), header_text))
def test_bearer_token_is_one_word_or_104(header: str | None) -> None:
    try:
        token = bearer_token(header)
    except AuthError as exc:
        assert_auth_error(exc, (104,))
    else:
        assert header is not None
        assert header.startswith("Bearer")
        assert token
        assert token == header[len("Bearer") :].strip()


@pytest.fixture(scope="module")
def jwt_auth(keypair: KeyPair) -> JwtAuth:
    return JwtAuth(load_public_keys((keypair.public_path,)), cache_size=0)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

token_text = st.one_of(
    st.text(max_size=100),
    st.lists(
        st.one_of(
            st.text(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=30
            ),
            json_values.map(lambda v: b64url(json.dumps(v).encode())),
        ),
        min_size=1,
        max_size=4,
    ).map(".".join),
)


@FAST
@given(token=token_text)
def test_jwt_verify_refuses_anything_but_a_signed_token_with_103(
    jwt_auth: JwtAuth, token: str
) -> None:
    with pytest.raises(AuthError) as refused:
        jwt_auth.verify(token)
    assert_auth_error(refused.value, (103,))


def _plain(value: object) -> bool:
    """A scalar that JSON writes without an escape, and a finite number."""
    if isinstance(value, float):
        return value == value and abs(value) != float("inf")
    if isinstance(value, str):
        return "\\" not in json.dumps(value)
    return value is None or isinstance(value, bool | int)


def sign(keypair: KeyPair, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """An RS256 token for any header and claims (PyJWT refuses some headers this test wants)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = keypair.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


exp_claims = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([10**400, -(10**400), "9" * 400, "-" + "9" * 400]),  # beyond any float
    st.integers(int(time.time()) - 1000, int(time.time()) + 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=15),
    st.integers(0, 2**40).map(str),
    st.booleans(),
    st.none(),
    json_values,
)


@FAST
@given(
    exp=st.one_of(st.just("absent"), exp_claims),
    iss=st.one_of(st.just("nanomq.pub"), st.text(max_size=10)),
    header=st.dictionaries(st.sampled_from(["typ", "kid", "alg", "x"]), json_values, max_size=3),
)
def test_jwt_verify_on_signed_tokens_with_any_claims(
    jwt_auth: JwtAuth, keypair: KeyPair, exp: object, iss: str, header: dict[str, Any]
) -> None:
    payload: dict[str, Any] = {"iss": iss}
    if exp != "absent":
        payload["exp"] = exp
    token = sign(keypair, {**header, "alg": "RS256"}, payload)
    try:
        identity = jwt_auth.verify(token)
    except AuthError as exc:
        assert_auth_error(exc, (103, 116))
        # NanoMQ's JWT reader refuses some JSON (an array of numbers, NaN) and reads claims
        # nested in the header, escapes in strings its own way: only for plain values is the
        # answer to a signed token with the right iss known to be acceptance or expiry.
        plain = all(_plain(value) for value in header.values()) and _plain(exp)
        if iss == keypair.public_path.name and exc.code == 103 and plain:
            pytest.fail(f"a signed token for the right key is 103, not 116: {payload}")
    else:
        assert isinstance(identity, Identity)
        assert iss == keypair.public_path.name
        assert isinstance(exp, int | float | str)
        assert not isinstance(exp, bool)


# Header values HTTP allows: visible ASCII, space, tab and obs-text; no leading or trailing space.
http_header_value = st.text(
    st.characters(codec="latin-1", exclude_categories=["Cc"]) | st.just("\t"), max_size=60
).map(lambda value: value.strip(" \t"))


@pytest.fixture
async def auth_clients(
    make_client: ClientFactory, tmp_path: Path, keypair: KeyPair
) -> tuple[Client, Client]:
    (tmp_path / "b").mkdir()
    (tmp_path / "j").mkdir()
    basic = await make_client(basic_settings(tmp_path / "b"))
    return basic, await make_client(jwt_settings(tmp_path / "j", keypair.public_path))


@SERVER
@given(value=http_header_value, prefix=st.sampled_from(["", "Basic ", "Bearer ", "Bearer"]))
async def test_authorization_headers_through_real_servers(
    auth_clients: tuple[Client, Client], value: str, prefix: str
) -> None:
    header = (prefix + value).strip(" \t")
    for client in auth_clients:
        request = (
            "GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Authorization: {header}\r\n\r\n"
        ).encode("latin-1")
        status, headers, body = await raw_request(client.port, request)
        assert status == 401, (header, status, body)
        reply = json.loads(body)
        assert reply["code"] in (103, 104), (header, reply)
        assert reply["message"], (header, reply)
        assert headers["www-authenticate"], header
