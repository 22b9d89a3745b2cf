"""POST /mqtt/publish and publish_batch as NanoMQ answers them, and the sub/unsub extensions."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping

from aiohttp import web

from nanoadmin.auth.basic_auth import lenient_b64decode
from nanoadmin.errors import CLIENT_IS_OFFLINE, REQ_PARAM_ERROR, coded_body
from nanoadmin.http.pipeline import ApiHandler, RouteMatch
from nanoadmin.http.responses import JSON, dumps, json_body, json_response
from nanoadmin.model import (
    HTTP_PUBLISHER_ID,
    ClientNotFound,
    ClientOffline,
    ModelError,
    is_valid_filter,
    is_valid_topic_name,
)
from nanoadmin.runtime import Runtime

PROPERTY_TYPES: dict[str, tuple[type, ...]] = {
    "payload_format_indicator": (int, float),
    "message_expiry_interval": (int, float),
    "response_topic": (str,),
    "correlation_data": (str,),
    "subscription_identifier": (int, float),
    "content_type": (str,),
    "user_properties": (dict,),
}


class Refused(Exception):
    """A message or (un)subscription NanoMQ answers with HTTP 200 and a non-zero code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _topics(body: Mapping[str, object]) -> list[str]:
    """``topic`` wins over ``topics`` (comma-separated, empty parts skipped)."""
    topic, topics = body.get("topic"), body.get("topics")
    if isinstance(topic, str):
        return [topic]
    if isinstance(topics, str):
        return [part for part in topics.split(",") if part]
    raise Refused(REQ_PARAM_ERROR, "topic or topics must be a string")


def _qos(body: Mapping[str, object]) -> int:
    qos = body.get("qos", 0)
    if isinstance(qos, bool) or not isinstance(qos, int | float) or qos not in (0, 1, 2):
        raise Refused(REQ_PARAM_ERROR, f"qos has value {qos!r}. Expected 0, 1 or 2")
    return int(qos)


def _properties(body: Mapping[str, object]) -> dict[str, object] | None:
    properties = body.get("properties")
    if properties is None:
        return None
    if not isinstance(properties, dict):
        raise Refused(REQ_PARAM_ERROR, "properties must be an object")
    for key, kinds in PROPERTY_TYPES.items():
        value = properties.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise Refused(REQ_PARAM_ERROR, f"properties.{key} has the wrong type")
    return properties


def publish_one(runtime: Runtime, body: object) -> None:
    """Publish one message body; Refused carries NanoMQ's code otherwise."""
    if not isinstance(body, dict):
        raise Refused(REQ_PARAM_ERROR, "each message must be a JSON object")
    topics = _topics(body)
    payload_text = body.get("payload")
    if not isinstance(payload_text, str):
        raise Refused(REQ_PARAM_ERROR, "payload must be a string")
    retain = body.get("retain", False)
    if not isinstance(retain, bool):
        raise Refused(REQ_PARAM_ERROR, "retain must be true or false")
    client_id = body.get("clientid", HTTP_PUBLISHER_ID)
    if not isinstance(client_id, str):
        raise Refused(REQ_PARAM_ERROR, "clientid must be a string")
    qos, properties = _qos(body), _properties(body)
    payload = payload_text.encode()
    # NanoMQ's naming, the reverse of EMQX's: "encoding" encodes, "decoding" decodes.
    if body.get("encoding") == "base64":
        payload = base64.b64encode(payload)
    if body.get("decoding") == "base64":
        payload = lenient_b64decode(payload_text)
    # Checked up front so that a list of topics is published whole or not at all.
    for topic in topics:
        if not is_valid_topic_name(topic):
            raise Refused(REQ_PARAM_ERROR, f"{topic!r} is not a valid topic name")
    for topic in topics:
        try:
            runtime.broker.publish(
                topic, payload, qos=qos, retain=retain, client_id=client_id, properties=properties
            )
        except ModelError as exc:
            raise Refused(REQ_PARAM_ERROR, exc.message) from None
        runtime.config.bridges.forward(topic, len(payload))


def _batch_topic(item: object) -> dict[str, object]:
    if isinstance(item, dict):
        for key in ("topics", "topic"):
            if isinstance(item.get(key), str):
                return {"topic": item[key]}
    return {}


def _subscription_change(runtime: Runtime, body: object, *, subscribe: bool) -> None:
    if not isinstance(body, dict):
        raise Refused(REQ_PARAM_ERROR, "each entry must be a JSON object")
    topics = _topics(body)
    client_id = body.get("clientid")
    if not isinstance(client_id, str):
        raise Refused(REQ_PARAM_ERROR, "clientid must be a string")
    qos = _qos(body) if subscribe else 0
    broker = runtime.broker
    for topic in topics:
        if not is_valid_filter(topic):
            raise Refused(REQ_PARAM_ERROR, f"{topic!r} is not a valid topic filter")
    if broker.get_client(client_id) is None:
        raise Refused(CLIENT_IS_OFFLINE, f"no client {client_id!r}")
    try:
        for topic in topics:
            if subscribe:
                broker.subscribe(client_id, topic, qos)
            else:
                broker.unsubscribe(client_id, topic)
    except (ClientNotFound, ClientOffline) as exc:
        raise Refused(CLIENT_IS_OFFLINE, exc.message) from None
    except ModelError as exc:
        raise Refused(REQ_PARAM_ERROR, exc.message) from None


def subscribe_one(runtime: Runtime, body: object) -> None:
    _subscription_change(runtime, body, subscribe=True)


def unsubscribe_one(runtime: Runtime, body: object) -> None:
    _subscription_change(runtime, body, subscribe=False)


Apply = Callable[[Runtime, object], None]
OK_BODY = dumps({"code": 0})


def one_per_request(apply: Apply) -> ApiHandler:
    """An endpoint that applies ``apply`` to the one JSON object posted."""

    async def endpoint(runtime: Runtime, request: web.Request, match: RouteMatch) -> web.Response:
        body = await json_body(request, dict)
        try:
            apply(runtime, body)
        except Refused as refused:
            return json_response(coded_body(refused.code, refused.message))
        return web.Response(body=OK_BODY, content_type=JSON)

    return endpoint


def each_of_a_batch(apply: Apply) -> ApiHandler:
    """An endpoint that applies ``apply`` to each element of the JSON array posted, on its own,
    as NanoMQ's publish_batch: ``{"topic": .., "code": ..}`` for each."""

    async def endpoint(runtime: Runtime, request: web.Request, match: RouteMatch) -> web.Response:
        items = await json_body(request, list)
        results = []
        for item in items:
            try:
                apply(runtime, item)
                code = 0
            except Refused as refused:
                code = refused.code
            results.append({**_batch_topic(item), "code": code})
        return json_response({"data": results, "code": 0})

    return endpoint


publish = one_per_request(publish_one)
publish_batch = each_of_a_batch(publish_one)
subscribe = one_per_request(subscribe_one)
unsubscribe = one_per_request(unsubscribe_one)
subscribe_batch = each_of_a_batch(subscribe_one)
unsubscribe_batch = each_of_a_batch(unsubscribe_one)
