"""The request pipeline: read the target, admit, authenticate, route, handle; one error path.

Every request takes these steps, in this order, in this module:

1. **target**: NanoMQ's rules on the raw request-target (no percent-decoding, a trailing slash
   allowed, the query split its own way): :func:`split_api_target`, :func:`parse_query`.
2. **admission** (:func:`setup_pipeline`'s ``admitted``): counted while in flight, so that a stop
   can wait for it; a declared body over ``max_body`` is 413 before anything else.
3. **auth**: every ``/api/v4`` target, known or not, authenticates before it is routed, as in
   NanoMQ; the strategy raises AuthError.
4. **route**: the :class:`Router` finds the handler by method and segments; it remembers what it
   resolved, per (method, raw target).
5. **handler**: a thin function of the runtime, the request and its :class:`RouteMatch`.
6. **errors**: whatever any step raises leaves by :func:`response_for`, as a JSON body with code.

Two shapes of the same pipeline are registered with aiohttp: literal paths (``/api/v4/brokers``)
as aiohttp's own plain routes, found by one dict lookup as in a bare app, and one catch-all for
the rest. No aiohttp middleware: admission wraps each route's handler instead, which costs a
request one coroutine frame where a middleware layer would cost three.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from aiohttp import hdrs, web
from multidict import istr

from nanoadmin.appkeys import BODY_KEY, IDENTITY_KEY, IN_FLIGHT_KEY
from nanoadmin.auth.base import Identity
from nanoadmin.console import CONSOLE_PREFIX
from nanoadmin.control.journal import CODE_SOURCE_MAX, Journal, code_source, journal_body
from nanoadmin.errors import (
    REQ_PARAMS_JSON_FORMAT_ILLEGAL,
    UNKNOWN_MISTAKE,
    ApiError,
    AuthError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    coded_body,
)
from nanoadmin.http.faulted import NO_ANSWER, faulted_answer
from nanoadmin.http.limits import RESOLVED_MAX, RESOLVED_TARGET_MAX
from nanoadmin.http.responses import json_response
from nanoadmin.http.server import InFlight

if TYPE_CHECKING:
    from nanoadmin.console import Console
    from nanoadmin.http.static import StaticFiles
    from nanoadmin.runtime import Runtime

logger = logging.getLogger("nanoadmin.errors")

API_ROOT = "/api/v4"
API_METHODS = ("GET", "POST", "PUT", "DELETE")
_ROOT_END, _AFTER_ROOT = len(API_ROOT), len(API_ROOT) + 1
# The test double's control API (nanoadmin.control), outside every NanoMQ path.
CONTROL_ROOT = "/_nanoadmin/v1"
_CONTROL_END = len(CONTROL_ROOT)


# -- 1. the target --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteMatch:
    params: dict[str, str]
    raw_query: str

    @property
    def query(self) -> dict[str, str]:
        return parse_query(self.raw_query)


# An endpoint: the server's runtime is its first argument, bound once when routes are set up.
ApiHandler = Callable[["Runtime", web.Request, RouteMatch], Awaitable[web.StreamResponse]]
RouteHandler = Callable[[web.Request, RouteMatch], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# (method, path pattern, handler); patterns capture a segment as {name}.
Route = tuple[str, str, ApiHandler]


def is_api_target(target: str) -> bool:
    """True when the request-target is ``/api/v4`` or below it (segment-wise), as written."""
    # The slice is "" at the end of the target, and "" is in any string.
    return target.startswith(API_ROOT) and target[_ROOT_END:_AFTER_ROOT] in "/?"


_PERCENT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def handler_path(target: str) -> str:
    """The path nng matches its handlers against (nanomq/NanoNNG http_server.c
    http_uri_canonify): the query cut off, an absolute-form target's scheme and host dropped,
    every %XX decoded, %00 ending it; no dot-segment or slash folding."""
    path = target.partition("?")[0]
    if path[:8].lower().startswith(("http://", "https://")):
        slash = path.find("/", path.index(":") + 3)
        if slash < 0:
            return "/"
        path = path[slash:]
    if "%" in path:
        path = _PERCENT_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), path)
        path = path.partition("\0")[0]
    return path or "/"


def routes_to_api(target: str) -> bool:
    """True when NanoMQ's HTTP server hands ``target`` to its /api/v4 handler: the decoded path
    is /api/v4 or below it (nanomq/NanoNNG http_server.c, the handler loop's ``path[len]``)."""
    if is_api_target(target):
        return True
    path = handler_path(target)
    return path.startswith(API_ROOT) and path[_ROOT_END:_AFTER_ROOT] in "/"


def split_api_target(target: str) -> tuple[list[str], str] | None:
    """NanoMQ's reading of a raw /api/v4 target (nanomq/nanomq rest_api.c uri_parse and
    uri_parse_tree): the path segments after the first ``/api/v4`` and its first ``/``, and
    the raw query; ``[]`` is the endpoint index; None is a target no endpoint can match.

    Exactly ``/api/v4`` or ``/api/v4/`` is the index. Otherwise the text after ``/api/v4`` up
    to the query is cut at every ``/``: no ``/`` in it makes no segment at all (the index:
    ``/api/v4?x``, ``/api/v4%2Fbrokers``); one empty segment at the end is dropped (a trailing
    slash); the first segment, the text before the first ``/``, is never looked at; empty
    segments elsewhere stay and match only a parameter (``/clients//`` is client id "")."""
    if target == API_ROOT or target == API_ROOT + "/":
        return [], ""
    path, _, query = target.partition("?")
    at = path.find(API_ROOT)
    rest = path[at + _ROOT_END :] if at >= 0 else ""
    if "/" not in rest:
        return [], query
    segments = rest.split("/")
    if segments[-1] == "":
        segments.pop()
    if len(segments) < 2:
        return None  # "/api/v4/?": one (empty) segment, which no endpoint has
    return segments[1:], query


def is_control_target(target: str) -> bool:
    return target.startswith(CONTROL_ROOT) and target[_CONTROL_END : _CONTROL_END + 1] in "/?"


def split_control_target(target: str) -> tuple[list[str], str] | None:
    """A control target's segments after CONTROL_ROOT (a trailing slash allowed) and query."""
    path, _, query = target.partition("?")
    rest = path[_CONTROL_END:]
    if rest in ("", "/"):
        return [], query
    segments = rest[1:].split("/")
    if segments[-1] == "":
        segments.pop()
    return segments, query


def below_api_root(target: str) -> str:
    """The raw target after its ``/api/v4``, which fault rules' ``path`` globs match."""
    at = target.find(API_ROOT)
    return target[at + _ROOT_END :] if at >= 0 else target


def parse_query_pairs(raw: str) -> list[tuple[str, str]]:
    """NanoMQ's query rules (nanomq/nanomq rest_api.c uri_param_parse): a query of 3
    characters or more, split on ``&``, each piece kept when it has a key and a value; the
    value may hold more ``=``; nothing decoded; a repeated key kept each time, in order."""
    if len(raw) < 3 or ("&" not in raw and "=" not in raw):
        return []
    pairs: list[tuple[str, str]] = []
    for part in raw.split("&"):
        key, sep, value = part.partition("=")
        if sep and key and value:
            pairs.append((key, value))
    return pairs


def parse_query(raw: str) -> dict[str, str]:
    """The query as a dict: the last value of a repeated key."""
    return dict(parse_query_pairs(raw))


# -- 4. the route -------------------------------------------------------------------------------


class Router:
    """Routes by segment pattern (``{name}`` segments capture the raw text), and remembers each
    (method, raw target) it resolved: bounded in entries and in target length."""

    def __init__(
        self, split: Callable[[str], tuple[list[str], str] | None] = split_api_target
    ) -> None:
        self._split = split
        self._routes: dict[int, list[tuple[tuple[str, ...], dict[str, RouteHandler]]]] = {}
        self._resolved: dict[tuple[str, str], tuple[RouteHandler, RouteMatch]] = {}

    def add(self, method: str, pattern: str, handler: RouteHandler) -> None:
        segments = tuple(s for s in pattern.strip("/").split("/") if s)
        bucket = self._routes.setdefault(len(segments), [])
        for existing, handlers in bucket:
            if existing == segments:
                handlers[method] = handler
                return
        bucket.append((segments, {method: handler}))
        # Literal segments beat captures: /clients/username/{u} before /clients/{a}/{b}.
        bucket.sort(key=lambda item: [s.startswith("{") for s in item[0]])

    def resolve(self, method: str, target: str) -> tuple[RouteHandler, RouteMatch]:
        """The handler and match for a target; NotFound or MethodNotAllowed."""
        key = (method, target)
        hit = self._resolved.get(key)
        if hit is not None:
            return hit
        parts = self._split(target)
        if parts is None:
            if method not in API_METHODS:
                raise MethodNotAllowed(method, list(API_METHODS))
            raise NotFound("no such endpoint")
        segments, raw_query = parts
        handler, params = self._find(method, segments)
        resolved = (handler, RouteMatch(params, raw_query))
        if len(target) <= RESOLVED_TARGET_MAX:
            if len(self._resolved) >= RESOLVED_MAX:
                self._resolved.clear()
            self._resolved[key] = resolved
        return resolved

    def _find(self, method: str, segments: list[str]) -> tuple[RouteHandler, dict[str, str]]:
        for pattern, handlers in self._routes.get(len(segments), ()):
            params: dict[str, str] = {}
            for want, have in zip(pattern, segments, strict=True):
                if want.startswith("{"):
                    params[want[1:-1]] = have
                elif want != have:
                    break
            else:
                handler = handlers.get(method)
                if handler is None:
                    raise MethodNotAllowed(method, sorted(handlers, key=API_METHODS.index))
                return handler, params
        if method not in API_METHODS:
            raise MethodNotAllowed(method, list(API_METHODS))
        raise NotFound("no such endpoint: /" + "/".join(segments))


# -- 6. the one error path ----------------------------------------------------------------------

_HTTP_CODES = {413: REQ_PARAMS_JSON_FORMAT_ILLEGAL, 400: REQ_PARAMS_JSON_FORMAT_ILLEGAL}
SEC_FETCH_MODE = istr("Sec-Fetch-Mode")


def wants_challenge(request: web.BaseRequest) -> bool:
    """Whether a 401 carries WWW-Authenticate: not to a browser's script (``Sec-Fetch-Mode``
    cors, no-cors, same-origin), for which it would pop up the browser's own sign-in dialog;
    to navigations and to every client that is not a browser (no such header)."""
    mode = request.headers.get(SEC_FETCH_MODE)
    return mode is None or mode == "navigate"


def response_for(request: web.BaseRequest, exc: Exception) -> web.StreamResponse:
    """``exc`` as a JSON body with a code. Call it from an ``except`` block.

    An HTTPException below 400 (a redirect) is not an error: it is raised again for aiohttp.
    """
    if isinstance(exc, ApiError):
        headers = exc.headers
        if isinstance(exc, AuthError) and not wants_challenge(request):
            headers = None  # its only header is the challenge
        return json_response(exc.body(), status=exc.status, headers=headers)
    if isinstance(exc, ConnectionResetError):
        # The client went away mid-body: nobody will read this answer; not a server error.
        logger.info(
            "client %s closed the connection before its request body arrived", request.remote
        )
        return json_response(
            coded_body(REQ_PARAMS_JSON_FORMAT_ILLEGAL, "connection closed before the body arrived"),
            status=400,
        )
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        reason = exc.reason or "error"
        if exc.status == 413:
            reason = "request body is larger than http_server.max_body"
        code = _HTTP_CODES.get(exc.status, UNKNOWN_MISTAKE)
        headers = {k: v for k, v in exc.headers.items() if k == "Allow"}
        return json_response(coded_body(code, reason), status=exc.status, headers=headers)
    logger.exception("unhandled error for %s %s", request.method, request.path, exc_info=exc)
    return json_response(coded_body(UNKNOWN_MISTAKE, "internal error"), status=500)


# -- the request journal ------------------------------------------------------------------------

_SCHEMES = {"Basic ": "basic", "Bearer": "bearer", "basic ": "basic", "bearer": "bearer"}


def auth_scheme(request: web.BaseRequest) -> str:
    """The Authorization header's scheme, never its credential."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is None:
        return "none"
    start = header[:6]
    return _SCHEMES.get(start) or _SCHEMES.get(start.lower(), "other")


def record(
    journal: Journal,
    request: web.Request,
    response: web.StreamResponse,
    started: float,
    fault: int | None,
) -> None:
    """Add ``request`` to the journal: only what is at hand, the rest is done when it is read."""
    target = request.raw_path
    if target.startswith(CONTROL_ROOT) and is_control_target(target):
        return
    ended = time.perf_counter()
    status: int | None = response.status
    body = response.body if isinstance(response, web.Response) else None
    source = None
    if isinstance(body, bytes):
        source = body if len(body) <= CODE_SOURCE_MAX else code_source(body)
    if status == NO_ANSWER:
        status = None
    try:
        identity: Identity | None = request[IDENTITY_KEY]
    except KeyError:
        identity = None
    if identity is not None and identity.scheme != "none":
        scheme, outcome = identity.scheme, "accepted"
    else:
        scheme = auth_scheme(request)
        # Only auth answers 401; no_auth accepts whatever was sent.
        outcome = "accepted" if identity is not None else "refused" if status == 401 else "none"
    raw, size = None, 0
    if request.body_exists:
        raw = request.get(BODY_KEY)  # set by read_body when a handler read it
        size = len(raw) if raw is not None else request.content_length or 0
    journal.add(
        ended,
        started,
        request.method,
        target,
        status,
        source,
        scheme,
        outcome,
        size,
        journal_body(raw) if raw else None,
        fault,
    )


# -- 2, 3 and 5: admission, auth and the handler ------------------------------------------------


def setup_pipeline(
    app: web.Application,
    runtime: Runtime,
    api_routes: Iterable[Route],
    public_routes: Iterable[Route],
    *,
    control_routes: Iterable[Route] = (),
    files: StaticFiles | None = None,
    console: Console | None = None,
) -> None:
    """Register every route behind the pipeline: ``api_routes`` below /api/v4 (authenticated),
    ``control_routes`` below /_nanoadmin/v1 (authenticated the same way; none: those paths
    are unknown), ``public_routes`` outside both (GET only, no auth), ``files``
    (``--dist``) for GET and HEAD anywhere else (no auth, as NanoMQ serves its ./dist), and
    ``console`` at ``/`` (without ``files``) and below CONSOLE_PREFIX (no auth: the page holds
    no data).

    Each request is journalled (when the journal keeps any) and, below /api/v4, tried
    against the fault rules (when there are any) before auth."""
    in_flight = app[IN_FLIGHT_KEY] = InFlight()
    journal = runtime.journal if runtime.journal.size else None
    faults = runtime.faults
    stop = runtime.stop_event
    control_router: Router | None = None
    for method, pattern, handler in control_routes:
        if control_router is None:
            control_router = Router(split_control_target)
        control_router.add(method, pattern, partial(handler, runtime))
    router = Router()
    literal_paths: list[tuple[str, str, RouteHandler]] = []
    for method, pattern, handler in api_routes:
        bound_handler = partial(handler, runtime)
        router.add(method, pattern, bound_handler)
        if "{" not in pattern and pattern != "/":
            literal_paths.append((method, API_ROOT + pattern, bound_handler))
    public_paths = {path: partial(handler, runtime) for _, path, handler in public_routes}

    def refuse_declared_excess(request: web.Request) -> None:
        # A declared length over max_body is refused before anything else; any body is read
        # only by a handler, after auth (aiohttp then holds it to client_max_size, which is
        # max_body, and read_body to its deadline).
        limit = runtime.settings.http_server.max_body
        length = request.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(f"request body of {length} bytes exceeds max_body {limit}")

    def admitted(handler: Handler) -> Handler:
        """``handler`` counted in flight, with the one error path."""

        async def admitted_handler(request: web.Request) -> web.StreamResponse:
            in_flight.count += 1
            try:
                if request.body_exists:
                    refuse_declared_excess(request)
                return await handler(request)
            except Exception as exc:
                return response_for(request, exc)
            finally:
                in_flight.count -= 1
                if in_flight.draining:
                    in_flight.wake()

        return admitted_handler

    def observed(handler: Handler) -> Handler:
        """As ``admitted``, and journalled and tried against the fault rules: what a server
        with the control API (or a fault file) runs, so that one without pays for neither."""

        async def answer(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except Exception as exc:
                return response_for(request, exc)

        async def observed_handler(request: web.Request) -> web.StreamResponse:
            in_flight.count += 1
            started = time.perf_counter()
            fault: int | None = None
            try:
                if request.body_exists:
                    refuse_declared_excess(request)
                picked = (
                    faults.pick(request.method, below_api_root(request.raw_path))
                    if faults.rules and routes_to_api(request.raw_path)
                    else None
                )
                if picked is None:
                    response = await handler(request)
                else:
                    fault, rule, delay = picked
                    response = await faulted_answer(request, answer, fault, rule, delay, stop)
            except Exception as exc:
                response = response_for(request, exc)
            finally:
                in_flight.count -= 1
                if in_flight.draining:
                    in_flight.wake()
            if journal is not None:
                record(journal, request, response, started, fault)
            return response

        return observed_handler

    wrap = observed if control_router is not None or faults.rules else admitted

    # Plain functions that return the handler's coroutine: admission awaits it, and a
    # coroutine of their own would only add a frame to every request.
    def outside_api(request: web.Request) -> Awaitable[web.StreamResponse]:
        # What NanoMQ's ./dist handler would get (nanomq/nanomq web_server.c rest_start): GET
        # and HEAD only; any other method is 405, before auth, as nng answers it.
        if request.path in public_paths:
            raise MethodNotAllowed(request.method, ["GET"])
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(request.method, ["GET", "HEAD"])
        path = request.path
        if console is not None and (
            path.startswith(CONSOLE_PREFIX) or (path == "/" and files is None)
        ):
            return console.respond(request, path)
        if files is not None:
            return files.respond(request, request.path)
        raise NotFound(f"no such path: {request.path}")

    def any_target(request: web.Request) -> Awaitable[web.StreamResponse]:
        target = request.raw_path
        if control_router is not None and is_control_target(target):
            request[IDENTITY_KEY] = runtime.loaded.strategy.authenticate(request)
            control, control_match = control_router.resolve(request.method, target)
            return control(request, control_match)
        if not routes_to_api(target):
            return outside_api(request)
        request[IDENTITY_KEY] = runtime.loaded.strategy.authenticate(request)
        handler, match = router.resolve(request.method, target)
        return handler(request, match)

    def literal_target(path: str, handler: RouteHandler) -> Handler:
        """``handler`` for exactly the request-target ``path``; any other target aiohttp sends
        here (a query, percent-escapes it decoded) goes to ``any_target``, which reads it raw."""
        bare = RouteMatch({}, "")

        def literal_handler(request: web.Request) -> Awaitable[web.StreamResponse]:
            if request.raw_path != path:
                return any_target(request)
            request[IDENTITY_KEY] = runtime.loaded.strategy.authenticate(request)
            return handler(request, bare)

        return literal_handler

    def public_target(handler: RouteHandler) -> Handler:
        bare = RouteMatch({}, "")
        return lambda request: handler(request, bare)

    for path, public in public_paths.items():
        app.router.add_get(path, wrap(public_target(public)), allow_head=False)
    for method, path, bound in literal_paths:
        app.router.add_route(method, path, wrap(literal_target(path, bound)))
    # [\s\S], not ".": aiohttp matches the decoded path, and %0A must still reach any_target.
    app.router.add_route("*", r"/{tail:[\s\S]*}", wrap(any_target))
