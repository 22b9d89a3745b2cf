"""Request bodies: JSON of the type an endpoint needs, or 400 with code 109."""

from __future__ import annotations

from typing import TypeVar

import orjson
from aiohttp import web

from nanoadmin.errors import BadRequestBody

T = TypeVar("T", dict[str, object], list[object])


async def json_body(request: web.Request, kind: type[T]) -> T:
    """The body parsed as JSON and checked to be ``kind`` (an object or an array)."""
    raw = await request.read()
    wanted = "object" if kind is dict else "array"
    if not raw.strip():
        raise BadRequestBody(f"request body is empty; expected a JSON {wanted}")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequestBody(f"request body is not valid JSON: {exc.msg}") from None
    if not isinstance(value, kind):
        raise BadRequestBody(f"request body must be a JSON {wanted}")
    return value
