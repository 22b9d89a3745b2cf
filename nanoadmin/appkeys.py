"""Typed application and request state: every value the app keeps lives under one of these."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from nanoadmin.auth.base import Identity

if TYPE_CHECKING:
    from nanoadmin.http.server import InFlight
    from nanoadmin.mqtt.listener import MqttListener
    from nanoadmin.runtime import Runtime

RUNTIME_KEY: web.AppKey[Runtime] = web.AppKey("runtime")
IN_FLIGHT_KEY: web.AppKey[InFlight] = web.AppKey("in_flight")
MQTT_LISTENER_KEY: web.AppKey[MqttListener] = web.AppKey("mqtt_listener")
IDENTITY_KEY: web.RequestKey[Identity] = web.RequestKey("identity", Identity)
# The request body as a handler read it (read_body), for the request journal.
BODY_KEY: web.RequestKey[bytes] = web.RequestKey("body", bytes)
