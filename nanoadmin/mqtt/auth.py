"""MQTT CONNECT authentication from the config's ``auth`` section, as NanoMQ applies it."""

from __future__ import annotations

import hmac
from typing import Literal

from nanoadmin.settings import MqttAuth, password_digest

Refusal = Literal["bad_credentials", "not_authorized"]
# Compared against when the username is unknown, so that the time taken tells nothing.
_NOBODY = password_digest(b"\0no such user\0")


def check_connect(auth: MqttAuth, username: str | None, password: bytes | None) -> Refusal | None:
    """None to accept; otherwise why the CONNECT is refused.

    No username: accepted when ``allow_anonymous``. A username: it must be one of the password
    pairs with its password (compared in constant time) when there are pairs; with none, a
    username is as good as none.
    """
    if username is None:
        return None if auth.allow_anonymous else "not_authorized"
    if not auth.passwords:
        return None if auth.allow_anonymous else "not_authorized"
    stored = auth.passwords.get(username)
    given = password_digest(password if password is not None else b"")
    matches = hmac.compare_digest(given, stored if stored is not None else _NOBODY)
    if stored is None or password is None or not matches:
        return "bad_credentials"
    return None
