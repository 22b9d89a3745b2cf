"""MQTT over HTTP: publish, retain and subscribe, and what the counters then show."""

from __future__ import annotations

from nanoadmin.appkeys import RUNTIME_KEY
from tests.support import Client
from tests.support.api import AUTH, post, prometheus


async def test_publish_counts_received_sent_and_dropped(basic_client: Client) -> None:
    before = await prometheus(basic_client)
    # sensors/+/temp (ref-sub-1) and sensors/room1/temp (ref-pubsub-2) both match.
    assert await post(
        basic_client, "/api/v4/mqtt/publish", {"topic": "sensors/room1/temp", "payload": "20"}
    ) == {"code": 0}
    after = await prometheus(basic_client)
    assert after["messages_received"] == before["messages_received"] + 1
    assert after["messages_sent"] == before["messages_sent"] + 2
    await post(basic_client, "/api/v4/mqtt/publish", {"topic": "nobody/listens", "payload": "x"})
    final = await prometheus(basic_client)
    assert final["messages_dropped"] == after["messages_dropped"] + 1
    assert final["messages_sent"] == after["messages_sent"]


async def test_publish_failures_are_200_with_108(basic_client: Client) -> None:
    for body in (
        {"topic": "a/b"},
        {"payload": "x"},
        {"topic": 5, "payload": "x"},
        {"topic": "a/+", "payload": "x"},
        {"topic": "a", "payload": "x", "qos": 3},
        {"topic": "a", "payload": "x", "retain": "yes"},
        {"topic": "a", "payload": "x", "properties": {"user_properties": [1]}},
    ):
        reply = await post(basic_client, "/api/v4/mqtt/publish", body)
        assert reply["code"] == 108, body
        assert reply["message"], body


async def test_retain_stores_and_empty_payload_clears(basic_client: Client) -> None:
    def runtime_retained() -> set[str]:
        return {m.topic for m in basic_client.app[RUNTIME_KEY].broker.retained()}

    await post(
        basic_client, "/api/v4/mqtt/publish", {"topic": "r/1", "payload": "on", "retain": True}
    )
    assert "r/1" in runtime_retained()
    await post(
        basic_client, "/api/v4/mqtt/publish", {"topic": "r/1", "payload": "", "retain": True}
    )
    assert "r/1" not in runtime_retained()


async def test_subscribe_extension_errors(basic_client: Client) -> None:
    assert (
        await post(basic_client, "/api/v4/mqtt/subscribe", {"topic": "a", "clientid": "ghost"})
    )["code"] == 112
    assert (
        await post(
            basic_client, "/api/v4/mqtt/subscribe", {"topic": "a/#/b", "clientid": "ref-sub-1"}
        )
    )["code"] == 108
    await post(basic_client, "/api/v4/mqtt/subscribe", [], status=400)
    batch = await post(
        basic_client,
        "/api/v4/mqtt/subscribe_batch",
        [{"topic": "q/1", "clientid": "ref-sub-1"}, {"topic": "q/2", "clientid": "nobody"}, "junk"],
    )
    assert batch == {
        "data": [{"topic": "q/1", "code": 0}, {"topic": "q/2", "code": 112}, {"code": 108}],
        "code": 0,
    }


async def test_prometheus_is_valid_exposition(basic_client: Client) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    response = await basic_client.get("/api/v4/prometheus", headers=AUTH)
    text = await response.text()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert len(families) == 15
    assert families["nanomq_connections_count"].type == "gauge"
    assert families["nanomq_messages_received"].type == "counter"
    assert families["nanomq_sessions_count"].samples[0].value == 2
