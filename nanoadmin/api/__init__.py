"""The URL map: every NanoMQ /api/v4 route and nanoadmin's extensions, on one screen."""

from __future__ import annotations

from nanoadmin.api import (
    bridges,
    clients,
    configuration,
    control,
    info,
    mqtt,
    openapi,
    rules,
    stats,
)
from nanoadmin.http.pipeline import Route

__all__ = ("API_PATTERNS", "CONTROL_ROUTES", "PUBLIC_ROUTES", "ROUTES")

# Below /api/v4: every request authenticates first, as in NanoMQ.
ROUTES: tuple[Route, ...] = (
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

# Outside /api/v4, GET only, no auth (extensions).
PUBLIC_ROUTES: tuple[Route, ...] = (
    ("GET", "/status", info.status),
    ("GET", "/openapi.json", openapi.openapi_json),
)

# What a fault rule's path glob must be able to reach.
API_PATTERNS: tuple[str, ...] = tuple(dict.fromkeys(pattern for _, pattern, _ in ROUTES))

# Below /_nanoadmin/v1, with --control only: the test double's controls, behind the same auth.
CONTROL_ROUTES: tuple[Route, ...] = (
    ("GET", "/", control.index),
    ("GET", "/requests", control.list_requests),
    ("DELETE", "/requests", control.clear_requests),
    ("GET", "/faults", control.get_faults),
    ("PUT", "/faults", control.put_faults),
    ("POST", "/faults", control.add_fault),
    ("DELETE", "/faults", control.clear_faults),
    ("DELETE", "/faults/{index}", control.remove_fault),
    ("GET", "/clock", control.get_clock),
    ("PUT", "/clock", control.put_clock),
    ("GET", "/state", control.get_state),
    ("PUT", "/state", control.put_state),
    ("POST", "/reset", control.reset),
    ("POST", "/clients", control.add_client),
    ("POST", "/clients/{clientid}/connect", control.connect_client),
    ("POST", "/clients/{clientid}/disconnect", control.disconnect_client),
)
