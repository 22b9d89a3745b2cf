"""Hypothesis settings the property tests share: bounded, so that each file runs in seconds."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

FAST = settings(max_examples=100, deadline=None, database=None)
SERVER = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
