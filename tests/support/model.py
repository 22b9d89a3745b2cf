"""Broker models the model tests start from."""

from __future__ import annotations

from nanoadmin.model import BrokerModel, apply_scenario, reference_scenario


def reference_model() -> BrokerModel:
    model = BrokerModel()
    apply_scenario(model, reference_scenario())
    return model
