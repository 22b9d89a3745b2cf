"""The one app factory, used by the CLI, the tests and the benchmarks."""

from __future__ import annotations

from aiohttp import web

from nanoadmin.api import API_PATTERNS, CONTROL_ROUTES, PUBLIC_ROUTES, ROUTES
from nanoadmin.appkeys import RUNTIME_KEY
from nanoadmin.console import Console
from nanoadmin.control.faults import Faults, read_plan
from nanoadmin.http.cors import setup_cors
from nanoadmin.http.limits import (
    IDLE_TIMEOUT,
    MAX_FIELD_SIZE,
    MAX_HEADERS,
    MAX_LINE_SIZE,
    UNREAD_BODY_TIMEOUT,
)
from nanoadmin.http.pipeline import setup_pipeline
from nanoadmin.http.static import StaticFiles
from nanoadmin.model.scenario import Scenario
from nanoadmin.mqtt import setup_listener
from nanoadmin.runtime import Runtime
from nanoadmin.settings import Settings


def create_app(settings: Settings, scenario: Scenario | None = None) -> web.Application:
    """Build the app for ``settings``; raises ConfigError when the auth keys cannot load. With
    the MQTT listener enabled, it starts and stops with the app."""
    # Fault rules name /api/v4 paths, which only the API knows.
    faults = Faults(API_PATTERNS)
    if settings.nanoadmin.faults is not None:
        faults.replace(read_plan(settings.nanoadmin.faults, API_PATTERNS))
    runtime = Runtime(settings, scenario, faults)
    app = web.Application(
        client_max_size=settings.http_server.max_body,
        handler_args={
            "max_field_size": MAX_FIELD_SIZE,
            "max_line_size": MAX_LINE_SIZE,
            "max_headers": MAX_HEADERS,
            "keepalive_timeout": IDLE_TIMEOUT,
            "lingering_time": UNREAD_BODY_TIMEOUT,
        },
    )
    app[RUNTIME_KEY] = runtime
    # --cors and --dist are read at start: a reload keeps the origins and the folder.
    dist = settings.nanoadmin.dist
    setup_cors(app, settings.nanoadmin.cors)
    setup_pipeline(
        app,
        runtime,
        ROUTES,
        PUBLIC_ROUTES,
        control_routes=CONTROL_ROUTES if settings.nanoadmin.control else (),
        files=StaticFiles(dist) if dist is not None else None,
        console=Console() if settings.nanoadmin.console else None,
    )
    setup_listener(app, runtime)
    return app
