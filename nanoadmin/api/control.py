"""The control API below /_nanoadmin/v1: journal, faults, clock, state, mock clients."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from nanoadmin import __version__
from nanoadmin.control.faults import FaultPlan, FaultProblem, parse_plan, parse_rule
from nanoadmin.control.journal import JournalFilter
from nanoadmin.control.state import export_state
from nanoadmin.errors import (
    CLIENT_IS_OFFLINE,
    MISSING_KEY_REQUEST_PARAMES,
    REQ_PARAM_ERROR,
    ApiError,
    BadParameter,
)
from nanoadmin.http.pipeline import RouteMatch
from nanoadmin.http.responses import json_body, json_response
from nanoadmin.model.broker import ClientNotFound, ModelError
from nanoadmin.model.scenario import ScenarioError, parse_scenario
from nanoadmin.runtime import Runtime

T = TypeVar("T")

# A clock offset of a century either way is already past every token's exp or nbf.
MAX_CLOCK_OFFSET = 100 * 365 * 86400
_FILTER_KEYS = ("method", "path", "status", "since", "after")
MAX_QUERY_FIELDS = 10
MAX_PATH_FILTER = 512

CONTROL_PATHS = (
    "/_nanoadmin/v1",
    "/_nanoadmin/v1/requests",
    "/_nanoadmin/v1/faults",
    "/_nanoadmin/v1/faults/{index}",
    "/_nanoadmin/v1/clock",
    "/_nanoadmin/v1/state",
    "/_nanoadmin/v1/reset",
    "/_nanoadmin/v1/clients",
    "/_nanoadmin/v1/clients/{clientid}/connect",
    "/_nanoadmin/v1/clients/{clientid}/disconnect",
)


def _ok(data: object = None) -> web.Response:
    return json_response({"code": 0} if data is None else {"code": 0, "data": data})


def _problem(exc: FaultProblem) -> ApiError:
    code = MISSING_KEY_REQUEST_PARAMES if exc.missing else REQ_PARAM_ERROR
    return ApiError(str(exc), code=code)


def _value(name: str, raw: str, parse: Callable[[str], T], expected: str) -> T:
    try:
        return parse(raw)
    except ValueError:
        raise BadParameter(f"query parameter {name}={raw!r}: expected {expected}") from None


def _finite(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _status(raw: str) -> int:
    value = int(raw)
    if not 100 <= value <= 599:
        raise ValueError(raw)
    return value


def _after(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(raw)
    return value


def journal_filter(raw_query: str) -> JournalFilter:
    """The query of GET /requests, percent-decoded; 400 (108) naming a bad or unknown one."""
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise BadParameter(f"at most {MAX_QUERY_FIELDS} query parameters") from None
    wanted: dict[str, object] = {}
    for name, raw in pairs:
        if name not in _FILTER_KEYS:
            raise BadParameter(
                f"unknown query parameter {name!r}; expected {', '.join(_FILTER_KEYS)}"
            )
        if name == "method":
            if not (raw.isascii() and raw.isalpha()) or len(raw) > 16:
                raise BadParameter(f"query parameter method={raw!r}: expected a method name")
            wanted[name] = raw.upper()
        elif name == "path":
            if not raw or len(raw) > MAX_PATH_FILTER:
                raise BadParameter(
                    f"query parameter path: expected a glob of 1..{MAX_PATH_FILTER} characters"
                )
            wanted[name] = raw
        elif name == "status":
            wanted[name] = _value(name, raw, _status, "an HTTP status 100..599")
        elif name == "since":
            wanted[name] = _value(name, raw, _finite, "seconds since the epoch")
        else:
            wanted[name] = _value(name, raw, _after, "an entry id, 0 or more")
    return JournalFilter(**wanted)  # type: ignore[arg-type]


async def index(runtime: Runtime, request: web.Request, match: RouteMatch) -> web.StreamResponse:
    return _ok(
        {
            "version": __version__,
            "journal_size": runtime.journal.size,
            "endpoints": list(CONTROL_PATHS),
        }
    )


async def list_requests(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    return _ok(runtime.journal.select(journal_filter(match.raw_query)))


async def clear_requests(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    runtime.journal.clear()
    return _ok()


async def get_faults(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    return _ok(runtime.faults.view())


async def put_faults(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    body = await json_body(request, dict)
    try:
        plan: FaultPlan = parse_plan(body, runtime.faults.endpoints)
    except FaultProblem as exc:
        raise _problem(exc) from None
    runtime.faults.replace(plan)
    return _ok(runtime.faults.view())


async def add_fault(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    body = await json_body(request, dict)
    try:
        runtime.faults.append(parse_rule("rule", body, runtime.faults.endpoints))
    except FaultProblem as exc:
        raise _problem(exc) from None
    return _ok(runtime.faults.view())


async def clear_faults(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    runtime.faults.clear()
    return _ok()


async def remove_fault(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    raw = match.params["index"]
    faults = runtime.faults
    if not raw.isdigit() or int(raw) >= len(faults.rules):
        raise ApiError(
            f"no fault rule {raw!r}; rules are numbered 0..{len(faults.rules) - 1}",
            status=404,
            code=REQ_PARAM_ERROR,
        )
    faults.remove(int(raw))
    return _ok(faults.view())


def _clock_view(runtime: Runtime) -> dict[str, object]:
    return {"offset_s": runtime.clock.offset, "time": round(runtime.now(), 3)}


async def get_clock(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    return _ok(_clock_view(runtime))


async def put_clock(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    body = await json_body(request, dict)
    unknown = [key for key in body if key != "offset_s"]
    if unknown:
        raise BadParameter(f"{unknown[0]}: unknown key; expected offset_s")
    if "offset_s" not in body:
        raise ApiError("offset_s: is required", code=MISSING_KEY_REQUEST_PARAMES)
    offset = body["offset_s"]
    if (
        isinstance(offset, bool)
        or not isinstance(offset, int | float)
        or not math.isfinite(offset)
        or abs(offset) > MAX_CLOCK_OFFSET
    ):
        raise BadParameter(f"offset_s: must be a number of seconds within ±{MAX_CLOCK_OFFSET}")
    runtime.set_clock_offset(float(offset))
    return _ok(_clock_view(runtime))


async def get_state(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    return _ok(export_state(runtime))


async def put_state(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    body = await json_body(request, dict)
    try:
        runtime.replace_state(parse_scenario(body, "state"))
    except (ScenarioError, ModelError) as exc:
        raise BadParameter(exc.message) from None
    return _ok()


async def reset(runtime: Runtime, request: web.Request, match: RouteMatch) -> web.StreamResponse:
    runtime.reset()
    return _ok()


async def add_client(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    """One mock client, a scenario's ``clients`` entry; 400 for an id already there."""
    body = await json_body(request, dict)
    try:
        (seed,) = parse_scenario({"clients": [body]}, "client").clients
        runtime.broker.add_client(seed.client, seed.subscriptions)
    except (ScenarioError, ModelError) as exc:
        raise BadParameter(exc.message) from None
    return _ok(seed.client.as_json())


def _set_conn_state(runtime: Runtime, match: RouteMatch, state: str) -> web.StreamResponse:
    client_id = unquote(match.params["clientid"])
    try:
        client = runtime.broker.set_conn_state(
            client_id, "connected" if state == "connected" else "disconnected"
        )
    except ClientNotFound:
        raise ApiError(f"no client {client_id!r}", status=404, code=CLIENT_IS_OFFLINE) from None
    except ModelError as exc:
        raise ApiError(exc.message, status=409, code=REQ_PARAM_ERROR) from None
    return _ok(client.as_json())


async def connect_client(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    return _set_conn_state(runtime, match, "connected")


async def disconnect_client(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    return _set_conn_state(runtime, match, "disconnected")
