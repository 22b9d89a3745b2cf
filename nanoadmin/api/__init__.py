"""The URL map: every NanoMQ /api/v4 route and nanoadmin's extensions, on one screen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from aiohttp import web

from nanoadmin.api import bridges, clients, configuration, info, mqtt, openapi, rules, stats
from nanoadmin.api.routing import (
    API_ROOT,
    ApiHandler,
    RouteHandler,
    RouteMatch,
    Router,
    is_api_target,
    split_api_target,
)
from nanoadmin.errors import Handler, MethodNotAllowed, NotFound
from nanoadmin.keys import IDENTITY_KEY, RUNTIME_KEY
from nanoadmin.runtime import Runtime

__all__ = ("ROUTES", "build_router", "setup_routes")


ROUTES: tuple[tuple[str, str, ApiHandler], ...] = (
    ("GET", "/", info.endpoint_index),
    ("GET", "/brokers", info.brokers),
    ("GET", "/nodes", info.nodes),
    ("GET", "/clients", clients.list_clients),
    ("GET", "/clients/{clientid}", clients.list_clients),
    ("DELETE", "/clients/{clientid}", clients.kick_client),  # extension
    ("GET", "/clients/username/{username}", clients.list_clients),
    ("GET", "/subscriptions", clients.list_subscriptions),
    ("GET", "/subscriptions/{clientid}", clients.list_subscriptions),
    ("GET", "/topic-tree", clients.topic_tree),
    ("GET", "/metrics", stats.metrics),
    ("GET", "/prometheus", stats.prometheus),
    ("GET", "/reload", configuration.get_reload),
    ("POST", "/reload", configuration.post_reload),
    ("GET", "/configuration", configuration.get_configuration),
    ("POST", "/configuration", configuration.post_configuration),
    ("GET", "/configuration/{section}", configuration.get_configuration),
    ("POST", "/configuration/{section}", configuration.post_configuration),
    ("POST", "/config_update", configuration.config_update),
    ("POST", "/ctrl/{action}", configuration.ctrl),
    ("POST", "/mqtt/publish", mqtt.publish),
    ("POST", "/mqtt/publish_batch", mqtt.publish_batch),
    ("POST", "/mqtt/subscribe", mqtt.subscribe),  # extension
    ("POST", "/mqtt/unsubscribe", mqtt.unsubscribe),  # extension
    ("POST", "/mqtt/subscribe_batch", mqtt.subscribe_batch),  # extension
    ("POST", "/mqtt/unsubscribe_batch", mqtt.unsubscribe_batch),  # extension
    ("GET", "/rules", rules.list_rules),
    ("POST", "/rules", rules.create_rule),
    ("GET", "/rules/{ruleid}", rules.get_rule),
    ("PUT", "/rules/{ruleid}", rules.update_rule),
    ("DELETE", "/rules/{ruleid}", rules.delete_rule),
    ("GET", "/bridges", bridges.get_bridges),
    ("GET", "/bridges/{name}", bridges.get_bridges),
    ("PUT", "/bridges/{name}", bridges.put_bridge),
    ("DELETE", "/bridges/{name}", bridges.delete_bridge),  # extension
    ("POST", "/bridges/switch/{name}", bridges.switch_bridge),
    ("POST", "/bridges/sub/{name}", bridges.subscribe_bridge),
    ("POST", "/bridges/unsub/{name}", bridges.unsubscribe_bridge),
)


RESOLVED_MAX = 4096
RESOLVED_TARGET_MAX = 512

# Served without auth outside /api/v4, GET only.
PUBLIC_PATHS = ("/status", "/openapi.json")


def build_router(runtime: Runtime) -> Router:
    """The route table with each handler bound to ``runtime``."""
    router = Router()
    for method, pattern, handler in ROUTES:
        router.add(method, pattern, partial(handler, runtime))
    return router


def setup_routes(app: web.Application, admit: Callable[[Handler], Handler]) -> None:
    """Every route's handler goes through ``admit`` (admission and the one error path); every
    /api/v4 request then authenticates before it is routed, as in NanoMQ."""
    runtime = app[RUNTIME_KEY]
    router = build_router(runtime)
    # (method, raw request-target) -> the router's answer: the same few targets come again and
    # again, so each is split and resolved once. Bounded in entries and in target length.
    resolved: dict[tuple[str, str], tuple[RouteHandler, RouteMatch]] = {}

    # Plain functions that return the handler's coroutine: admission awaits it, and a
    # coroutine of their own would only add a frame to every request.
    def dispatch(request: web.Request) -> Awaitable[web.StreamResponse]:
        target = request.raw_path
        if not is_api_target(target):
            if request.path in PUBLIC_PATHS:
                raise MethodNotAllowed(request.method, ["GET"])
            raise NotFound(f"no such path: {request.path}")
        request[IDENTITY_KEY] = runtime.loaded.strategy.authenticate(request)
        key = (request.method, target)
        hit = resolved.get(key)
        if hit is not None:
            return hit[0](request, hit[1])
        parts = split_api_target(target)
        if parts is None:
            raise NotFound("no such endpoint")
        segments, raw_query = parts
        handler, params = router.resolve(request.method, segments)
        match = RouteMatch(params, raw_query)
        if len(target) <= RESOLVED_TARGET_MAX:
            if len(resolved) >= RESOLVED_MAX:
                resolved.clear()
            resolved[key] = (handler, match)
        return handler(request, match)

    def literal_route(path: str, handler: RouteHandler) -> Handler:
        """``handler`` for exactly the request-target ``path``; any other target aiohttp sends
        here (a query, percent-escapes it decoded) goes to ``dispatch``, which reads it raw."""
        bare = RouteMatch({}, "")

        def literal_handler(request: web.Request) -> Awaitable[web.StreamResponse]:
            if request.raw_path != path:
                return dispatch(request)
            request[IDENTITY_KEY] = runtime.loaded.strategy.authenticate(request)
            return handler(request, bare)

        return literal_handler

    app.router.add_get("/status", admit(partial(info.status, runtime)), allow_head=False)
    app.router.add_get("/openapi.json", admit(openapi.openapi_json), allow_head=False)
    # Literal paths as aiohttp's own plain routes: found by one dict lookup, as in a bare app.
    for method, pattern, handler in ROUTES:
        if "{" not in pattern and pattern != "/":
            path = API_ROOT + pattern
            app.router.add_route(
                method, path, admit(literal_route(path, partial(handler, runtime)))
            )
    # Everything else, and any target a plain route does not own: NanoMQ's raw-target routing.
    # [\s\S], not ".": aiohttp matches the decoded path, and %0A must still reach dispatch.
    app.router.add_route("*", r"/{tail:[\s\S]*}", admit(dispatch))
