"""The MQTT listener with real paho clients, each behaviour checked through the HTTP API."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes

from tests.support.mqtt import (
    V5,
    V31,
    V311,
    Api,
    MqttServer,
    Paho,
    RawClient,
    connect_packet,
    mqtt_server,
    raw_packet,
    v5_properties,
    wait_until,
)

_ids = count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MqttServer]:
    folder = tmp_path_factory.mktemp("mqtt")
    with mqtt_server(folder, passwords={"alice": "wonderland"}) as running:
        yield running


@pytest.fixture
def api(server: MqttServer) -> Api:
    return server.api


@pytest.fixture
def clients(server: MqttServer) -> Iterator[list[Paho]]:
    made: list[Paho] = []
    yield made
    for client in made:
        client.stop()


def connected(
    server: MqttServer,
    clients: list[Paho],
    client_id: str,
    protocol: MQTTProtocolVersion = V311,
    *,
    clean: bool = True,
    **connect: object,
) -> Paho:
    client = Paho(client_id, protocol, clean=clean)
    clients.append(client)
    rc, _, _ = client.connect(server.mqtt_port, **connect)  # type: ignore[arg-type]
    assert rc == 0, rc
    return client


def test_real_clients_of_each_version_are_listed_with_their_fields(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    # /nodes and /metrics count sessions (as NanoMQ does), /prometheus connections.
    nodes = api.get("/api/v4/nodes")["data"][0]["connections"]
    metrics = api.get("/api/v4/metrics")["connections"]
    connections = api.prometheus()["connections_count"]
    versions = {}
    for protocol, ver in ((V31, 3), (V311, 4), (V5, 5)):
        client_id = unique(f"dev-v{ver}")
        client = Paho(client_id, protocol)
        clients.append(client)
        client.client.will_set(f"status/{client_id}", b"gone", 1)
        rc, present, _ = client.connect(
            server.mqtt_port, keepalive=30 + ver, username="alice", password="wonderland"
        )
        assert (rc, present) == (0, False)
        versions[client_id] = ver
    for client_id, ver in versions.items():
        record = api.client(client_id)
        assert record == {
            "client_id": client_id,
            "username": "alice",
            "keepalive": 30 + ver,
            "conn_state": "connected",
            "clean_start": True,
            "proto_name": "MQIsdp" if ver == 3 else "MQTT",
            "proto_ver": ver,
            "will_topic": f"status/{client_id}",
            "will_msg": "gone",
        }
    # The same key order as a mock client's (NanoMQ's), and the filters find real clients.
    mock = api.get("/api/v4/clients")["data"][0]
    assert record is not None
    assert list(mock)[:7] == list(record)[:7]
    v5_ids = {c["client_id"] for c in api.get("/api/v4/clients?proto_ver=5")["data"]}
    assert [cid for cid, ver in versions.items() if ver == 5][0] in v5_ids
    alice = {c["client_id"] for c in api.get("/api/v4/clients/username/alice")["data"]}
    assert set(versions) <= alice
    assert api.get("/api/v4/nodes")["data"][0]["connections"] == nodes + 3
    assert api.get("/api/v4/metrics")["connections"] == metrics + 3
    assert api.prometheus()["connections_count"] == connections + 3


def test_subscriptions_show_in_subscriptions_and_the_topic_tree(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    client_id = unique("subscriber")
    client = connected(server, clients, client_id)
    assert client.subscribe(f"tree/{client_id}/+", 1) == [1]
    assert client.subscribe("$share/g1/tree/shared", 2) == [2]
    assert api.subscriptions(client_id) == [
        (f"tree/{client_id}/+", 1),
        ("$share/g1/tree/shared", 2),
    ]
    levels = api.get("/api/v4/topic-tree")["data"]
    named = {entry["topic"]: entry for level in levels for entry in level}
    assert client_id in named
    assert named["+"]["clientid"] == [client_id]
    client.client.unsubscribe(f"tree/{client_id}/+")
    wait_until(lambda: api.subscriptions(client_id) == [("$share/g1/tree/shared", 2)])


def test_publishes_between_real_clients_with_each_qos_and_wildcards(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    base = unique("flow")
    subscriber = connected(server, clients, f"{base}-sub", V5)
    assert subscriber.subscribe(f"{base}/+/temp", 2) == [2]
    assert subscriber.subscribe(f"{base}/#", 1) == [1]
    publisher = connected(server, clients, f"{base}-pub", V311)
    before = api.prometheus()
    for qos in (0, 1, 2):
        publisher.publish(f"{base}/room{qos}/temp", f"q{qos}", qos)
    got = sorted((m.topic, m.payload, m.qos) for m in (subscriber.receive() for _ in range(6)))
    assert got == sorted(
        [(f"{base}/room{q}/temp", f"q{q}".encode(), q) for q in (0, 1, 2)]
        + [(f"{base}/room{q}/temp", f"q{q}".encode(), min(q, 1)) for q in (0, 1, 2)]
    )
    publisher.publish(f"{base}-nobody/listens", "x", 1)
    after = wait_until(
        lambda: (
            (p := api.prometheus())["messages_received"] >= before["messages_received"] + 4 and p
        )
    )
    assert after["messages_received"] == before["messages_received"] + 4
    assert after["messages_sent"] == before["messages_sent"] + 6
    assert after["messages_dropped"] == before["messages_dropped"] + 1


def test_a_share_group_gets_one_copy_each(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    base = unique("share")
    members = [connected(server, clients, f"{base}-{i}") for i in range(2)]
    for member in members:
        assert member.subscribe(f"$share/workers/{base}/jobs", 1) == [1]
    publisher = connected(server, clients, f"{base}-pub")
    for index in range(6):
        publisher.publish(f"{base}/jobs", str(index), 1)
    seen: dict[int, list[bytes]] = {0: [], 1: []}
    wait_until(lambda: _collect(members, seen) == 6)
    assert sorted(seen[0] + seen[1]) == [str(i).encode() for i in range(6)]
    assert seen[0]
    assert seen[1]
    assert all(member.nothing_more(0.1) for member in members)


def _collect(members: list[Paho], seen: dict[int, list[bytes]]) -> int:
    for index, member in enumerate(members):
        while not member.messages.empty():
            seen[index].append(member.messages.get().payload)
    return sum(map(len, seen.values()))


def test_an_http_publish_reaches_real_subscribers_with_its_properties(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    base = unique("http-pub")
    v3 = connected(server, clients, f"{base}-v3")
    v5 = connected(server, clients, f"{base}-v5", V5)
    v3.subscribe(f"{base}/cmd", 1)
    v5.subscribe(f"{base}/cmd", 1)
    body = {
        "topic": f"{base}/cmd",
        "payload": "reboot",
        "qos": 1,
        "properties": {"content_type": "text/plain", "user_properties": {"from": "dashboard"}},
    }
    assert api.post("/api/v4/mqtt/publish", body) == {"code": 0}
    assert v3.receive().payload == b"reboot"
    message = v5.receive()
    assert (message.payload, message.qos) == (b"reboot", 1)
    assert message.property("ContentType") == "text/plain"
    assert message.property("UserProperty") == [("from", "dashboard")]


def test_retained_messages_from_either_side_reach_new_subscribers(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    base = unique("retained")
    publisher = connected(server, clients, f"{base}-pub")
    publisher.publish(f"{base}/mqtt", "from-mqtt", 1, retain=True)
    body = {"topic": f"{base}/http", "payload": "from-http", "qos": 1, "retain": True}
    api.post("/api/v4/mqtt/publish", body)
    subscriber = connected(server, clients, f"{base}-sub", V5)
    subscriber.subscribe(f"{base}/+", 1)
    got = {subscriber.receive().payload, subscriber.receive().payload}
    assert got == {b"from-mqtt", b"from-http"}
    # An empty retained payload clears it.
    publisher.publish(f"{base}/mqtt", "", 0, retain=True)
    late = connected(server, clients, f"{base}-late")
    late.subscribe(f"{base}/+", 0)
    message = late.receive()
    assert (message.payload, message.retain) == (b"from-http", True)
    assert late.nothing_more()


def test_the_http_subscribe_extension_makes_a_real_client_receive(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    base = unique("http-sub")
    api.post("/api/v4/mqtt/publish", {"topic": f"{base}/r", "payload": "kept", "retain": True})
    client = connected(server, clients, base)
    reply = api.post("/api/v4/mqtt/subscribe", {"topic": f"{base}/#", "clientid": base, "qos": 1})
    assert reply == {"code": 0}
    assert client.receive().payload == b"kept"
    api.post("/api/v4/mqtt/publish", {"topic": f"{base}/live", "payload": "now", "qos": 1})
    message = client.receive()
    assert (message.topic, message.payload, message.qos) == (f"{base}/live", b"now", 1)
    assert api.subscriptions(base) == [(f"{base}/#", 1)]


@pytest.mark.parametrize("protocol", [V311, V5])
def test_kick_closes_the_real_connection(
    server: MqttServer, api: Api, clients: list[Paho], protocol: MQTTProtocolVersion
) -> None:
    client_id = unique("kicked")
    client = connected(server, clients, client_id, protocol)
    client.client.reconnect_delay_set(60, 60)  # no reconnect within the test
    status, body = api.call("DELETE", f"/api/v4/clients/{client_id}")
    assert (status, body) == (200, {"code": 0})
    assert client.disconnected.wait(5)
    if protocol == V5:
        assert client.disconnect_reason == 0x98  # administrative action
    assert api.client(client_id) is None


def test_clean_sessions_go_and_persistent_ones_stay_offline_with_their_messages(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    clean_id, kept_id = unique("clean"), unique("kept")
    clean = connected(server, clients, clean_id)
    kept = connected(server, clients, kept_id, clean=False)
    kept.subscribe(f"{kept_id}/inbox", 1)
    clean.disconnect()
    kept.disconnect()
    wait_until(lambda: api.client(clean_id) is None)
    record = wait_until(
        lambda: (c := api.client(kept_id)) and c["conn_state"] == "disconnected" and c
    )
    assert record["clean_start"] is False
    assert api.subscriptions(kept_id) == [(f"{kept_id}/inbox", 1)]
    offline = api.get("/api/v4/clients?conn_state=disconnected")["data"]
    assert kept_id in {c["client_id"] for c in offline}
    api.post(
        "/api/v4/mqtt/publish", {"topic": f"{kept_id}/inbox", "payload": "while away", "qos": 1}
    )
    again = Paho(kept_id, V311, clean=False)
    clients.append(again)
    rc, present, _ = again.connect(server.mqtt_port)
    assert (rc, present) == (0, True)
    assert again.receive().payload == b"while away"
    assert api.client(kept_id)["conn_state"] == "connected"  # type: ignore[index]


def test_an_mqtt5_session_expiry_keeps_the_session_until_it_expires(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    client_id = unique("expiring")
    properties = v5_properties(PacketTypes.CONNECT, SessionExpiryInterval=1)
    client = connected(server, clients, client_id, V5, properties=properties)
    client.disconnect()
    wait_until(lambda: (c := api.client(client_id)) and c["conn_state"] == "disconnected")
    wait_until(lambda: api.client(client_id) is None, timeout=5)


def test_a_second_connection_takes_the_session_over(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    client_id = unique("twice")
    first = connected(server, clients, client_id, V5)
    first.client.reconnect_delay_set(60, 60)
    connected(server, clients, client_id, V5)
    assert first.disconnected.wait(5)
    assert first.disconnect_reason == 0x8E  # session taken over
    listed = api.get(f"/api/v4/clients?clientid={client_id}")["data"]
    assert [c["conn_state"] for c in listed] == ["connected"]


def test_a_will_goes_out_on_an_abnormal_close_only(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    base = unique("will")
    watcher = connected(server, clients, f"{base}-watch")
    watcher.subscribe(f"{base}/status/+", 1)
    with RawClient(server.mqtt_port) as polite:
        will = (f"{base}/status/polite", b"bye", 1, False)
        polite.send(connect_packet(f"{base}-polite", will=will))
        assert polite.read_packet()[0] == 0x20
        polite.send(b"\xe0\x00")  # DISCONNECT
        assert polite.closed_within(2)
    with RawClient(server.mqtt_port) as abrupt:
        will = (f"{base}/status/abrupt", b"lost", 1, True)
        abrupt.send(connect_packet(f"{base}-abrupt", will=will))
        assert abrupt.read_packet()[0] == 0x20
    message = watcher.receive()
    assert (message.topic, message.payload) == (f"{base}/status/abrupt", b"lost")
    assert watcher.nothing_more()
    assert api.client(f"{base}-abrupt") is None
    retained = api.get("/api/v4/topic-tree")  # still serving
    assert retained["code"] == 0


def test_an_idle_connection_is_closed_after_one_and_a_half_keepalives(
    server: MqttServer, api: Api
) -> None:
    client_id = unique("idle")
    with RawClient(server.mqtt_port) as raw:
        started = time.monotonic()
        raw.send(connect_packet(client_id, keepalive=1))
        assert raw.read_packet()[0] == 0x20
        assert api.client(client_id) is not None
        assert raw.closed_within(5)
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed <= 3.0, elapsed
    wait_until(lambda: api.client(client_id) is None)


def test_pings_keep_a_connection_alive(server: MqttServer) -> None:
    with RawClient(server.mqtt_port) as raw:
        raw.send(connect_packet(unique("pinger"), keepalive=1))
        raw.read_packet()
        for _ in range(3):
            time.sleep(0.6)
            raw.send(b"\xc0\x00")
            assert raw.read_packet() == (0xD0, b"")


def test_mqtt5_options_aliases_and_reason_codes(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    base = unique("v5")
    client = connected(server, clients, base, V5)
    # No local: its own publish does not come back; retain as published keeps the flag.
    client.subscribe(f"{base}/own", 1, noLocal=True)
    client.subscribe(f"{base}/rap", 1, retainAsPublished=True)
    identified = v5_properties(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=42)
    client.subscribe(f"{base}/id", 1, properties=identified)
    client.publish(f"{base}/own", "mine", 1)
    client.publish(f"{base}/rap", "kept-flag", 1, retain=True)
    message = client.receive()
    assert (message.topic, message.retain) == (f"{base}/rap", True)
    other = connected(server, clients, f"{base}-other", V5)
    alias = v5_properties(TopicAlias=3)
    other.publish(f"{base}/id", "first", 1, properties=alias)
    other.publish("", "second", 1, properties=v5_properties(TopicAlias=3))
    for payload in (b"first", b"second"):
        message = client.receive()
        assert (message.topic, message.payload) == (f"{base}/id", payload)
        assert message.property("SubscriptionIdentifier") == [42]
    assert client.nothing_more()
    # Unsubscribing what was never subscribed: reason 0x11 in the UNSUBACK.
    with RawClient(server.mqtt_port) as raw:
        _unsuback_and_puback_reasons(raw)


def _unsuback_and_puback_reasons(raw: RawClient) -> None:
    raw.send(connect_packet("", proto=5))
    first, body = raw.read_packet()
    assert first == 0x20
    assert body[:2] == b"\x00\x00"
    assert b"nanoadmin-" in body  # an assigned client identifier
    raw.send(raw_packet(0xA2, b"\x00\x07\x00" + b"\x00\x04none"))
    assert raw.read_packet() == (0xB0, b"\x00\x07\x00\x11")
    # A QoS 1 publish nobody receives: PUBACK reason 0x10.
    raw.send(raw_packet(0x32, b"\x00\x06nobody\x00\x09\x00x"))
    assert raw.read_packet() == (0x40, b"\x00\x09\x10")


def test_refused_connects_get_the_right_connack_codes(tmp_path: Path) -> None:
    with mqtt_server(tmp_path, allow_anonymous=False, passwords={"bob": "builder"}) as strict:
        cases = [
            # (protocol, username, password, expected CONNACK body)
            (4, None, None, b"\x00\x05"),
            (4, "bob", "wrong", b"\x00\x04"),
            (4, "eve", "builder", b"\x00\x04"),
            (4, "bob", "builder", b"\x00\x00"),
            (5, None, None, b"\x00\x87"),
            (5, "bob", "wrong", b"\x00\x86"),
            (3, "bob", "builder", b"\x00\x00"),
        ]
        for proto, username, password, expected in cases:
            packet = connect_packet(
                unique("auth"), proto=proto, username=username, password=password
            )
            with RawClient(strict.mqtt_port) as raw:
                raw.send(packet)
                first, body = raw.read_packet()
                assert (first, body[:2]) == (0x20, expected), (proto, username, password)
                if expected[1]:
                    assert raw.closed_within(2)
        # A level MQTT does not have: 3.1.1's "unacceptable protocol version".
        with RawClient(strict.mqtt_port) as raw:
            raw.send(connect_packet("odd", proto=6))
            assert raw.read_packet() == (0x20, b"\x00\x01")
        client = Paho("paho-bob", V5)
        try:
            rc, _, _ = client.connect(strict.mqtt_port, username="bob", password="builder")
            assert rc == 0
        finally:
            client.stop()
        log = strict.process.stop()
    assert "builder" not in log
    assert "wrong" not in log


def test_ctrl_restart_closes_real_connections(tmp_path: Path) -> None:
    with mqtt_server(tmp_path) as own:
        client = Paho("restarted", V5)
        client.client.reconnect_delay_set(60, 60)
        try:
            assert client.connect(own.mqtt_port)[0] == 0
            assert own.api.call("POST", "/api/v4/ctrl/restart")[0] == 200
            assert client.disconnected.wait(5)
            wait_until(lambda: own.api.client("restarted") is None)
        finally:
            client.stop()


@pytest.mark.slow  # waits out a will delay, ~4.6 s
def test_an_mqtt5_will_delay_holds_the_will_and_a_return_cancels_it(
    server: MqttServer, api: Api, clients: list[Paho]
) -> None:
    base = unique("delayed")
    watcher = connected(server, clients, f"{base}-watch")
    watcher.subscribe(f"{base}/+", 1)
    connect = v5_properties(PacketTypes.CONNECT, SessionExpiryInterval=30)
    for name, come_back in (("late", False), ("back", True)):
        client = Paho(f"{base}-{name}", V5, clean=False)
        clients.append(client)
        client.client.will_set(
            f"{base}/{name}",
            b"w",
            1,
            properties=v5_properties(PacketTypes.WILLMESSAGE, WillDelayInterval=1),
        )
        assert client.connect(server.mqtt_port, properties=connect)[0] == 0
        client.drop()
        left = time.monotonic()
        if come_back:
            again = Paho(f"{base}-{name}", V5, clean=False)
            clients.append(again)
            assert again.connect(server.mqtt_port, properties=connect)[:2] == (0, True)
            assert watcher.nothing_more(1.5)
        else:
            assert watcher.nothing_more(0.5)
            assert watcher.receive(3).topic == f"{base}/late"
            assert time.monotonic() - left >= 0.9


def test_a_reload_brings_in_the_new_password_file(tmp_path: Path) -> None:
    def connack(port: int, password: str) -> bytes:
        with RawClient(port) as raw:
            raw.send(connect_packet(unique("reload"), username="bob", password=password))
            return raw.read_packet()[1]

    with mqtt_server(tmp_path, allow_anonymous=False, passwords={"bob": "one"}) as strict:
        assert connack(strict.mqtt_port, "one") == b"\x00\x00"
        (tmp_path / "nanomq_pwd.conf").write_text('"bob": "two"\n')
        strict.process.process.send_signal(signal.SIGHUP)
        wait_until(lambda: connack(strict.mqtt_port, "two") == b"\x00\x00")
        assert connack(strict.mqtt_port, "one") == b"\x00\x04"
