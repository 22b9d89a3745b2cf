"""An optional MQTT listener whose real clients share the broker model with the mock ones.

Importing this package is cheap (the settings read its limits): the listener itself is imported
only when it is enabled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from nanoadmin.runtime import Runtime

__all__ = ("setup_listener",)


def setup_listener(app: web.Application, runtime: Runtime) -> None:
    """Serve MQTT beside ``app`` when the settings enable it (``nanoadmin.mqtt.enable`` or
    ``--mqtt``); the listener starts and stops with the app."""
    settings = runtime.settings.mqtt
    if not settings.enable:
        return
    from nanoadmin.appkeys import MQTT_LISTENER_KEY
    from nanoadmin.mqtt.listener import MqttListener

    listener = MqttListener(runtime, settings)
    app[MQTT_LISTENER_KEY] = listener

    async def serve_mqtt(app: web.Application) -> AsyncIterator[None]:
        await listener.start()
        yield
        await listener.stop()

    app.cleanup_ctx.append(serve_mqtt)
