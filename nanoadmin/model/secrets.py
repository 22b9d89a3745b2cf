"""Masking of secrets in what the API renders (difference D6): passwords and TLS private keys."""

from __future__ import annotations

from collections.abc import Mapping

MASK = "******"
SECRET_KEYS = frozenset({"password", "key_password"})


def masked(value: object) -> object:
    """A deep copy of a JSON-like value with every secret replaced by ``MASK``."""
    if isinstance(value, Mapping):
        # "key" is a private key only in a TLS object; elsewhere (user properties) it is a name.
        is_tls = "cacert" in value
        return {
            name: MASK
            if item is not None and (name in SECRET_KEYS or (is_tls and name == "key"))
            else masked(item)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value
