"""Admission of a request: counted while in flight, held to max_body, failures answered in JSON.

Every route's handler is wrapped by :func:`admission`, which sends every failure down the one
error path (:func:`nanoadmin.errors.response_for`). The route table matches every path, so no
request can fail before a wrapped handler; the app needs no middleware, and aiohttp's
middleware machinery (a wrapper, a coroutine and its request-app fix-up) costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from nanoadmin.errors import Handler, PayloadTooLarge, response_for
from nanoadmin.runtime import Runtime


def admission(runtime: Runtime) -> Callable[[Handler], Handler]:
    """What puts a handler behind admission to ``runtime``'s server: 413 for a body over
    max_body, before the handler (and so before auth); the in-flight count, so that a stop can
    wait for unfinished requests; every failure, from here or the handler, as a JSON body with
    a code."""
    in_flight = runtime.in_flight

    def admitted(handler: Handler) -> Handler:
        async def admitted_handler(request: web.Request) -> web.StreamResponse:
            in_flight.count += 1
            try:
                if request.body_exists:
                    limit = runtime.settings.http_server.max_body
                    length = request.content_length
                    if length is not None and length > limit:
                        raise PayloadTooLarge(
                            f"request body of {length} bytes exceeds max_body {limit}"
                        )
                    if length is None:
                        await request.read()  # aiohttp enforces client_max_size (= max_body)
                return await handler(request)
            except Exception as exc:
                return response_for(request, exc)
            finally:
                in_flight.count -= 1
                if in_flight.draining:
                    in_flight.wake()

        return admitted_handler

    return admitted
