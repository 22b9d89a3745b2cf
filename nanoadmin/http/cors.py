"""CORS for the origins an operator names (``--cors ORIGIN``, ``nanoadmin { cors = [...] }``).

NanoMQ sends no CORS header at all (nanomq/nanomq web_server.c rest_job_cb sets Content-Type,
and nng adds Content-Length), so a dashboard served from another origin cannot call it from a
browser; nanoadmin is the same unless origins are named. Then, for those origins only:

- a preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered 204 before
  auth, since a browser sends it without credentials;
- every other answer, errors included, carries Access-Control-Allow-Origin (the origin itself,
  never ``*``, as credentials are allowed) and Access-Control-Allow-Credentials.

Every answer carries ``Vary: Origin`` while CORS is on. A preflight from an origin not named
is an ordinary OPTIONS request. With no origins named nothing is installed: no cost at all.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ALLOWED_METHODS = "GET, POST, PUT, DELETE"
# Asked for in Access-Control-Request-Headers and not a list of header names: these instead.
ALLOWED_HEADERS = "Authorization, Content-Type"
EXPOSED_HEADERS = "Allow, WWW-Authenticate"
MAX_AGE = "600"
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_HEADER_NAMES = re.compile(rf"{_TOKEN}(?:[ \t]*,[ \t]*{_TOKEN})*")
MAX_REQUESTED_HEADERS = 1024


def _allowed_headers(requested: str | None) -> str:
    if requested and len(requested) <= MAX_REQUESTED_HEADERS:
        requested = requested.strip()
        if _HEADER_NAMES.fullmatch(requested):
            return requested
    return ALLOWED_HEADERS


def cors_middleware(origins: Iterable[str]) -> Middleware:
    allowed = frozenset(origins)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers
        origin = headers.get(hdrs.ORIGIN)
        if origin is None or origin not in allowed:
            response = await handler(request)
            response.headers.add(hdrs.VARY, hdrs.ORIGIN)
            return response
        if request.method == hdrs.METH_OPTIONS and hdrs.ACCESS_CONTROL_REQUEST_METHOD in headers:
            # A preflight: answered before auth, as the browser sends it without credentials.
            response = web.Response(status=204)
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = ALLOWED_METHODS
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = _allowed_headers(
                headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS)
            )
            response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = MAX_AGE
        else:
            response = await handler(request)
            response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSED_HEADERS
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
        response.headers.add(hdrs.VARY, hdrs.ORIGIN)
        return response

    return cors


def setup_cors(app: web.Application, origins: Iterable[str]) -> None:
    """Install CORS for ``origins`` (already normalized); nothing when there are none."""
    origins = tuple(origins)
    if origins:
        app.middlewares.append(cors_middleware(origins))
