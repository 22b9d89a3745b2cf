"""The ``nanoadmin`` pytest fixture: a server per test, chosen by a marker or a parameter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nanoadmin.testing import NanoadminServer, running


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "nanoadmin(conf=None, auth='basic', scenario=None, mock_clients=None, "
        "journal_size=None, control=True): how the nanoadmin fixture's server starts",
    )


@pytest.fixture
def nanoadmin(request: pytest.FixtureRequest) -> Iterator[NanoadminServer]:
    """A nanoadmin server on a free loopback port for this test, its control API on; the
    ``nanoadmin`` marker (or an indirect parameter, a dict) says how it starts."""
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker("nanoadmin")
    if marker is not None:
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if isinstance(param, dict):
        options.update(param)
    with running(**options) as server:
        yield server
