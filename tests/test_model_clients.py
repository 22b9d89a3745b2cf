"""The broker model: clients, sessions, subscriptions, the topic tree and paging."""

from __future__ import annotations

import pytest

from nanoadmin.model import (
    BrokerModel,
    Client,
    ClientNotFound,
    ClientOffline,
    DuplicateClient,
    InvalidQos,
    InvalidTopic,
    ModelError,
    Subscription,
)
from tests.support.model import reference_model

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


def numbered_model(count: int) -> BrokerModel:
    model = BrokerModel()
    for index in range(count):
        model.add_client(Client(f"c{index:03d}", username=f"user{index % 3}"), [(f"t/{index}", 0)])
    return model


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
    with pytest.raises(ValueError, match="must be at least 1"):
        BrokerModel().clients_page(page=page, limit=limit)
    with pytest.raises(ValueError, match="must be at least 1"):
        BrokerModel().subscriptions_page(page=page, limit=limit)
