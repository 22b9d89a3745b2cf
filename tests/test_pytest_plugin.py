"""The package's pytest plugin and nanoadmin.testing, run the way a user's suite runs them."""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

import pytest

from nanoadmin.testing import running
from tests.support import PROJECT

# Out of `make check`'s quick loop (each test runs a pytest session in a subprocess); `make test` runs it.
pytestmark = pytest.mark.slow

USER_TESTS = """
import pytest


def test_a_server_with_basic_auth(nanoadmin):
    assert nanoadmin.get("/api/v4/brokers").status == 200
    assert nanoadmin.request("GET", "/api/v4/brokers", authenticated=False).status == 401
    assert nanoadmin.basic == ("admin", "public")
    assert [e["target"] for e in nanoadmin.journal(method="GET")] == [
        "/api/v4/brokers", "/api/v4/brokers"
    ]


@pytest.mark.nanoadmin(mock_clients=50)
def test_a_marker_chooses_the_scenario(nanoadmin):
    assert nanoadmin.get("/api/v4/nodes").body["data"][0]["connections"] == 50


@pytest.mark.parametrize("nanoadmin", [{"scenario": {"clients": [{"client_id": "x"}]}}],
                         indirect=True)
def test_a_parameter_chooses_it_too(nanoadmin):
    assert nanoadmin.get("/api/v4/clients/x").body["data"][0]["client_id"] == "x"


@pytest.mark.nanoadmin(auth="jwt")
def test_jwt_and_the_clock(nanoadmin):
    token = nanoadmin.token()
    bearer = {"Authorization": "Bearer " + token}
    assert nanoadmin.request("GET", "/api/v4/nodes", headers=bearer).status == 200
    nanoadmin.set_clock(7200)
    assert nanoadmin.request("GET", "/api/v4/nodes", headers=bearer).body["code"] == 116
    assert nanoadmin.get("/api/v4/nodes").status == 200


def test_faults_clear_on_leaving_the_block(nanoadmin):
    with nanoadmin.faults({"match": {"path": "/nodes"}, "error": {"status": 503}}) as rules:
        assert nanoadmin.get("/api/v4/nodes").status == 503
        assert rules[0]["fired"] == 0
    assert nanoadmin.get("/api/v4/nodes").status == 200
    assert nanoadmin.fault_view()["rules"] == []


def test_state_and_reset(nanoadmin):
    nanoadmin.add_client("c1", subscriptions=[{"topic": "a/#", "qos": 1}])
    state = nanoadmin.state()
    assert state["clients"][0]["subscriptions"] == [{"topic": "a/#", "qos": 1}]
    nanoadmin.reset()
    assert nanoadmin.state()["clients"] == []
    nanoadmin.put_state(state)
    assert nanoadmin.get("/api/v4/subscriptions/c1").body["data"][0]["topic"] == "a/#"


def test_each_test_gets_its_own_server(nanoadmin):
    assert nanoadmin.journal() == []
    assert nanoadmin.get("/api/v4/nodes").status == 500
"""


def test_the_fixture_runs_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(["*test_each_test_gets_its_own_server*"])
    result.stdout.fnmatch_lines(["*assert 200 == 500*"])


def test_the_context_manager_serves_only_inside_its_block() -> None:
    with running(mock_clients=3) as server:
        assert server.get("/api/v4/nodes").body["data"][0]["connections"] == 3
        address = urlsplit(server.url)
        assert address.hostname == "127.0.0.1"
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((address.hostname, address.port), 1),
    ):
        pass


def test_token_needs_a_jwt_server() -> None:
    with running() as server, pytest.raises(RuntimeError, match="auth='jwt'"):
        server.token()


def test_the_readmes_example_passes(pytester: pytest.Pytester) -> None:
    readme = (PROJECT / "README.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    pytester.makepyfile(test_readme=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
