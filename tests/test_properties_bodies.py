"""Fuzzed JSON bodies on every POST/PUT endpoint get an answer the OpenAPI document lists.

Whatever the body, the status is one the document lists for the operation, the body fits it,
and what the write left behind still reads back as documented. Examples are bounded so the file
runs in a few seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanoadmin.settings import load_settings
from tests.support import Client, ClientFactory
from tests.support.openapi import FULL_CONF, Recorder, operations

# Out of `make check`'s quick loop (hypothesis examples on every write endpoint); `make test` runs it.
pytestmark = pytest.mark.slow

# Field names the endpoints read, so that generated objects reach past the first check. Not the
# http_server credentials: changing them would lock this test out of its own server.
FIELDS = [
    "data",
    "topic",
    "topics",
    "payload",
    "clientid",
    "qos",
    "retain",
    "encoding",
    "decoding",
    "properties",
    "user_properties",
    "basic",
    "tls",
    "auth",
    "websocket",
    "sqlite",
    "http_server",
    "port",
    "msq_len",
    "keepalive_backoff",
    "allow_anonymous",
    "rawsql",
    "actions",
    "name",
    "params",
    "table",
    "address",
    "enabled",
    "bridge_switch",
    "subscription",
    "unsubscription",
    "remote_topic",
    "local_topic",
    "emqx",
    "server",
    "proto_ver",
    "forwards",
    "ssl",
]

# Numbers beyond 64 bits too: a bridge holding one once made every later read a 500
# (test_api_bridges_rules.py::test_huge_numbers_in_a_bridge_do_not_break_the_reads).
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["repub", "sqlite", "base64", "a/b", "a/#", "ref-sub-1", "emqx", "rule:1"])
)
json_bodies = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=20,
)

READ_VIEWS = [
    "/api/v4/configuration",
    "/api/v4/reload",
    "/api/v4/bridges",
    "/api/v4/rules",
    "/api/v4/clients",
    "/api/v4/subscriptions",
    "/api/v4/topic-tree",
    "/api/v4/metrics",
    "/api/v4/prometheus",
]
WRITE_OPERATIONS = sorted(
    (method, path)
    for path, method, _ in operations(Recorder().document)
    if method in ("POST", "PUT")
)


def concrete(path: str, name: str) -> str:
    return (
        path.replace("{action}", "bogus")
        .replace("{ruleid}", "rule:1")
        .replace("{section}", name)
        .replace("{name}", "emqx")
    )


@pytest.fixture
async def full_conf_client(make_client: ClientFactory, tmp_path: Path) -> Client:
    conf = tmp_path / "nanomq.conf"
    conf.write_text(FULL_CONF.replace("max_body = 16KB", "max_body = 1MB"))
    return await make_client(load_settings(str(conf), control=True, environ={}))


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.mark.parametrize("operation", WRITE_OPERATIONS, ids=" ".join)
@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=json_bodies,
    section=st.sampled_from(["basic", "tls", "auth", "websocket", "sqlite", "x", "http_server"]),
    view=st.sampled_from(READ_VIEWS),
)
async def test_json_bodies_get_a_documented_answer(
    full_conf_client: Client,
    recorder: Recorder,
    operation: tuple[str, str],
    body: object,
    section: str,
    view: str,
) -> None:
    method, path = operation
    target = concrete(path, section)
    # Validated against the document: a documented status for the operation, a body that fits.
    exchange = await recorder.send(full_conf_client, method, target, json.dumps(body).encode())
    assert exchange.status < 500
    if exchange.status != 204:
        assert isinstance(exchange.json().get("code"), int)
    # What the write left behind still reads back as documented, and the fuzzing never locks
    # itself out (credentials are not among the generated field names).
    assert (await recorder.send(full_conf_client, "GET", view)).status == 200
