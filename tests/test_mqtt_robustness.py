"""Bad input against the MQTT listener: it closes the connection, keeps serving, stays bounded.

An in-process server (the listener on the test's own event loop), so deadlines and bounds can
be made small; every attack is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from aiohttp.pytest_plugin import AiohttpClient

from nanoadmin.app import create_app
from nanoadmin.appkeys import MQTT_LISTENER_KEY, RUNTIME_KEY
from nanoadmin.model import BrokerModel
from nanoadmin.model.scenario import reference_scenario
from nanoadmin.mqtt import listener as listener_module
from nanoadmin.mqtt.limits import MAX_INFLIGHT
from nanoadmin.mqtt.listener import MqttListener
from nanoadmin.settings import load_settings
from tests.support import BASIC_ADMIN, Client
from tests.support.mqtt import (
    closed_by_server,
    connect_packet,
    mqtt_string,
    open_raw,
    raw_packet,
    read_packet_async,
    rss_bytes,
    varint,
    write_mqtt_conf,
)

# Out of `make check`'s quick loop (floods and malformed packets held for seconds); `make test` runs it.
pytestmark = pytest.mark.slow

AUTH = {"Authorization": BASIC_ADMIN}


@dataclass
class Live:
    http: Client
    listener: MqttListener

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def broker(self) -> BrokerModel:
        return self.http.app[RUNTIME_KEY].broker

    async def brokers_ms(self) -> float:
        started = time.monotonic()
        response = await self.http.get("/api/v4/brokers", headers=AUTH)
        assert response.status == 200
        await response.read()
        return (time.monotonic() - started) * 1000

    async def connected(
        self, client_id: str, **connect: object
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await open_raw(self.port)
        writer.write(connect_packet(client_id, **connect))  # type: ignore[arg-type]
        first, body = await read_packet_async(reader)
        assert (first, body[1]) == (0x20, 0), body
        return reader, writer


@pytest.fixture
async def live(aiohttp_client: AiohttpClient, tmp_path: Path) -> Live:
    conf = write_mqtt_conf(tmp_path, 0)
    text = conf.read_text() + "mqtt.max_mqueue_len = 50\n"
    conf.write_text(text)
    app = create_app(load_settings(str(conf), environ={}), reference_scenario())
    http = await aiohttp_client(app)
    return Live(http, app[MQTT_LISTENER_KEY])


@pytest.fixture
def fast_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listener_module, "SWEEP_INTERVAL", 0.05)
    monkeypatch.setattr(listener_module, "CONNECT_TIMEOUT", 0.3)
    monkeypatch.setattr(listener_module, "PACKET_TIMEOUT", 0.3)
    monkeypatch.setattr(listener_module, "WRITE_STALL_TIMEOUT", 0.3)


def assert_settled(live: Live, connections: int, sessions: int) -> None:
    """Nothing of the closed connections is left in the model or the listener's budgets."""
    stats = live.broker.stats()
    assert (stats.connections, stats.sessions) == (connections, sessions)
    listener = live.listener
    assert listener.connections == set()
    assert listener.handshakes == 0
    assert (listener.buffered, listener.queued_bytes, listener.subscription_total) == (0, 0, 0)


def publish(topic: str, payload: bytes, qos: int = 0, packet_id: int = 1) -> bytes:
    body = mqtt_string(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return raw_packet(0x30 | (qos << 1), body)


BEFORE_CONNECT = {
    "not a CONNECT first": b"\xc0\x00",
    "reserved packet type 0": b"\x00\x00",
    "remaining length of 5 bytes": b"\x10\xff\xff\xff\xff\x7f",
    "unknown protocol name": raw_packet(0x10, mqtt_string("MQTX") + b"\x04\x02\x00\x3c\x00\x00"),
    "reserved connect flag": raw_packet(0x10, mqtt_string("MQTT") + b"\x04\x03\x00\x3c\x00\x00"),
    "client id not UTF-8": raw_packet(
        0x10, mqtt_string("MQTT") + b"\x04\x02\x00\x3c\x00\x02\xc3\x28"
    ),
    "bytes after the payload": raw_packet(0x10, connect_packet("x")[2:] + b"zz"),
    "connect flags but no payload": raw_packet(0x10, mqtt_string("MQTT") + b"\x04\xc2\x00\x3c"),
    "will qos 3": raw_packet(0x10, mqtt_string("MQTT") + b"\x04\x1e\x00\x3c\x00\x01x"),
    "password without username": raw_packet(
        0x10, mqtt_string("MQTT") + b"\x04\x42\x00\x3c\x00\x01x\x00\x01p"
    ),
}
AFTER_CONNECT = {
    "publish qos 3": raw_packet(0x36, mqtt_string("a") + b"\x00\x01x"),
    "publish to a wildcard": publish("a/+", b"x"),
    "publish with dup on qos 0": raw_packet(0x38, mqtt_string("a") + b"x"),
    "publish string past the body": raw_packet(0x30, b"\x00\x09ab"),
    "publish packet id 0": raw_packet(0x32, mqtt_string("a") + b"\x00\x00x"),
    "subscribe with flags 0000": raw_packet(0x80, b"\x00\x01" + mqtt_string("a") + b"\x00"),
    "subscribe without a filter": raw_packet(0x82, b"\x00\x01"),
    "subscribe reserved option bits": raw_packet(0x82, b"\x00\x01" + mqtt_string("a") + b"\x04"),
    "unsubscribe without a filter": raw_packet(0xA2, b"\x00\x01"),
    "a second CONNECT": connect_packet("again"),
    "AUTH in MQTT 3": b"\xf0\x00",
    "PINGREQ with a body": b"\xc0\x01\x00",
    "DISCONNECT with a body": b"\xe0\x01\x00",
    "a server's packet": b"\x20\x02\x00\x00",
    "string with U+0000": publish("a\0b", b"x"),
    "topic longer than the bound": publish("t" * 1025, b"x"),
}


async def test_malformed_packets_close_the_connection_and_leave_the_model_as_it_was(
    live: Live,
) -> None:
    stats = live.broker.stats()
    for name, data in BEFORE_CONNECT.items():
        reader, writer = await open_raw(live.port)
        writer.write(data)
        assert await closed_by_server(reader, 2), name
        writer.close()
    for index, (name, data) in enumerate(AFTER_CONNECT.items()):
        client_id = f"bad-{index}"
        reader, writer = await live.connected(client_id, will=(f"wills/{index}", b"w", 0, False))
        writer.write(data)
        assert await closed_by_server(reader, 2), name
        writer.close()
        assert client_id not in live.broker, name
    assert await live.brokers_ms() < 500
    # Each abnormal close published its will, counted like any publish.
    after = live.broker.stats()
    assert after.messages_received == stats.messages_received + len(AFTER_CONNECT)
    assert_settled(live, stats.connections, stats.sessions)


async def test_a_packet_over_max_packet_size_is_refused_from_its_header(live: Live) -> None:
    for proto in (4, 5):
        reader, writer = await live.connected(f"big-{proto}", proto=proto)
        # 64KB is the config's mqtt.max_packet_size; the body is never sent.
        writer.write(b"\x30" + varint(64 * 1024 + 1))
        if proto == 5:
            assert await read_packet_async(reader, 2) == (0xE0, b"\x95\x00")
        assert await closed_by_server(reader, 2)
        writer.close()
    reader, writer = await live.connected("just-fits")
    topic = mqtt_string("fits")
    writer.write(b"\x30" + varint(64 * 1024) + topic + b"x" * (64 * 1024 - len(topic)))
    writer.write(b"\xc0\x00")
    assert await read_packet_async(reader, 5) == (0xD0, b"")
    writer.close()


async def test_a_connect_flood_is_bounded_and_the_api_keeps_answering(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listener_module, "MAX_HANDSHAKES", 50)
    stats = live.broker.stats()
    silent = [await open_raw(live.port) for _ in range(80)]
    await asyncio.sleep(0.2)
    assert live.listener.handshakes <= 50
    refused = 0
    for reader, _ in silent:
        if await closed_by_server(reader, 0.05):
            refused += 1
    assert refused >= 30  # past the bound, closed as soon as accepted

    async def one(index: int) -> None:
        reader, writer = await open_raw(live.port)
        writer.write(connect_packet(f"flood-{index}"))
        await writer.drain()
        writer.close()

    latencies: list[float] = []
    for _ in range(3):
        await asyncio.gather(*(one(i) for i in range(100)))
        latencies.append(await live.brokers_ms())
    assert max(latencies) < 500, latencies
    for _, writer in silent:
        writer.close()
    for _ in range(100):
        if not live.listener.connections:
            break
        await asyncio.sleep(0.02)
    assert_settled(live, stats.connections, stats.sessions)


@pytest.mark.usefixtures("fast_deadlines")
async def test_silence_half_packets_and_stalled_readers_meet_their_deadlines(live: Live) -> None:
    stats = live.broker.stats()
    silent = await open_raw(live.port)
    half_connect = await open_raw(live.port)
    half_connect[1].write(connect_packet("half")[:5])
    reader, writer = await live.connected("half-publish", keepalive=0)
    writer.write(b"\x30\x64" + b"\x00\x01a")  # 100 bytes announced, 3 sent
    started = time.monotonic()
    for stream in (silent[0], half_connect[0], reader):
        assert await closed_by_server(stream, 3)
    assert time.monotonic() - started < 2.5
    # A subscriber that reads nothing of what it is sent.
    stalled_reader, stalled = await live.connected("stalled", keepalive=0)
    stalled.write(raw_packet(0x82, b"\x00\x01" + mqtt_string("flood") + b"\x00"))
    assert (await read_packet_async(stalled_reader))[0] == 0x90
    cast(asyncio.Transport, stalled.transport).pause_reading()
    payload = b"x" * 60_000
    for _ in range(400):  # about 24 MB offered; the bound is MAX_WRITE_BUFFER and the kernel's
        live.broker.publish("flood", payload)
        if "stalled" not in live.broker:
            break
        await asyncio.sleep(0)
    for _ in range(100):
        if "stalled" not in live.broker:
            break
        await asyncio.sleep(0.05)
    assert "stalled" not in live.broker
    for writer_ in (silent[1], half_connect[1], writer, stalled):
        writer_.close()
    assert_settled(live, stats.connections, stats.sessions)


async def test_the_buffer_budget_holds_whatever_many_connections_send(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = 512 * 1024
    monkeypatch.setattr(listener_module, "MAX_BUFFERED_BYTES", budget)
    stats = live.broker.stats()
    rss_before = rss_bytes()
    streams = []
    for index in range(40):
        reader, writer = await live.connected(f"hoard-{index}", keepalive=0)
        # A 64KB PUBLISH, all of it but the last bytes.
        writer.write(b"\x30" + varint(64 * 1024) + mqtt_string("t") + b"x" * 60_000)
        streams.append((reader, writer))
        await writer.drain()
    await asyncio.sleep(0.2)
    assert live.listener.buffered <= budget
    closed = [await closed_by_server(reader, 0.05) for reader, _ in streams]
    assert sum(closed) >= 40 - budget // 60_000 - 1
    assert rss_bytes() - rss_before < 64 * 1024 * 1024
    assert await live.brokers_ms() < 500
    for _, writer in streams:
        writer.close()
    await asyncio.sleep(0.1)
    assert_settled(live, stats.connections, stats.sessions)


async def test_subscriptions_topics_and_qos_in_flight_are_bounded(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listener_module, "MAX_SUBSCRIPTIONS_PER_CLIENT", 5)
    stats = live.broker.stats()
    reader, writer = await live.connected("greedy", keepalive=0)
    filters = b"".join(mqtt_string(f"g/{i}") + b"\x01" for i in range(8))
    deep = mqtt_string("/".join(["d"] * 40)) + b"\x01"
    writer.write(raw_packet(0x82, b"\x00\x05" + filters + deep))
    assert await read_packet_async(reader) == (0x90, b"\x00\x05" + b"\x01" * 5 + b"\x80" * 4)
    assert len(live.broker.subscriptions("greedy")) == 5
    # QoS 1 to a client that never acknowledges: MAX_INFLIGHT sent, the config's
    # mqtt.max_mqueue_len (50) queued, the rest dropped.
    for index in range(200):
        live.broker.publish("g/0", str(index).encode(), qos=1)
    received = []
    while True:
        try:
            received.append(await read_packet_async(reader, 0.3))
        except TimeoutError:
            break
    session = live.broker.sink("greedy")
    assert isinstance(session, listener_module.Session)
    assert len(received) == MAX_INFLIGHT == len(session.inflight)
    assert len(session.queue) == 50
    # Acknowledging lets the queue flow, in order.
    first_ids = [struct.unpack("!H", body[5:7])[0] for _, body in received[:3]]
    for packet_id in first_ids:
        writer.write(raw_packet(0x40, struct.pack("!H", packet_id)))
    more = [await read_packet_async(reader) for _ in range(3)]
    assert [body[7:] for _, body in more] == [b"32", b"33", b"34"]
    writer.close()
    assert await closed_by_server(reader)
    for _ in range(50):
        if "greedy" not in live.broker:
            break
        await asyncio.sleep(0.02)
    assert_settled(live, stats.connections, stats.sessions)


async def test_what_waits_to_be_written_to_a_client_is_bounded(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = 256 * 1024
    monkeypatch.setattr(listener_module, "MAX_WRITE_BUFFER", bound)
    stats = live.broker.stats()
    payload = b"x" * 60_000
    for index in range(150):  # 9 MB of retained messages
        live.broker.store_retained(f"r/{index}", payload)
    reader, writer = await live.connected("hungry", keepalive=0)
    cast(asyncio.Transport, writer.transport).pause_reading()
    writer.write(raw_packet(0x82, b"\x00\x01" + mqtt_string("#") + b"\x00"))
    await asyncio.sleep(0.3)
    session = live.broker.sink("hungry")
    assert isinstance(session, listener_module.Session)
    connection = session.connection
    assert connection is not None
    assert connection.transport is not None
    waiting = connection.out_bytes + connection.transport.get_write_buffer_size()
    assert waiting <= bound + len(payload) + 1024, waiting
    # What went out in that burst is about the bound; the rest of the QoS 0 copies dropped.
    cast(asyncio.Transport, writer.transport).resume_reading()
    packets = [await read_packet_async(reader)]
    while True:
        try:
            packets.append(await read_packet_async(reader, 0.3))
        except TimeoutError:
            break
    big = [p for p in packets if p[0] >> 4 == 3 and p[1].endswith(payload)]
    assert 1 <= len(big) <= bound // len(payload) + 1, len(big)
    # More filters in one SUBSCRIBE than the bound: the connection closes at once.
    many_reader, many = await live.connected("many-filters")
    filters = b"".join(mqtt_string(f"m/{i}") + b"\x00" for i in range(101))
    many.write(raw_packet(0x82, b"\x00\x02" + filters))
    assert await closed_by_server(many_reader, 2)
    for stream in (writer, many):
        stream.close()
    for _ in range(100):
        if not live.listener.connections:
            break
        await asyncio.sleep(0.02)
    assert_settled(live, stats.connections, stats.sessions)


async def test_a_resumed_session_gets_its_unacknowledged_messages_again_marked_dup(
    live: Live,
) -> None:
    reader, writer = await live.connected("resumer", clean=False, keepalive=0)
    writer.write(raw_packet(0x82, b"\x00\x01" + mqtt_string("jobs") + b"\x01"))
    assert (await read_packet_async(reader))[0] == 0x90
    live.broker.publish("jobs", b"first", qos=1)
    first, body = await read_packet_async(reader)
    assert (first, body[6:]) == (0x32, b"\x00\x01first")  # QoS 1, not acknowledged
    writer.close()
    assert await closed_by_server(reader)
    for _ in range(50):
        record = live.broker.get_client("resumer")
        if record is not None and record.conn_state == "disconnected":
            break
        await asyncio.sleep(0.02)
    live.broker.publish("jobs", b"second", qos=1)  # queued for the offline session
    reader, writer = await open_raw(live.port)
    writer.write(connect_packet("resumer", clean=False, keepalive=0))
    assert await read_packet_async(reader) == (0x20, b"\x01\x00")  # session present
    again = await read_packet_async(reader)
    assert (again[0], again[1][6:]) == (0x3A, b"\x00\x01first")  # DUP set, same packet id
    writer.write(raw_packet(0x40, b"\x00\x01"))
    queued = await read_packet_async(reader)
    assert (queued[0], queued[1][8:]) == (0x32, b"second")
    writer.close()
