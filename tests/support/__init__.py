"""What the tests share: paths, credentials, RSA keys, config files and clients of real servers.

Fixtures live in ``tests/conftest.py`` and are built from these; test modules import from here
(and from the modules beside this one), never from each other or from conftest.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import jwt
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from nanoadmin.settings import Settings, load_settings

PROJECT = Path(__file__).parent.parent.parent
FIXTURES = PROJECT / "tests" / "fixtures"
NANOMQ_ETC = FIXTURES / "nanomq-etc"


def basic_auth(user: str, password: str) -> str:
    """An ``Authorization`` value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


BASIC_ADMIN = basic_auth("admin", "public")


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey
    private_path: Path
    public_path: Path

    def token(self, iss: str | None = None, ttl: int = 3600, **claims: object) -> str:
        now = int(time.time())
        payload: dict[str, object] = {"iss": iss or self.public_path.name, "iat": now}
        payload["exp"] = now + ttl
        payload.update(claims)
        return jwt.encode(payload, self.private, algorithm="RS256")


def write_keypair(folder: Path, name: str = "nanomq", public_format: str = "spki") -> KeyPair:
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path = folder / f"{name}.key"
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    fmt = (
        serialization.PublicFormat.PKCS1
        if public_format == "pkcs1"
        else serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_path = folder / f"{name}.pub"
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, fmt))
    return KeyPair(key, private_path, public_path)


def self_signed_certificate(key: rsa.RSAPrivateKey, name: str = "nanoadmin-test") -> str:
    """A real X.509 certificate (PEM) for ``key``, valid for a day."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def write_conf(folder: Path, http_server: str, extra: str = "", name: str = "nanomq.conf") -> Path:
    path = folder / name
    path.write_text(f"http_server {{\n{http_server}\n}}\n{extra}")
    return path


def basic_settings(tmp_path: Path, **overrides: str) -> Settings:
    lines = {"port": "8081", "username": "admin", "password": "public", "auth_type": "basic"}
    lines.update(overrides)
    conf = write_conf(tmp_path, "\n".join(f"  {k} = {v}" for k, v in lines.items()))
    return load_settings(str(conf), environ={})


def jwt_settings(tmp_path: Path, *keyfiles: Path, cache_size: int | None = None) -> Settings:
    files = ", ".join(f'"{path}"' for path in keyfiles)
    cache = f"\n    token_cache_size = {cache_size}" if cache_size is not None else ""
    conf = write_conf(
        tmp_path, f"  auth_type = jwt\n  jwt {{\n    public.keyfile = [{files}]{cache}\n  }}"
    )
    return load_settings(str(conf), environ={})


Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[Client]]


async def raw_request(
    port: int | None, data: bytes, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read one response: for request-targets a client would tidy."""
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if data.startswith(b"HEAD ") or status_line.split()[1] == "304":
            length = 0  # a 204 is read by its Content-Length: NanoMQ's may carry a body
        body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        return int(status_line.split()[1]), headers, body
    finally:
        writer.close()
