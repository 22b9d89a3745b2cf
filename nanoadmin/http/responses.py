"""JSON in and out: request bodies of the type an endpoint needs, answers as cJSON prints them."""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Mapping
from typing import TypeVar

import orjson
from aiohttp import web

from nanoadmin.appkeys import BODY_KEY
from nanoadmin.errors import REQ_PARAMS_JSON_FORMAT_ILLEGAL, ApiError, BadRequestBody
from nanoadmin.http.limits import BODY_READ_TIMEOUT

JSON = "application/json"
T = TypeVar("T", dict[str, object], list[object])


# cJSON prints every number as a double: integers from here on differ from orjson's output.
_CJSON_EXACT_MAX = 10**15


def cjson_number(value: float) -> str:
    """``value`` as NanoMQ's cJSON prints a number (nanomq/NanoNNG cJSON.c print_number): a
    double, ``%1.15g`` if that reads back within DBL_EPSILON, else ``%1.17g``; NaN and the
    infinities as ``null``. So 2.0 is ``2``, -0.0 is ``-0``, 1e15 is ``1e+15``."""
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return "null"
    text = f"{number:1.15g}"
    back = float(text)
    if not abs(back - number) <= max(abs(back), abs(number)) * sys.float_info.epsilon:
        text = f"{number:1.17g}"
    return text


def _differs(value: object) -> bool:
    """Whether a JSON value holds a number orjson would print otherwise than cJSON: any float
    (orjson writes 2.0, 1e+16), or an integer of 10**15 or more."""
    kind = type(value)
    if kind is dict:
        values: object = value.values()  # type: ignore[attr-defined]
    elif kind is list or kind is tuple:
        values = value
    elif kind is float:
        return True
    elif kind is int:
        return not -_CJSON_EXACT_MAX < value < _CJSON_EXACT_MAX  # type: ignore[operator]
    else:
        return False
    for item in values:  # type: ignore[attr-defined]
        item_kind = type(item)
        if item_kind is str or item_kind is bool or item is None:
            continue
        if item_kind is int:
            if -_CJSON_EXACT_MAX < item < _CJSON_EXACT_MAX:
                continue
            return True
        if _differs(item):
            return True
    return False


def _as_cjson(value: object) -> object:
    """``value`` with every number cJSON prints differently as an orjson Fragment of its text."""
    if isinstance(value, dict):
        return {key: _as_cjson(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_cjson(item) for item in value]
    if isinstance(value, float) or (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not -_CJSON_EXACT_MAX < value < _CJSON_EXACT_MAX
    ):
        return orjson.Fragment(cjson_number(value).encode("ascii"))
    return value


def dumps(body: object) -> bytes:
    """Compact JSON, keys in insertion order, UTF-8 unescaped, numbers as cJSON prints them:
    NanoMQ's answers. The one walk that looks for numbers costs a small body well under a
    microsecond; orjson prints everything else exactly as cJSON does."""
    if _differs(body):
        body = _as_cjson(body)
    return orjson.dumps(body)


def dumps_model(body: object) -> bytes:
    """:func:`dumps` for the large listings built from the model's own records only (their
    strings, booleans and counts, never a float nor a count near 10**15), where orjson's
    output already is cJSON's and the walk would cost more than the encoding."""
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
        raw = request[BODY_KEY] = await request.read()
        return raw
    try:
        async with asyncio.timeout(BODY_READ_TIMEOUT):
            raw = request[BODY_KEY] = await request.read()
            return raw
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
