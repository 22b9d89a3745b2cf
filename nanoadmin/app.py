"""The one app factory, used by the CLI, the tests and the benchmarks."""

from __future__ import annotations

from aiohttp import web

from nanoadmin.api import setup_routes
from nanoadmin.keys import RUNTIME_KEY
from nanoadmin.middlewares import admission
from nanoadmin.model.scenario import Scenario
from nanoadmin.mqtt import setup_listener
from nanoadmin.runtime import Runtime
from nanoadmin.settings import Settings

# Large enough that a 100 KB Authorization header reaches auth and gets a JSON 401.
MAX_FIELD_SIZE = 128 * 1024


def create_app(
    settings: Settings, scenario: Scenario | None = None, mqtt: str | None = None
) -> web.Application:
    """Build the app for ``settings``; raises ConfigError when the auth keys cannot load.

    ``mqtt`` (``--mqtt [HOST:]PORT``) or the config's ``nanoadmin.mqtt.enable`` adds the MQTT
    listener, started and stopped with the app."""
    runtime = Runtime(settings, scenario)
    app = web.Application(
        client_max_size=settings.http_server.max_body,
        handler_args={"max_field_size": MAX_FIELD_SIZE, "max_line_size": MAX_FIELD_SIZE},
    )
    app[RUNTIME_KEY] = runtime
    setup_routes(app, admission(runtime))
    setup_listener(app, runtime, mqtt)
    return app
