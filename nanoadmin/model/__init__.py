"""The broker model: what the admin API reports, with no HTTP in it."""

from __future__ import annotations

from nanoadmin.model.broker import (
    HTTP_PUBLISHER_ID,
    BrokerModel,
    BrokerStats,
    Client,
    ClientNotFound,
    ClientOffline,
    ClientSink,
    ConnState,
    DuplicateClient,
    InvalidQos,
    InvalidTopic,
    Message,
    ModelError,
    Page,
    RetainedMessage,
    Subscription,
)
from nanoadmin.model.mock import generate_mock_clients
from nanoadmin.model.scenario import (
    ClientSeed,
    Scenario,
    ScenarioError,
    apply_scenario,
    demo_scenario,
    load_scenario,
    parse_scenario,
    reference_scenario,
)
from nanoadmin.model.topics import (
    filter_matches,
    is_valid_filter,
    is_valid_topic_name,
    split_shared,
)

__all__ = (
    "HTTP_PUBLISHER_ID",
    "BrokerModel",
    "BrokerStats",
    "Client",
    "ClientNotFound",
    "ClientOffline",
    "ClientSeed",
    "ClientSink",
    "ConnState",
    "DuplicateClient",
    "InvalidQos",
    "InvalidTopic",
    "Message",
    "ModelError",
    "Page",
    "RetainedMessage",
    "Scenario",
    "ScenarioError",
    "Subscription",
    "apply_scenario",
    "demo_scenario",
    "filter_matches",
    "generate_mock_clients",
    "is_valid_filter",
    "is_valid_topic_name",
    "load_scenario",
    "parse_scenario",
    "reference_scenario",
    "split_shared",
)
