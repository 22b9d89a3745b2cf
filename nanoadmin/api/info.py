"""The endpoint index, /brokers, /nodes and the unauthenticated /status."""

from __future__ import annotations

import time

from aiohttp import web

from nanoadmin import NANOMQ_VERSION
from nanoadmin.api.endpoint_index import ENDPOINT_INDEX
from nanoadmin.http.pipeline import RouteMatch
from nanoadmin.http.responses import JSON, dumps, json_response
from nanoadmin.runtime import Runtime

_INDEX_BODY = dumps(
    {
        "code": 0,
        "data": [
            {"path": path, "name": name, "method": method, "descr": descr}
            for path, name, method, descr in ENDPOINT_INDEX
        ],
    }
)


def format_uptime(seconds: int) -> str:
    # NanoMQ's exact format: capital H, never singular.
    hours, rest = divmod(seconds, 3600)
    return f"{hours} Hours, {rest // 60} minutes, {rest % 60} seconds"


async def endpoint_index(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    return web.Response(body=_INDEX_BODY, content_type="application/json")


def brokers_body(now: int, uptime: int) -> bytes:
    """/brokers at wall-clock second ``now`` after ``uptime`` seconds up."""
    broker = {
        "datetime": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
        "node_status": "Running",
        "sysdescr": "NanoMQ Broker",
        "uptime": format_uptime(uptime),
        "version": NANOMQ_VERSION,
    }
    return dumps({"code": 0, "data": [broker]})


async def brokers(runtime: Runtime, request: web.Request, match: RouteMatch) -> web.StreamResponse:
    last = runtime.caches.brokers
    stamp = (int(runtime.now()), runtime.uptime_seconds())
    if stamp != last.stamp:
        last.body = brokers_body(*stamp)
        last.stamp = stamp
    return web.Response(body=last.body, content_type=JSON)


async def nodes(runtime: Runtime, request: web.Request, match: RouteMatch) -> web.StreamResponse:
    node = {
        "connections": runtime.broker.stats().sessions,
        "node_status": "Running",
        "uptime": format_uptime(runtime.uptime_seconds()),
        "version": NANOMQ_VERSION,
    }
    return json_response({"code": 0, "data": [node]})


async def status(runtime: Runtime, request: web.Request, match: RouteMatch) -> web.StreamResponse:
    return json_response({"code": 0, "status": "serving", "uptime": runtime.uptime_seconds()})
