"""Admission of a request: counted while in flight, then body limit, then auth of /api/v4."""

from __future__ import annotations

from aiohttp import web

from nanoadmin.api.routing import is_api_target
from nanoadmin.errors import Handler, PayloadTooLarge
from nanoadmin.keys import IDENTITY_KEY, RUNTIME_KEY


@web.middleware
async def admission_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """413 before auth for a body over max_body; then every /api/v4 request authenticates
    before routing, as in NanoMQ. The in-flight count lets a stop wait for unfinished requests."""
    runtime = request.app[RUNTIME_KEY]
    runtime.in_flight.enter()
    try:
        if request.can_read_body:
            limit = runtime.settings.http_server.max_body
            length = request.content_length
            if length is not None and length > limit:
                raise PayloadTooLarge(f"request body of {length} bytes exceeds max_body {limit}")
            if length is None:
                await request.read()  # aiohttp enforces client_max_size (= max_body) here
        if is_api_target(request.raw_path):
            request[IDENTITY_KEY] = await runtime.strategy.authenticate(request)
        return await handler(request)
    finally:
        runtime.in_flight.leave()
