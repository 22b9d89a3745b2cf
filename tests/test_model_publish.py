"""The broker model's counters: stats, publish deliveries, retained messages."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanoadmin.model import (
    BrokerModel,
    Client,
    InvalidQos,
    InvalidTopic,
    ModelError,
    RetainedMessage,
    filter_matches,
    split_shared,
)
from tests.support.model import reference_model

# -- stats ---------------------------------------------------------------------------------------


def test_reference_stats_match_nanomq_prometheus() -> None:
    stats = reference_model().stats()
    # nanomq_*_count and *_max in exchange seq 28.
    assert (stats.connections, stats.sessions, stats.topics, stats.subscribers) == (2, 2, 4, 2)
    assert (stats.connections_max, stats.sessions_max) == (2, 2)
    assert (stats.topics_max, stats.subscribers_max) == (4, 2)


def test_stats_count_sessions_topics_and_subscribers() -> None:
    model = BrokerModel()
    model.add_client(Client("a"), [("x", 0), ("$share/g/x", 0)])
    model.add_client(Client("b", conn_state="disconnected", clean_start=False), [("x", 1)])
    model.add_client(Client("c"))
    stats = model.stats()
    assert (stats.connections, stats.sessions, stats.subscribers) == (2, 3, 2)
    # One node carries x and $share/g/x: one topic.
    assert stats.topics == 1


def test_high_water_marks_stay_after_kick() -> None:
    model = reference_model()
    model.add_client(Client("extra"), [("only/here", 0)])
    before = model.stats()
    assert (before.connections, before.topics, before.subscribers) == (3, 5, 3)
    for client_id in ("extra", "ref-sub-1", "ref-pubsub-2"):
        model.kick(client_id)
    after = model.stats()
    assert (after.connections, after.sessions, after.topics, after.subscribers) == (0, 0, 0, 0)
    assert (after.connections_max, after.sessions_max) == (3, 3)
    assert (after.topics_max, after.subscribers_max) == (5, 3)


def test_clear_starts_afresh() -> None:
    model = reference_model()
    model.publish("alerts/x", b"1")
    model.clear()
    assert len(model) == 0
    assert model.stats() == BrokerModel().stats()
    assert model.retained() == []


# -- publish -------------------------------------------------------------------------------------


def test_publish_counts_one_delivery_per_matching_subscription() -> None:
    model = reference_model()
    # ref-sub-1 on sensors/+/temp and ref-pubsub-2 on sensors/room1/temp.
    assert model.publish("sensors/room1/temp", b"22") == 2
    assert model.publish("sensors/room2/temp", b"19") == 1
    assert model.publish("alerts/fire", b"!") == 1
    assert model.publish("alerts", b"!") == 1
    assert model.publish("cmd/ref-pubsub-2", b"go") == 1
    assert model.publish("nobody/listens", b"x") == 0
    assert model.publish("$SYS/alerts", b"x") == 0
    stats = model.stats()
    assert stats.messages_received == 7
    assert stats.messages_sent == 6
    assert stats.messages_dropped == 2


def test_publish_overlapping_filters_of_one_client_each_count() -> None:
    model = BrokerModel()
    model.add_client(Client("a"), [("a/+", 0), ("a/#", 0), ("#", 0), ("+/b", 0)])
    assert model.publish("a/b", b"x") == 4


def test_shared_subscription_is_delivered_once_per_group() -> None:
    model = BrokerModel()
    for member in ("w1", "w2", "w3"):
        model.add_client(Client(member), [("$share/workers/jobs/+", 1)])
    model.add_client(Client("other-group"), [("$share/audit/jobs/+", 0)])
    model.add_client(Client("plain"), [("jobs/+", 0)])
    assert model.publish("jobs/1", b"x") == 3
    model.kick("w1")
    model.kick("w2")
    assert model.publish("jobs/2", b"x") == 3
    model.kick("w3")
    assert model.publish("jobs/3", b"x") == 2
    assert model.stats().messages_sent == 8


def test_publish_to_offline_session_counts() -> None:
    model = BrokerModel()
    model.add_client(Client("off", conn_state="disconnected", clean_start=False), [("q", 1)])
    assert model.publish("q", b"queued") == 1


def test_publish_rejects_invalid_topic_and_qos_without_counting() -> None:
    model = BrokerModel()
    with pytest.raises(InvalidTopic):
        model.publish("a/+", b"x")
    with pytest.raises(InvalidTopic):
        model.publish("", b"x")
    with pytest.raises(InvalidQos):
        model.publish("a", b"x", qos=3)
    assert model.stats().messages_received == 0


def test_retain_stores_replaces_and_clears() -> None:
    model = BrokerModel()
    model.publish("a", b"1", retain=True, qos=1)
    model.publish("b", b"2", retain=True)
    model.publish("c", b"3")
    model.publish("a", b"4", retain=True)
    assert model.retained() == [RetainedMessage("a", b"4", 0), RetainedMessage("b", b"2", 0)]
    model.publish("a", b"", retain=True)
    assert model.retained() == [RetainedMessage("b", b"2", 0)]
    assert model.stats().messages_received == 5


def test_reference_retained_messages_are_not_counted_as_published() -> None:
    model = reference_model()
    assert model.retained() == [
        RetainedMessage("sensors/room1/temp", b"21.5", 1),
        RetainedMessage("status/ref-pubsub-2", b"online", 0),
    ]
    assert model.stats().messages_received == 0


# The publish count is memoised per topic; any change of subscriptions must show at once.
CLIENT_IDS = ("a", "b", "c")
FILTERS = ("s/+", "s/#", "#", "s/1", "+/1", "x", "$share/g/s/+", "$share/g/s/#", "$share/h/+/1")
TOPICS = ("s/1", "s/2", "s", "x", "$SYS/1")
OPERATIONS = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(CLIENT_IDS), st.sets(st.sampled_from(FILTERS))),
    st.tuples(st.just("kick"), st.sampled_from(CLIENT_IDS)),
    st.tuples(st.just("sub"), st.sampled_from(CLIENT_IDS), st.sampled_from(FILTERS)),
    st.tuples(st.just("unsub"), st.sampled_from(CLIENT_IDS), st.sampled_from(FILTERS)),
    st.tuples(st.just("pub"), st.sampled_from(TOPICS)),
)


def expected_deliveries(model: BrokerModel, topic: str) -> int:
    """One per matching plain subscription, one per (share group, filter) with a match."""
    plain = 0
    groups: set[tuple[str, str]] = set()
    for subscription in model.subscriptions():
        if filter_matches(subscription.topic, topic):
            group, real_filter = split_shared(subscription.topic)
            if group is None:
                plain += 1
            else:
                groups.add((group, real_filter))
    return plain + len(groups)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(OPERATIONS, max_size=40))
def test_publish_counts_follow_every_subscription_change(
    operations: list[tuple[Any, ...]],
) -> None:
    model = BrokerModel()
    for operation in operations:
        kind, *args = operation
        try:
            if kind == "add":
                model.add_client(Client(args[0]), [(f, 0) for f in sorted(args[1])])
            elif kind == "kick":
                model.kick(args[0])
            elif kind == "sub":
                model.subscribe(args[0], args[1], 1)
            elif kind == "unsub":
                model.unsubscribe(args[0], args[1])
        except ModelError:
            pass
        if kind == "pub":
            assert model.publish(args[0], b"x") == expected_deliveries(model, args[0])
    for topic in TOPICS:
        assert model.publish(topic, b"x") == expected_deliveries(model, topic)
