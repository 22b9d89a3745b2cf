"""The broker model's side of live connections: sinks, sessions, routing to real subscribers."""

from __future__ import annotations

from dataclasses import dataclass, field

from nanoadmin.model import BrokerModel, Client, Message, Subscription


@dataclass
class RecordingSink:
    delivered: list[tuple[Message, Subscription]] = field(default_factory=list)
    subscribed_to: list[tuple[Subscription, bool]] = field(default_factory=list)
    removals: list[bool] = field(default_factory=list)

    def deliver(self, message: Message, subscription: Subscription) -> None:
        self.delivered.append((message, subscription))

    def subscribed(self, subscription: Subscription, new: bool) -> None:
        self.subscribed_to.append((subscription, new))

    def removed(self, *, restart: bool) -> None:
        self.removals.append(restart)


def live(model: BrokerModel, client_id: str, *filters: tuple[str, int]) -> RecordingSink:
    sink = RecordingSink()
    model.open_session(Client(client_id), sink, resume=False)
    for topic_filter, qos in filters:
        model.subscribe(client_id, topic_filter, qos, notify=False)
    return sink


def test_a_publish_reaches_the_sinks_of_matching_subscriptions_only() -> None:
    model = BrokerModel()
    model.add_client(Client("mock"), [("s/#", 0)])
    wild = live(model, "wild", ("s/+", 1), ("x", 0))
    other = live(model, "other", ("t/#", 2))
    assert model.publish("s/1", b"p", qos=2, client_id="pub") == 2
    assert [
        (m.topic, m.payload, m.qos, m.publisher, s.topic, s.qos) for m, s in wild.delivered
    ] == [("s/1", b"p", 2, "pub", "s/+", 1)]
    assert other.delivered == []


def test_a_share_group_gets_one_copy_and_its_members_take_turns() -> None:
    model = BrokerModel()
    first = live(model, "a", ("$share/g/s/#", 1))
    second = live(model, "b", ("$share/g/s/#", 1))
    plain = live(model, "c", ("s/#", 0))
    for _ in range(4):
        assert model.publish("s/1", b"x") == 2
    assert len(first.delivered) == len(second.delivered) == 2
    assert len(plain.delivered) == 4
    assert first.delivered[0][1].topic == "$share/g/s/#"


def test_a_connected_member_goes_before_an_offline_session() -> None:
    model = BrokerModel()
    offline = live(model, "off", ("$share/g/s", 1))
    model.close_session("off", offline, keep=True)
    online = live(model, "on", ("$share/g/s", 1))
    for _ in range(3):
        model.publish("s", b"x")
    assert (len(online.delivered), len(offline.delivered)) == (3, 0)


def test_kick_and_clear_tell_the_sink() -> None:
    model = BrokerModel()
    kicked = live(model, "k")
    cleared = live(model, "c")
    assert model.kick("k")
    assert kicked.removals == [False]
    assert model.sink("k") is None
    model.clear()
    assert cleared.removals == [True]
    assert len(model) == 0


def test_http_subscribe_tells_the_sink_but_its_own_does_not() -> None:
    model = BrokerModel()
    sink = live(model, "a", ("own", 0))
    assert model.subscribe("a", "http", 1) is True
    assert model.subscribe("a", "http", 2) is False
    assert sink.subscribed_to == [
        (Subscription("a", "http", 1), True),
        (Subscription("a", "http", 2), False),
    ]


def test_sessions_resume_go_offline_and_close() -> None:
    model = BrokerModel()
    sink = RecordingSink()
    assert (
        model.open_session(Client("a", username="u", clean_start=False), sink, resume=True) is False
    )
    model.subscribe("a", "t", 1, notify=False)
    version = model.clients_version
    assert model.close_session("a", sink, keep=True)
    assert model.clients_version != version
    record = model.get_client("a")
    assert record is not None
    assert record.conn_state == "disconnected"
    assert model.stats().connections == 0
    assert model.stats().sessions == 1
    # Messages for the offline session still reach its sink (to queue them).
    model.publish("t", b"queued", qos=1)
    assert [m.payload for m, _ in sink.delivered] == [b"queued"]
    again = RecordingSink()
    assert model.open_session(Client("a", username="v", clean_start=False), again, resume=True)
    assert model.subscriptions("a") == [Subscription("a", "t", 1)]
    assert model.find_clients(username="v")[0].client_id == "a"
    assert model.find_clients(username="u") == []
    # A sink that no longer holds the client changes nothing.
    assert not model.close_session("a", sink, keep=False)
    assert model.close_session("a", again, keep=False)
    assert "a" not in model
    assert model.stats().subscribers == 0


def test_a_fresh_session_replaces_the_old_one_and_its_subscriptions() -> None:
    model = BrokerModel()
    model.add_client(Client("a"), [("t", 0)])
    sink = RecordingSink()
    assert model.open_session(Client("a", proto_ver=5), sink, resume=False) is False
    assert model.subscriptions("a") == []
    assert model.stats().topics == 0
    assert model.stats().connections == 1


def test_retained_bytes_follow_stores_replacements_and_clears() -> None:
    model = BrokerModel()
    model.publish("a", b"12345", retain=True)
    model.publish("b", b"1", retain=True)
    model.publish("a", b"12", retain=True)
    assert (model.retained_count, model.retained_bytes) == (2, 3)
    model.publish("a", b"", retain=True)
    assert (model.retained_count, model.retained_bytes) == (1, 1)
    assert [m.topic for m in model.retained_matching("+")] == ["b"]
