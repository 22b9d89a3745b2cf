"""An optional MQTT listener whose real clients share the broker model with the mock ones.

Importing this package is cheap: the listener itself is imported only when it is enabled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from nanoadmin.mqtt.config import mqtt_enabled, read_mqtt_settings

if TYPE_CHECKING:
    from nanoadmin.mqtt.listener import MqttListener
    from nanoadmin.runtime import Runtime

MQTT_LISTENER_KEY: web.AppKey[MqttListener] = web.AppKey("mqtt_listener")

__all__ = ("MQTT_LISTENER_KEY", "setup_listener")


def setup_listener(app: web.Application, runtime: Runtime, bind: str | None = None) -> None:
    """Serve MQTT beside ``app`` when ``bind`` (``--mqtt [HOST:]PORT``) is given or the config
    enables it; the listener starts and stops with the app. ConfigError for a bad setting."""
    settings = runtime.settings
    if bind is None and not mqtt_enabled(settings.tree, settings.path):
        return
    mqtt = read_mqtt_settings(settings.tree, settings.path, bind)
    from nanoadmin.mqtt.listener import MqttListener

    listener = MqttListener(runtime, mqtt)
    app[MQTT_LISTENER_KEY] = listener

    async def serve_mqtt(app: web.Application) -> AsyncIterator[None]:
        await listener.start()
        yield
        await listener.stop()

    app.cleanup_ctx.append(serve_mqtt)
