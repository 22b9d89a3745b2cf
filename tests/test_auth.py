"""Basic, JWT and no_auth through a real server: codes, challenges, and never a 500."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from nanoadmin.auth import make_strategy
from nanoadmin.auth.basic_auth import lenient_b64decode
from nanoadmin.config import ConfigError
from nanoadmin.http.limits import MAX_FIELD_SIZE
from nanoadmin.settings import load_settings
from tests.support import (
    BASIC_ADMIN,
    NANOMQ_ETC,
    Client,
    ClientFactory,
    KeyPair,
    basic_settings,
    jwt_settings,
    self_signed_certificate,
    write_conf,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def get_code(
    client: Client, headers: dict[str, str], path: str = "/api/v4/brokers"
) -> tuple[int, int | None, dict[str, str]]:
    response = await client.get(path, headers=headers)
    assert response.content_type == "application/json"
    body = await response.json()
    return response.status, body.get("code"), dict(response.headers)


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        (None, 401, 104),
        ("Basic", 401, 104),
        ("Basic ", 401, 104),
        ("basic " + b64("admin:public"), 401, 104),  # the prefix is case-sensitive
        ("Bearer " + b64("admin:public"), 401, 104),
        ("Basic abc", 401, 103),  # fewer than four characters of base64
        ("Basic " + b64("admin:wrong"), 401, 103),
        ("Basic " + b64("Admin:public"), 401, 103),
        ("Basic " + b64("admin:public "), 401, 103),
        ("Basic " + b64("admin:public").rstrip("="), 200, 0),  # unpadded is accepted
        ("Basic " + b64("admin:public").replace("=", "") + "===junk", 200, 0),
        ("Basic  " + b64("admin:public"), 200, 0),  # whitespace is skipped
        (BASIC_ADMIN, 200, 0),
    ],
)
async def test_basic_auth_codes(
    make_client: ClientFactory, tmp_path: Path, header: str | None, status: int, code: int
) -> None:
    client = await make_client(basic_settings(tmp_path))
    headers = {"Authorization": header} if header is not None else {}
    got_status, got_code, response_headers = await get_code(client, headers)
    assert (got_status, got_code) == (status, code)
    if status == 401:
        assert response_headers["WWW-Authenticate"] == 'Basic realm="nanoadmin"'


def test_lenient_base64_matches_nng() -> None:
    assert lenient_b64decode("YWRtaW46cHVibGlj") == b"admin:public"
    assert lenient_b64decode("YWRt aW46\ncHVibGlj") == b"admin:public"
    assert lenient_b64decode("YW=RtaW46") == b"a"
    assert lenient_b64decode("-w") == lenient_b64decode("+w")
    assert lenient_b64decode("YW_Rt") == b"a"


async def test_basic_error_never_echoes_the_password(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(basic_settings(tmp_path, password="s3cr3t-value"))
    response = await client.get(
        "/api/v4/brokers", headers={"Authorization": "Basic " + b64("admin:nope")}
    )
    text = await response.text()
    assert response.status == 401
    assert "s3cr3t" not in text
    assert "nope" not in text


async def test_auth_runs_before_routing(basic_client: Client) -> None:
    response = await basic_client.get("/api/v4/no/such/path")
    assert response.status == 401
    assert (await response.json())["code"] == 104
    response = await basic_client.get(
        "/api/v4/no/such/path", headers={"Authorization": BASIC_ADMIN}
    )
    assert response.status == 404
    assert (await response.json())["code"] == 102


async def test_no_auth_lets_everything_in(make_client: ClientFactory, tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "auth_type = no_auth")
    client = await make_client(load_settings(str(conf), environ={}))
    response = await client.get("/api/v4/brokers")
    assert response.status == 200
    assert (await response.json())["code"] == 0


def forge(header: dict[str, object], payload: dict[str, object], signature: bytes = b"sig") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join(
        [part(json.dumps(header).encode()), part(json.dumps(payload).encode()), part(signature)]
    )


@pytest.fixture(params=[0, 100], ids=["no-cache", "cache"])
async def jwt_client(
    make_client: ClientFactory, tmp_path: Path, keypair: KeyPair, request: pytest.FixtureRequest
) -> Client:
    return await make_client(jwt_settings(tmp_path, keypair.public_path, cache_size=request.param))


async def test_jwt_valid_token(jwt_client: Client, keypair: KeyPair) -> None:
    status, code, _ = await get_code(jwt_client, {"Authorization": "Bearer " + keypair.token()})
    assert (status, code) == (200, 0)


async def test_jwt_string_exp_and_grace(jwt_client: Client, keypair: KeyPair) -> None:
    now = int(time.time())
    exps: list[tuple[int | str, int]] = [
        (str(now + 60), 0),
        (now - 100, 0),
        (str(now - 100), 0),
        (now - 300, 116),
        # strtoll's reading: C whitespace and a sign, ASCII digits, saturating past 64 bits.
        ("  +" + "0" * 30 + str(now + 60) + "junk", 0),
        # In JSON a tab is "\t", which NanoMQ's JWT library keeps as a backslash (it drops
        # the t): strtoll reads no digit, exp 0 (GlitchedPolygons/l8w8jwt decode.c
        # l8w8jwt_unescape_claim).
        (" \t+" + str(now + 60), 116),
        ("9" * 5000, 0),
        ("-" + "9" * 5000, 116),
        ("١٧٩٩٩٩٩٩٩٩", 116),  # Arabic-Indic digits are no digits to strtoll: exp 0
    ]
    for exp, want in exps:
        token = keypair.token(exp=exp)
        status, code, _ = await get_code(jwt_client, {"Authorization": f"Bearer {token}"})
        assert code == want, exp


async def test_jwt_failures(jwt_client: Client, keypair: KeyPair, other_keypair: KeyPair) -> None:
    now = int(time.time())
    iss = keypair.public_path.name
    good = keypair.token()
    head, payload, signature = good.split(".")
    tampered_payload = (
        base64.urlsafe_b64encode(
            json.dumps({"iss": iss, "exp": now + 9999, "admin": True}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    public_pem = keypair.public_path.read_bytes()
    cases: dict[str, tuple[str | None, int]] = {
        "no header": (None, 104),
        "wrong scheme": ("Basic " + b64("admin:public"), 104),
        "lowercase bearer": ("bearer " + good, 104),
        "empty bearer": ("Bearer ", 104),
        "junk after token": (f"Bearer {good} extra", 104),
        "expired": ("Bearer " + keypair.token(exp=now - 1000), 116),
        "no exp": ("Bearer " + jwt.encode({"iss": iss}, keypair.private, algorithm="RS256"), 116),
        "expired and wrong iss": ("Bearer " + keypair.token(iss="x.pub", exp=now - 1000), 103),
        "wrong iss": ("Bearer " + keypair.token(iss="other.pub"), 103),
        "no iss": (
            "Bearer " + jwt.encode({"exp": now + 60}, keypair.private, algorithm="RS256"),
            103,
        ),
        "iss is a path": ("Bearer " + keypair.token(iss="../" + iss), 103),
        "alg none": (
            "Bearer " + forge({"alg": "none", "typ": "JWT"}, {"iss": iss, "exp": now + 60}, b""),
            103,
        ),
        "HS256 with the public key": (
            "Bearer " + forge({"alg": "HS256"}, {"iss": iss, "exp": now + 60}, b"x" * 32),
            103,
        ),
        "RS512": (
            "Bearer "
            + jwt.encode({"iss": iss, "exp": now + 60}, keypair.private, algorithm="RS512"),
            103,
        ),
        "PS256": (
            "Bearer "
            + jwt.encode({"iss": iss, "exp": now + 60}, keypair.private, algorithm="PS256"),
            103,
        ),
        "foreign key": ("Bearer " + other_keypair.token(iss=iss), 103),
        "tampered payload": (f"Bearer {head}.{tampered_payload}.{signature}", 103),
        "garbage": ("Bearer not-a-token", 103),
        "four segments": (f"Bearer {good}.AAAA", 103),
        "two segments": (f"Bearer {head}.{payload}", 103),
        "bad base64": ("Bearer @@@.###.$$$", 103),
        "payload not object": ("Bearer " + forge({"alg": "RS256"}, [1, 2]), 103),  # type: ignore[arg-type]
        "public key as text": ("Bearer " + base64.b64encode(public_pem).decode(), 103),
    }
    # First the good token, so that with a cache it is cached: the tampered payload then ends
    # exactly as a cached token does, and must still be refused.
    assert (await get_code(jwt_client, {"Authorization": "Bearer " + good}))[:2] == (200, 0)
    for name, (header, want) in cases.items():
        headers = {"Authorization": header} if header is not None else {}
        status, code, response_headers = await get_code(jwt_client, headers)
        assert (status, code) == (401, want), name
        assert response_headers["WWW-Authenticate"].startswith("Bearer"), name
    assert (await get_code(jwt_client, {"Authorization": "Bearer " + good}))[:2] == (200, 0)


async def test_jwt_hs256_signed_with_public_key_pem_is_refused(
    jwt_client: Client, keypair: KeyPair
) -> None:
    import hashlib
    import hmac

    iss = keypair.public_path.name
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    payload = base64.urlsafe_b64encode(
        json.dumps({"iss": iss, "exp": int(time.time()) + 60}).encode()
    ).rstrip(b"=")
    signing_input = header + b"." + payload
    mac = hmac.new(keypair.public_path.read_bytes(), signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()
    status, code, _ = await get_code(jwt_client, {"Authorization": "Bearer " + token})
    assert (status, code) == (401, 103)


async def test_jwt_huge_header_is_refused_in_json(jwt_client: Client) -> None:
    """A header over the listener's field cap is refused before auth; one under it reaches
    auth and is a 401 with a code, like any bad token."""
    response = await jwt_client.get(
        "/api/v4/brokers", headers={"Authorization": "Bearer " + "a" * 100_000}
    )
    assert response.status == 400
    assert response.content_type == "application/json"
    assert (await response.json())["code"] == 102
    response = await jwt_client.get(
        "/api/v4/brokers", headers={"Authorization": "Bearer " + "a" * (MAX_FIELD_SIZE - 100)}
    )
    assert response.status == 401
    assert (await response.json())["code"] == 103


async def test_jwt_message_tells_which_iss(jwt_client: Client, keypair: KeyPair) -> None:
    response = await jwt_client.get(
        "/api/v4/brokers", headers={"Authorization": "Bearer " + keypair.token(iss="wrong")}
    )
    body = await response.json()
    assert list(body) == ["code", "message"]
    assert keypair.public_path.name in body["message"]


def test_jwt_accepts_pkcs1_and_certificate_keys(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1 = tmp_path / "pkcs1.pub"
    pkcs1.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    )
    cert_path = tmp_path / "cert.pem"
    cert_path.write_text(self_signed_certificate(key))
    strategy = make_strategy(jwt_settings(tmp_path, pkcs1, cert_path).http_server)
    token = jwt.encode({"iss": "cert.pem", "exp": int(time.time()) + 60}, key, algorithm="RS256")
    assert strategy.verify(token).name == "cert.pem"  # type: ignore[attr-defined]
    # NanoMQ's own sample key is PKCS#1 too.
    make_strategy(jwt_settings(tmp_path, NANOMQ_ETC / "jwtRS256.key.pub").http_server)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "file not found"),
        (b"not a key at all", "not a PEM public key"),
        ("ec", "not an RSA key"),
        ("private", "is a private key"),
    ],
)
def test_jwt_bad_key_files_fail_at_load(
    tmp_path: Path, content: bytes | str | None, fragment: str
) -> None:
    path = tmp_path / "bad.pub"
    if content == "ec":
        ec_key = ec.generate_private_key(ec.SECP256R1())
        path.write_bytes(
            ec_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    elif content == "private":
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(
            rsa_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=fragment):
        make_strategy(jwt_settings(tmp_path, path).http_server)


def test_basic_does_not_need_the_configured_key_file() -> None:
    settings = load_settings(str(NANOMQ_ETC / "nanomq.conf"), environ={})
    assert make_strategy(settings.http_server).name == "basic"
