"""Masking of secrets in what the API renders (difference D6): passwords and TLS private keys."""

from __future__ import annotations

import re
from collections.abc import Mapping

MASK = "******"
SECRET_KEYS = frozenset({"password", "key_password"})
_PRIVATE_KEY_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.DOTALL
)


def is_secret(name: str, container: Mapping[str, object]) -> bool:
    # "key" is a private key only in a TLS object; elsewhere (user properties) it is a name.
    return name in SECRET_KEYS or (name == "key" and "cacert" in container)


def masked(value: object) -> object:
    """A deep copy of a JSON-like value with every secret replaced by ``MASK``."""
    if isinstance(value, Mapping):
        return {
            name: MASK if item is not None and is_secret(name, value) else masked(item)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    if isinstance(value, str) and "PRIVATE KEY-----" in value:
        # A certificate file that also holds its key: the certificates stay, the key does not.
        shown = _PRIVATE_KEY_PEM.sub(MASK, value)
        return MASK if "PRIVATE KEY-----" in shown else shown
    return value


def is_mask_echo(name: str, value: object, container: Mapping[str, object]) -> bool:
    """A secret sent back as GET showed it: applying it would make ``MASK`` the secret."""
    return value == MASK and is_secret(name, container)


def restore_secrets(new: dict[str, object], current: Mapping[str, object]) -> None:
    """Where ``new`` holds a mask echo, put back ``current``'s secret (the same shape)."""
    for name, value in new.items():
        now = current.get(name)
        if isinstance(value, dict) and isinstance(now, Mapping):
            restore_secrets(value, now)
        elif is_mask_echo(name, value, new):
            new[name] = now
