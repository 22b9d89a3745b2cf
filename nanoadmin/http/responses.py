"""JSON in and out: request bodies of the type an endpoint needs, answers as cJSON prints them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TypeVar

import orjson
from aiohttp import web

from nanoadmin.errors import REQ_PARAMS_JSON_FORMAT_ILLEGAL, ApiError, BadRequestBody
from nanoadmin.http.limits import BODY_READ_TIMEOUT

JSON = "application/json"
T = TypeVar("T", dict[str, object], list[object])


def dumps(body: object) -> bytes:
    """Compact JSON, keys in insertion order, UTF-8 unescaped: what cJSON prints."""
    return orjson.dumps(body)


def json_response(
    body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type=JSON, headers=headers)


async def read_body(request: web.Request) -> bytes:
    """The whole body, read within BODY_READ_TIMEOUT (aiohttp holds it to max_body); 408 and
    the connection closed when it does not arrive in time."""
    if request.content.is_eof():
        # All of it has come already (the usual case): no wait, so no deadline to set, which
        # would cost a POST a tenth of what it takes to answer.
        return await request.read()
    try:
        async with asyncio.timeout(BODY_READ_TIMEOUT):
            return await request.read()
    except TimeoutError:
        raise ApiError(
            f"request body not received within {BODY_READ_TIMEOUT:g} s",
            status=408,
            code=REQ_PARAMS_JSON_FORMAT_ILLEGAL,
        ) from None


async def json_body(request: web.Request, kind: type[T]) -> T:
    """The body parsed as JSON and checked to be ``kind`` (an object or an array); 400 with
    code 109 otherwise."""
    raw = await read_body(request)
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
