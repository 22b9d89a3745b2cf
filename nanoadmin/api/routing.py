"""NanoMQ's URI rules on the raw request-target: no percent-decoding, trailing slash allowed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from nanoadmin.errors import MethodNotAllowed, NotFound
from nanoadmin.runtime import Runtime

API_ROOT = "/api/v4"
API_METHODS = ("GET", "POST", "PUT", "DELETE")
_ROOT_END, _AFTER_ROOT = len(API_ROOT), len(API_ROOT) + 1


@dataclass(frozen=True, slots=True)
class RouteMatch:
    params: dict[str, str]
    raw_query: str

    @property
    def query(self) -> dict[str, str]:
        return parse_query(self.raw_query)


# An endpoint: the server's runtime is its first argument, bound once when routes are set up.
ApiHandler = Callable[[Runtime, web.Request, RouteMatch], Awaitable[web.StreamResponse]]
RouteHandler = Callable[[web.Request, RouteMatch], Awaitable[web.StreamResponse]]


def is_api_target(target: str) -> bool:
    """True when the request-target is ``/api/v4`` or below it (segment-wise)."""
    # The slice is "" at the end of the target, and "" is in any string.
    return target.startswith(API_ROOT) and target[_ROOT_END:_AFTER_ROOT] in "/?"


def split_api_target(target: str) -> tuple[list[str], str] | None:
    """Path segments below /api/v4 and the raw query; ``[]`` is the index; None means 404."""
    path, _, query = target.partition("?")
    if path in (API_ROOT, API_ROOT + "/") and not (path.endswith("/") and query):
        return [], query
    segments = path[len(API_ROOT) + 1 :].split("/")
    if len(segments) > 1 and segments[-1] == "":
        segments.pop()
    if "" in segments:
        return None
    return segments, query


def parse_query(raw: str) -> dict[str, str]:
    """NanoMQ's query rules: split on ``&``, keep pairs with a key and a value, no decoding."""
    pairs: dict[str, str] = {}
    if len(raw) < 3:
        return pairs
    for part in raw.split("&"):
        key, sep, value = part.partition("=")
        if sep and key and value:
            pairs[key] = value
    return pairs


@dataclass(slots=True)
class Router:
    """Routes by segment pattern; ``{name}`` segments capture the raw text."""

    _routes: dict[int, list[tuple[tuple[str, ...], dict[str, RouteHandler]]]] = field(
        default_factory=dict
    )

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

    def methods(self) -> list[tuple[str, str]]:
        return [
            (method, "/" + "/".join(segments))
            for bucket in self._routes.values()
            for segments, handlers in bucket
            for method in handlers
        ]

    def resolve(self, method: str, segments: list[str]) -> tuple[RouteHandler, dict[str, str]]:
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
