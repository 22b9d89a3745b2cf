"""``auth_type = no_auth``: every request is let in."""

from __future__ import annotations

from aiohttp import web

from nanoadmin.auth.base import AuthStrategy, Identity

ANONYMOUS = Identity(scheme="none", name="")


class NoAuth(AuthStrategy):
    name = "no_auth"

    def authenticate(self, request: web.Request) -> Identity:
        return ANONYMOUS
