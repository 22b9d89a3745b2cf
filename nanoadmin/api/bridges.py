"""/bridges: the configured bridges, edited in memory with NanoMQ's odd statuses."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from nanoadmin.errors import ILLEGAL_SUBJECT, REQ_PARAM_ERROR, ApiError, BadRequestBody
from nanoadmin.http.pipeline import RouteMatch
from nanoadmin.http.responses import json_body, json_response
from nanoadmin.model.bridges import BridgeNotFound, BridgeRequestInvalid
from nanoadmin.runtime import Runtime

OK = {"code": 0}


def _not_found(error: BridgeNotFound, status: int, code: int) -> ApiError:
    return ApiError(status=status, code=code, message=error.message)


def _invalid(error: BridgeRequestInvalid) -> ApiError:
    return ApiError(status=400, code=REQ_PARAM_ERROR, message=error.message)


async def get_bridges(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    nodes = runtime.config.bridges.nodes(match.params.get("name"))
    return json_response({"code": 0, "data": {"bridge": {"nodes": nodes}}})


async def put_bridge(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    body = await json_body(request, dict)
    try:
        runtime.config.bridges.replace(match.params["name"], body)
    except BridgeRequestInvalid as error:
        raise _invalid(error) from None
    except BridgeNotFound as error:
        raise _not_found(error, 404, ILLEGAL_SUBJECT) from None
    return json_response(OK)


async def delete_bridge(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    try:
        runtime.config.bridges.delete(match.params["name"])
    except BridgeNotFound as error:
        raise _not_found(error, 404, ILLEGAL_SUBJECT) from None
    return json_response(OK)


async def _data(request: web.Request) -> Mapping[str, object]:
    body = await json_body(request, dict)
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise BadRequestBody('request body must be {"data": {...}}')
    return data


async def switch_bridge(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    body = await json_body(request, dict)
    data = body.get("data")
    try:
        switch = data.get("bridge_switch") if isinstance(data, Mapping) else None
        runtime.config.bridges.switch(match.params["name"], switch)
    except BridgeRequestInvalid as error:
        raise _invalid(error) from None
    except BridgeNotFound:
        # NanoMQ answers an unknown bridge's switch with 204, whose body HTTP never carries.
        return web.Response(status=204)
    return json_response(OK)


async def subscribe_bridge(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    data = await _data(request)
    try:
        runtime.config.bridges.subscribe(match.params["name"], data.get("subscription"))
    except BridgeNotFound as error:
        raise _not_found(error, 404, REQ_PARAM_ERROR) from None
    return json_response(OK)


async def unsubscribe_bridge(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    data = await _data(request)
    try:
        runtime.config.bridges.unsubscribe(match.params["name"], data.get("unsubscription"))
    except BridgeNotFound as error:
        raise _not_found(error, 404, REQ_PARAM_ERROR) from None
    return json_response(OK)
