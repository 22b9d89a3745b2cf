"""The mock-client generator behind ``--mock-clients N``: deterministic, plausible, seeding a model."""

from __future__ import annotations

import pytest

from nanoadmin.model import (
    BrokerModel,
    Scenario,
    apply_scenario,
    generate_mock_clients,
    is_valid_filter,
)


def test_mock_clients_are_deterministic() -> None:
    first = generate_mock_clients(500, seed=7)
    again = generate_mock_clients(500, seed=7)
    assert first == again
    assert list(first.clients) == list(again.clients)
    assert first.retained == again.retained
    other = generate_mock_clients(500, seed=8)
    assert list(other.clients) != list(first.clients)


def test_mock_clients_random_access_matches_iteration() -> None:
    clients = generate_mock_clients(300, seed=3).clients
    listed = list(clients)
    assert len(clients) == 300
    assert clients[0] == listed[0]
    assert clients[-1] == listed[-1]
    assert list(clients[10:20]) == listed[10:20]
    with pytest.raises(IndexError):
        clients[300]


def test_mock_clients_are_plausible() -> None:
    scenario = generate_mock_clients(2000, seed=1)
    clients = [seed.client for seed in scenario.clients]
    ids = [client.client_id for client in clients]
    assert len(set(ids)) == 2000
    kinds = {client_id.rsplit("-", 1)[0] for client_id in ids}
    assert kinds == {"sensor", "meter", "gateway", "dashboard", "ingest"}
    assert all(client_id[-6:].isdigit() for client_id in ids)
    offline = [client for client in clients if client.conn_state == "disconnected"]
    assert 0.03 < len(offline) / len(clients) < 0.07
    assert not any(client.clean_start for client in offline)
    assert {client.proto_ver for client in clients} == {3, 4, 5}
    assert all(1 <= len(seed.subscriptions) <= 3 for seed in scenario.clients)
    assert all(
        is_valid_filter(topic) and qos in (0, 1, 2)
        for seed in scenario.clients
        for topic, qos in seed.subscriptions
    )
    assert all(
        (f"cmd/{seed.client.client_id}", 1) in seed.subscriptions
        for seed in scenario.clients
        if seed.client.client_id.startswith("sensor-")
    )
    assert all(client.will_topic for client in clients if client.client_id.startswith("gateway-"))
    assert len(scenario.retained) == 10


def test_mock_clients_seed_a_model() -> None:
    model = BrokerModel()
    apply_scenario(model, generate_mock_clients(1000))
    stats = model.stats()
    assert stats.sessions == 1000
    assert stats.subscribers == 1000
    assert 900 < stats.connections < 990
    assert model.publish("alerts/fire", b"!") > 0
    assert model.publish("site/1/dev-1/s1/temp", b"20") > 0


def test_zero_mock_clients() -> None:
    assert generate_mock_clients(0) == Scenario()
    with pytest.raises(ValueError, match="cannot generate -1 clients"):
        generate_mock_clients(-1)
