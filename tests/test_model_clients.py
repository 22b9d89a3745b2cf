"""The broker model: topic matching, sessions, subscriptions, topic tree, counters and paging."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanoadmin.model import (
    BrokerModel,
    Client,
    ClientNotFound,
    ClientOffline,
    DuplicateClient,
    InvalidQos,
    InvalidTopic,
    ModelError,
    RetainedMessage,
    Subscription,
    apply_scenario,
    filter_matches,
    is_valid_filter,
    is_valid_topic_name,
    reference_scenario,
    split_shared,
)

# GET /api/v4/topic-tree from NanoMQ 0.25.6 with the reference clients (exchange seq 26).
REFERENCE_TOPIC_TREE: list[list[dict[str, object]]] = [
    [{"topic": "", "cld_cnt": 3}],
    [
        {"topic": "alerts", "cld_cnt": 1},
        {"topic": "cmd", "cld_cnt": 1},
        {"topic": "sensors", "cld_cnt": 2},
    ],
    [
        {"topic": "#", "cld_cnt": 0, "clientid": ["ref-sub-1"]},
        {"topic": "ref-pubsub-2", "cld_cnt": 0, "clientid": ["ref-pubsub-2"]},
        {"topic": "+", "cld_cnt": 1},
        {"topic": "room1", "cld_cnt": 1},
    ],
    [
        {"topic": "temp", "cld_cnt": 0, "clientid": ["ref-sub-1"]},
        {"topic": "temp", "cld_cnt": 0, "clientid": ["ref-pubsub-2"]},
    ],
]

# GET /api/v4/clients (seq 6) and /subscriptions (seq 22) from the same broker.
REFERENCE_CLIENTS: list[dict[str, object]] = [
    {
        "client_id": "ref-sub-1",
        "username": "alice",
        "keepalive": 60,
        "conn_state": "connected",
        "clean_start": True,
        "proto_name": "MQTT",
        "proto_ver": 4,
    },
    {
        "client_id": "ref-pubsub-2",
        "username": "bob",
        "keepalive": 120,
        "conn_state": "connected",
        "clean_start": True,
        "proto_name": "MQTT",
        "proto_ver": 5,
    },
]
REFERENCE_SUBSCRIPTIONS: list[dict[str, object]] = [
    {"clientid": "ref-sub-1", "topic": "sensors/+/temp", "qos": 1},
    {"clientid": "ref-sub-1", "topic": "alerts/#", "qos": 0},
    {"clientid": "ref-pubsub-2", "topic": "cmd/ref-pubsub-2", "qos": 2},
    {"clientid": "ref-pubsub-2", "topic": "sensors/room1/temp", "qos": 0},
]


def reference_model() -> BrokerModel:
    model = BrokerModel()
    apply_scenario(model, reference_scenario())
    return model


def numbered_model(count: int) -> BrokerModel:
    model = BrokerModel()
    for index in range(count):
        model.add_client(Client(f"c{index:03d}", username=f"user{index % 3}"), [(f"t/{index}", 0)])
    return model


# -- topics --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("a/b", "a/b/c", False),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+", "a", False),
        ("a/+", "a/", True),
        ("+/+", "/x", True),
        ("+", "a", True),
        ("+", "/a", False),
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/#", "a", True),
        ("a/#", "a/b", True),
        ("a/#", "a/b/c", True),
        ("a/#", "ab", False),
        ("a/#", "b/a", False),
        ("#", "a/b/c", True),
        ("#", "/", True),
        ("+/#", "a", True),
        ("sensors/+/temp", "sensors/room1/temp", True),
        ("sensors/+/temp", "sensors/room1/humidity", False),
        ("#", "$SYS/broker", False),
        ("+/broker", "$SYS/broker", False),
        ("$SYS/#", "$SYS/broker", True),
        ("$SYS/+", "$SYS/broker", True),
        ("$SYS/#", "$SYS", True),
        ("a/$b", "a/$b", True),
        ("+/$b", "a/$b", True),
        ("$share/g/a/+", "a/b", True),
        ("$share/g/#", "a/b", True),
        ("$share/g/a/+", "b/b", False),
        ("$share/g/#", "$SYS/x", False),
        ("A/b", "a/b", False),
    ],
)
def test_filter_matches(topic_filter: str, topic: str, matches: bool) -> None:
    assert filter_matches(topic_filter, topic) is matches


def test_split_shared() -> None:
    assert split_shared("$share/group/a/b/#") == ("group", "a/b/#")
    assert split_shared("a/b") == (None, "a/b")
    assert split_shared("$SYS/#") == (None, "$SYS/#")
    assert split_shared("$share") == (None, "$share")


@pytest.mark.parametrize(
    ("topic_filter", "valid"),
    [
        ("a", True),
        ("a/b/c", True),
        ("/", True),
        ("a//b", True),
        ("#", True),
        ("+", True),
        ("a/#", True),
        ("a/+/c", True),
        ("+/+/#", True),
        ("$SYS/#", True),
        ("$share", True),
        ("$share/g/a/#", True),
        ("$share/g/+", True),
        ("", False),
        ("a/#/b", False),
        ("a#", False),
        ("a/b#", False),
        ("a+/b", False),
        ("a/+b", False),
        ("##", False),
        ("a\0b", False),
        ("$share/", False),
        ("$share/g", False),
        ("$share/g/", False),
        ("$share//a", False),
        ("$share/g+/a", False),
        ("$share/#/a", False),
        ("$share/g/a/#/b", False),
        ("x" * 70000, False),
    ],
)
def test_is_valid_filter(topic_filter: str, valid: bool) -> None:
    assert is_valid_filter(topic_filter) is valid


@pytest.mark.parametrize(
    ("topic", "valid"),
    [
        ("a", True),
        ("a/b", True),
        ("/", True),
        ("$SYS/x", True),
        ("é/ü", True),
        ("", False),
        ("a/+", False),
        ("a/#", False),
        ("a+b", False),
        ("a\0", False),
    ],
)
def test_is_valid_topic_name(topic: str, valid: bool) -> None:
    assert is_valid_topic_name(topic) is valid


# -- clients -------------------------------------------------------------------------------------


def test_reference_clients_and_subscriptions_render_as_nanomq() -> None:
    model = reference_model()
    assert [client.as_json() for client in model.clients()] == REFERENCE_CLIENTS
    assert [sub.as_json() for sub in model.subscriptions()] == REFERENCE_SUBSCRIPTIONS
    assert [sub.as_json() for sub in model.subscriptions("ref-sub-1")] == (
        REFERENCE_SUBSCRIPTIONS[:2]
    )
    assert model.subscriptions("no-such-client") == []


def test_client_json_key_order_and_will() -> None:
    plain = Client("c", proto_ver=3)
    assert list(plain.as_json()) == [
        "client_id",
        "username",
        "keepalive",
        "conn_state",
        "clean_start",
        "proto_name",
        "proto_ver",
    ]
    assert plain.proto_name == "MQIsdp"
    assert Client("c", proto_ver=5).proto_name == "MQTT"
    with_will = Client("w", will_topic="status/w", will_msg="gone").as_json()
    assert list(with_will)[-2:] == ["will_topic", "will_msg"]
    assert (with_will["will_topic"], with_will["will_msg"]) == ("status/w", "gone")


def test_add_get_kick() -> None:
    model = BrokerModel()
    model.add_client(Client("a", username="u"), [("x/y", 1)])
    model.add_client(Client("b", conn_state="disconnected", clean_start=False), [("x/#", 0)])
    assert len(model) == 2
    assert "a" in model
    assert model.get_client("a") == Client("a", username="u")
    assert model.get_client("zzz") is None
    with pytest.raises(DuplicateClient):
        model.add_client(Client("a"))
    assert model.kick("a") is True
    assert model.kick("a") is False
    assert model.get_client("a") is None
    assert [c.client_id for c in model.clients()] == ["b"]
    assert model.subscriptions("a") == []
    assert model.subscriptions() == [Subscription("b", "x/#", 0)]
    assert model.find_clients(username="u") == []


def test_add_client_is_all_or_nothing() -> None:
    model = BrokerModel()
    with pytest.raises(InvalidTopic):
        model.add_client(Client("a"), [("ok", 0), ("bad/#/x", 0)])
    with pytest.raises(InvalidQos):
        model.add_client(Client("a"), [("ok", 3)])
    assert len(model) == 0
    assert model.stats().topics == 0


def test_add_client_with_a_filter_twice_keeps_the_first_place_and_the_last_qos() -> None:
    model = BrokerModel()
    model.add_client(Client("a"), [("x", 0), ("y", 1), ("x", 2)])
    assert model.subscriptions("a") == [Subscription("a", "x", 2), Subscription("a", "y", 1)]
    assert model.stats().topics == 2


def test_find_clients_filters_combine() -> None:
    model = BrokerModel()
    model.add_client(Client("a", username="alice", proto_ver=3))
    model.add_client(Client("b", username="bob", proto_ver=5, clean_start=False))
    model.add_client(Client("c", username="alice", proto_ver=5, conn_state="disconnected"))
    model.add_client(Client("d", username="alice", proto_ver=4))

    def ids(clients: list[Client]) -> list[str]:
        return [client.client_id for client in clients]

    assert ids(model.find_clients()) == ["a", "b", "c", "d"]
    assert ids(model.find_clients(client_id="c")) == ["c"]
    assert ids(model.find_clients(client_id="nope")) == []
    assert ids(model.find_clients(username="alice")) == ["a", "c", "d"]
    assert ids(model.find_clients(username="alice", client_id="b")) == []
    assert ids(model.find_clients(username="bob", client_id="b")) == ["b"]
    assert ids(model.find_clients(conn_state="disconnected")) == ["c"]
    assert ids(model.find_clients(clean_start=False)) == ["b"]
    assert ids(model.find_clients(proto_name="MQIsdp")) == ["a"]
    assert ids(model.find_clients(proto_name="MQTT", proto_ver=5)) == ["b", "c"]
    assert ids(model.find_clients(username="alice", proto_ver=5)) == ["c"]
    assert ids(model.find_clients(username="alice", conn_state="connected", proto_ver=4)) == ["d"]
    assert ids(model.find_clients(proto_name="mqtt")) == []


def test_username_index_follows_kicks_and_re_adds() -> None:
    model = BrokerModel()
    for client_id in ("a", "b", "c"):
        model.add_client(Client(client_id, username="same"))
    model.kick("a")
    model.add_client(Client("a", username="same"))
    assert [c.client_id for c in model.find_clients(username="same")] == ["b", "c", "a"]
    assert [c.client_id for c in model.clients()] == ["b", "c", "a"]


def test_listings_are_not_changed_by_later_mutation() -> None:
    model = reference_model()
    clients = model.clients()
    subscriptions = model.subscriptions()
    own = model.subscriptions("ref-sub-1")
    tree = model.topic_tree()
    model.subscribe("ref-sub-1", "new/topic", 1)
    model.kick("ref-pubsub-2")
    clients.clear()
    assert len(model) == 1
    assert len(subscriptions) == 4
    assert len(own) == 2
    assert tree == REFERENCE_TOPIC_TREE


# -- subscriptions -------------------------------------------------------------------------------


def test_subscribe_errors() -> None:
    model = BrokerModel()
    model.add_client(Client("on"))
    model.add_client(Client("off", conn_state="disconnected", clean_start=False))
    with pytest.raises(ClientNotFound):
        model.subscribe("nobody", "a", 0)
    with pytest.raises(ClientOffline):
        model.subscribe("off", "a", 0)
    with pytest.raises(InvalidTopic):
        model.subscribe("on", "a/#/b", 0)
    with pytest.raises(InvalidTopic):
        model.subscribe("on", "", 0)
    for qos in (-1, 3, True):
        with pytest.raises(InvalidQos):
            model.subscribe("on", "a", qos)
    with pytest.raises(ClientNotFound):
        model.unsubscribe("nobody", "a")
    with pytest.raises(ClientOffline):
        model.unsubscribe("off", "a")
    assert model.subscriptions() == []


def test_errors_are_model_errors_with_one_line_messages() -> None:
    model = BrokerModel()
    with pytest.raises(ModelError) as caught:
        model.subscribe("who\nis", "a", 0)
    assert isinstance(caught.value, ClientNotFound)
    assert "\n" not in caught.value.message
    assert caught.value.message == "client 'who\\nis' not found"


def test_resubscribe_updates_qos_in_place() -> None:
    model = BrokerModel()
    model.add_client(Client("a"))
    model.subscribe("a", "x", 0)
    model.subscribe("a", "y", 0)
    model.subscribe("a", "x", 2)
    assert model.subscriptions("a") == [Subscription("a", "x", 2), Subscription("a", "y", 0)]
    assert model.stats().topics == 2


def test_unsubscribe() -> None:
    model = reference_model()
    assert model.unsubscribe("ref-sub-1", "alerts/#") is True
    assert model.unsubscribe("ref-sub-1", "alerts/#") is False
    assert model.unsubscribe("ref-sub-1", "never/subscribed") is False
    assert [s.topic for s in model.subscriptions("ref-sub-1")] == ["sensors/+/temp"]
    assert model.unsubscribe("ref-sub-1", "sensors/+/temp") is True
    assert model.subscriptions("ref-sub-1") == []
    assert model.stats().subscribers == 1
    # The client stays; only its subscriptions went.
    assert model.get_client("ref-sub-1") is not None


def test_subscriptions_keep_client_order_not_subscription_order() -> None:
    model = BrokerModel()
    model.add_client(Client("first"))
    model.add_client(Client("second"), [("b", 0)])
    model.subscribe("first", "a", 1)
    assert [s.client_id for s in model.subscriptions()] == ["first", "second"]


# -- topic tree ----------------------------------------------------------------------------------


def test_topic_tree_matches_nanomq_for_the_reference_clients() -> None:
    assert reference_model().topic_tree() == REFERENCE_TOPIC_TREE


def test_topic_tree_of_an_empty_model() -> None:
    assert BrokerModel().topic_tree() == [[{"topic": "", "cld_cnt": 0}]]


def test_topic_tree_children_are_in_byte_order_and_ids_in_arrival_order() -> None:
    model = BrokerModel()
    model.add_client(Client("z"), [("b/x", 0), ("a", 0)])
    model.add_client(Client("y"), [("B", 0), ("b/x", 1), ("$share/g/a", 0)])
    assert model.topic_tree() == [
        [{"topic": "", "cld_cnt": 3}],
        [
            {"topic": "B", "cld_cnt": 0, "clientid": ["y"]},
            {"topic": "a", "cld_cnt": 0, "clientid": ["z", "y"]},
            {"topic": "b", "cld_cnt": 1},
        ],
        [{"topic": "x", "cld_cnt": 0, "clientid": ["z", "y"]}],
    ]


def test_topic_tree_prunes_on_unsubscribe_and_kick() -> None:
    model = reference_model()
    model.unsubscribe("ref-pubsub-2", "cmd/ref-pubsub-2")
    model.kick("ref-sub-1")
    assert model.topic_tree() == [
        [{"topic": "", "cld_cnt": 1}],
        [{"topic": "sensors", "cld_cnt": 1}],
        [{"topic": "room1", "cld_cnt": 1}],
        [{"topic": "temp", "cld_cnt": 0, "clientid": ["ref-pubsub-2"]}],
    ]
    model.kick("ref-pubsub-2")
    assert model.topic_tree() == [[{"topic": "", "cld_cnt": 0}]]


def test_intermediate_node_keeps_subscribers_and_children() -> None:
    model = BrokerModel()
    model.add_client(Client("a"), [("x", 0), ("x/y", 0)])
    model.unsubscribe("a", "x/y")
    assert model.topic_tree() == [
        [{"topic": "", "cld_cnt": 1}],
        [{"topic": "x", "cld_cnt": 0, "clientid": ["a"]}],
    ]


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


# -- paging --------------------------------------------------------------------------------------


def test_clients_page_boundaries() -> None:
    model = numbered_model(25)
    first = model.clients_page(page=1, limit=10)
    assert [c.client_id for c in first.items] == [f"c{i:03d}" for i in range(10)]
    assert (first.count, first.hasnext) == (25, True)
    last = model.clients_page(page=3, limit=10)
    assert [c.client_id for c in last.items] == [f"c{i:03d}" for i in range(20, 25)]
    assert last.hasnext is False
    beyond = model.clients_page(page=4, limit=10)
    assert (beyond.items, beyond.count, beyond.hasnext) == ((), 25, False)
    exact = model.clients_page(page=5, limit=5)
    assert (len(exact.items), exact.hasnext) == (5, False)
    whole = model.clients_page(page=1, limit=1000)
    assert [c.client_id for c in whole.items] == [c.client_id for c in model.clients()]


def test_clients_page_with_filters_counts_the_matches() -> None:
    model = numbered_model(25)
    page = model.clients_page(page=2, limit=3, username="user1")
    assert [c.client_id for c in page.items] == ["c010", "c013", "c016"]
    assert (page.count, page.hasnext) == (8, True)
    single = model.clients_page(page=1, limit=10, client_id="c007")
    assert ([c.client_id for c in single.items], single.count) == (["c007"], 1)


def test_clients_page_after_kicks() -> None:
    model = numbered_model(10)
    for index in (0, 3, 4):
        model.kick(f"c{index:03d}")
    page = model.clients_page(page=2, limit=3)
    assert [c.client_id for c in page.items] == ["c006", "c007", "c008"]
    assert page.count == 7


def test_subscriptions_page() -> None:
    model = BrokerModel()
    model.add_client(Client("a"), [("a/1", 0), ("a/2", 0), ("a/3", 0)])
    model.add_client(Client("empty"))
    model.add_client(Client("b"), [("b/1", 1), ("b/2", 2)])
    second = model.subscriptions_page(page=2, limit=2)
    assert [(s.client_id, s.topic) for s in second.items] == [("a", "a/3"), ("b", "b/1")]
    assert (second.count, second.hasnext) == (5, True)
    third = model.subscriptions_page(page=3, limit=2)
    assert ([s.topic for s in third.items], third.hasnext) == (["b/2"], False)
    assert model.subscriptions_page(page=9, limit=2).items == ()
    own = model.subscriptions_page(page=1, limit=2, client_id="a")
    assert ([s.topic for s in own.items], own.count, own.hasnext) == (["a/1", "a/2"], 3, True)
    none = model.subscriptions_page(page=1, limit=2, client_id="nobody")
    assert (none.items, none.count) == ((), 0)
    model.unsubscribe("a", "a/2")
    assert model.subscriptions_page(page=1, limit=10).count == 4


@pytest.mark.parametrize(("page", "limit"), [(0, 10), (1, 0), (-1, 5)])
def test_page_rejects_non_positive_numbers(page: int, limit: int) -> None:
    with pytest.raises(ValueError):
        BrokerModel().clients_page(page=page, limit=limit)
    with pytest.raises(ValueError):
        BrokerModel().subscriptions_page(page=page, limit=limit)


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
