"""The model's state as a scenario tree: what GET /_nanoadmin/v1/state exports."""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nanoadmin.runtime import Runtime


def _payload(data: bytes) -> tuple[str, str]:
    try:
        return "payload", data.decode("utf-8")
    except UnicodeDecodeError:
        return "payload_base64", binascii.b2a_base64(data, newline=False).decode("ascii")


def export_state(runtime: Runtime) -> dict[str, object]:
    """Clients (sessions, subscriptions in order), retained messages, bridges and rules, in
    the scenario format: fed back through --scenario or PUT /state, the same /api/v4 answers.
    Secrets are masked; a masked one fed back keeps the value the server holds."""
    broker = runtime.broker
    clients: list[dict[str, object]] = []
    for client in broker.clients():
        entry: dict[str, object] = {
            "client_id": client.client_id,
            "username": client.username,
            "keepalive": client.keepalive,
            "proto_ver": client.proto_ver,
            "clean_start": client.clean_start,
            "conn_state": client.conn_state,
        }
        if client.will_topic is not None:
            entry["will_topic"] = client.will_topic
            if client.will_msg is not None:
                entry["will_msg"] = client.will_msg
        subscriptions = broker.subscriptions(client.client_id)
        if subscriptions:
            entry["subscriptions"] = [{"topic": s.topic, "qos": s.qos} for s in subscriptions]
        clients.append(entry)
    retained: list[dict[str, object]] = []
    for message in broker.retained():
        key, payload = _payload(message.payload)
        retained.append({"topic": message.topic, key: payload, "qos": message.qos})
    tree: dict[str, object] = {
        "clients": clients,
        "retained": retained,
        "bridges": runtime.config.bridges.scenario_entries(),
    }
    if runtime.loaded.rules is not None:
        tree["rules"] = runtime.loaded.rules.seeds()
    return tree
