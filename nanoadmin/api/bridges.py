"""/bridges: the configured bridges, edited in memory with NanoMQ's odd statuses."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import hdrs, web

from nanoadmin.errors import ILLEGAL_SUBJECT, REQ_PARAM_ERROR, ApiError, BadRequestBody, coded_body
from nanoadmin.http.pipeline import RouteMatch
from nanoadmin.http.responses import JSON, dumps, json_body, json_response
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


async def _entries(request: web.Request, key: str) -> list[object]:
    """``data.<key>`` of the body, a list: checked before the bridge is looked up, as NanoMQ
    does (nanomq/nanomq rest_api.c post_mqtt_bridge_sub, post_mqtt_bridge_unsub), so that a bad
    body is 400 code 109 whether or not the bridge exists."""
    body = await json_body(request, dict)
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise BadRequestBody('request body must be {"data": {...}}')
    entries = data.get(key)
    if not isinstance(entries, list):
        raise BadRequestBody(f"data.{key} must be a JSON array")
    return entries


class NoContentWithBody(web.Response):
    """A 204 that carries its body anyway, with Content-Length and Content-Type, as NanoMQ
    answers a switch of an unknown bridge (nanomq/nanomq rest_api.c put_mqtt_bridge_switch
    calls error_response(msg, 204, 108), and nng writes any body it is given). aiohttp drops
    both the header and the body of a 204; this puts them back, so a client sees exactly what
    NanoMQ would send it: on a kept-alive connection, those bytes come before the next
    answer."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        body = self.body
        assert isinstance(body, bytes)
        self.headers[hdrs.CONTENT_LENGTH] = str(len(body))

    async def _write_headers(self) -> None:
        await super()._write_headers()
        assert self._payload_writer is not None and isinstance(self.body, bytes)
        await self._payload_writer.write(self.body)


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
    except BridgeNotFound as error:
        return NoContentWithBody(
            status=204,
            body=dumps(coded_body(REQ_PARAM_ERROR, error.message)),
            content_type=JSON,
        )
    return json_response(OK)


async def subscribe_bridge(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    entries = await _entries(request, "subscription")
    try:
        runtime.config.bridges.subscribe(match.params["name"], entries)
    except BridgeNotFound as error:
        raise _not_found(error, 404, REQ_PARAM_ERROR) from None
    return json_response(OK)


async def unsubscribe_bridge(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    entries = await _entries(request, "unsubscription")
    try:
        runtime.config.bridges.unsubscribe(match.params["name"], entries)
    except BridgeNotFound as error:
        raise _not_found(error, 404, REQ_PARAM_ERROR) from None
    return json_response(OK)
