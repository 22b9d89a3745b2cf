"""Key pairs and tokens for NanoMQ's JWT auth: what ``keygen`` and ``token`` do."""

from __future__ import annotations

import re
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from nanoadmin.auth.jwt_auth import load_private_key, load_public_key
from nanoadmin.config import ConfigError
from nanoadmin.config.atomic import write_atomically
from nanoadmin.config.values import ValueProblem, duration_seconds

MIN_KEY_BITS = 2048
MAX_KEY_BITS = 8192  # larger keys take minutes to make and slow every verification


def generate_keypair(
    out: Path, name: str, bits: int = 2048, *, force: bool = False
) -> tuple[Path, Path]:
    """Write ``out/name.key`` (PKCS#8, 0600) and ``out/name.pub`` (SPKI); returns both paths."""
    if not MIN_KEY_BITS <= bits <= MAX_KEY_BITS:
        raise ConfigError(f"--bits has value {bits}. Expected {MIN_KEY_BITS}..{MAX_KEY_BITS}")
    if not re.fullmatch(r"[\w.-]+", name) or name in (".", ".."):
        raise ConfigError(f"--name has value {name!r}. Expected a plain file name")
    private_path, public_path = out / f"{name}.key", out / f"{name}.pub"
    for path in (private_path, public_path):
        if path.is_dir():
            raise ConfigError(f"{path} is a folder; expected a key file name there")
        if path.exists() and not force:
            raise ConfigError(f"{path} already exists; pass --force to overwrite it")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; expected a folder")
    out.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Each file whole or not at all; the private key never readable by others, even briefly.
    write_atomically(private_path, private_pem, mode=0o600)
    write_atomically(public_path, public_pem, mode=0o644)
    return private_path, public_path


def parse_ttl(text: str) -> int:
    """``3600``, ``30s``, ``15m``, ``1h`` or ``7d`` as whole seconds."""
    try:
        seconds = int(duration_seconds("--ttl", text))
    except ValueProblem as problem:
        raise ConfigError(str(problem)) from None
    if seconds <= 0:
        raise ConfigError(f"--ttl has value {text!r}. Expected a positive duration")
    return seconds


def parse_claims(pairs: list[str]) -> dict[str, object]:
    claims: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--claim has value {pair!r}. Expected key=value")
        if key == "iss":
            raise ConfigError("--claim cannot set iss; use --iss, or --conf to check the key")
        claims[key] = int(value) if re.fullmatch(r"-?\d{1,18}", value) else value
    return claims


def matching_iss(private_key_path: Path, public_keyfiles: tuple[Path, ...]) -> str:
    """The configured public key file that pairs with the private key: its name is the iss."""
    private = load_private_key(private_key_path).public_key().public_numbers()
    for path in public_keyfiles:
        if load_public_key(path).public_numbers() == private:
            return path.name
    names = ", ".join(str(p) for p in public_keyfiles) or "none configured"
    raise ConfigError(
        f"{private_key_path} does not match the configured public key ({names}); "
        "a token signed with it would be refused"
    )


def mint_token(
    private_key_path: Path, iss: str, ttl: int, claims: dict[str, object] | None = None
) -> str:
    """An RS256 token with NanoMQ's documented payload: iss, iat, exp and bodyEncode."""
    key = load_private_key(private_key_path)
    now = int(time.time())
    payload: dict[str, object] = {"iss": iss, "iat": now, "exp": now + ttl, "bodyEncode": "0"}
    payload.update(claims or {})
    return jwt.encode(payload, key, algorithm="RS256", headers={"typ": "JWT"})
