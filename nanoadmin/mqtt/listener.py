"""The MQTT listener: real clients as sessions of the broker model, on the server's event loop.

One :class:`Connection` (an asyncio protocol) per TCP connection; one :class:`Session` (the
model's :class:`~nanoadmin.model.ClientSink`) per real client's session, which outlives its
connection when it is persistent. The model stays the only record of clients, subscriptions
and retained messages: the listener keeps only what MQTT needs on top (packet ids in flight,
queued messages, v5 subscription options).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from nanoadmin.model import BrokerModel, Client, Message, ModelError, Subscription
from nanoadmin.model.topics import SHARE_PREFIX, is_valid_filter, is_valid_topic_name
from nanoadmin.mqtt import codec
from nanoadmin.mqtt.auth import check_connect
from nanoadmin.mqtt.codec import MalformedPacket, UnsupportedProtocol
from nanoadmin.mqtt.limits import (
    CONNECT_TIMEOUT,
    MAX_BUFFERED_BYTES,
    MAX_CLIENT_ID_BYTES,
    MAX_CONNECTIONS,
    MAX_FILTERS_PER_PACKET,
    MAX_HANDSHAKES,
    MAX_INFLIGHT,
    MAX_OFFLINE_SESSIONS,
    MAX_QUEUED_BYTES,
    MAX_QUEUED_BYTES_TOTAL,
    MAX_RETAINED_BYTES,
    MAX_RETAINED_MESSAGES,
    MAX_SESSION_EXPIRY,
    MAX_SUBSCRIPTIONS,
    MAX_SUBSCRIPTIONS_PER_CLIENT,
    MAX_TOPIC_BYTES,
    MAX_TOPIC_LEVELS,
    MAX_WRITE_BUFFER,
    PACKET_TIMEOUT,
    PROTOCOL_MAX_PACKET,
    RECEIVE_MAXIMUM,
    SWEEP_INTERVAL,
    TOPIC_ALIAS_MAXIMUM,
    WRITE_STALL_TIMEOUT,
)
from nanoadmin.runtime import Runtime
from nanoadmin.settings import MqttAuth, MqttSettings

logger = logging.getLogger("nanoadmin.mqtt")
LISTEN_BACKLOG = 1024
_monotonic = time.monotonic

_HANDSHAKE, _CONNECTED, _CLOSED = range(3)
_ZERO_FLAGS = frozenset(
    {
        codec.CONNECT,
        codec.PUBACK,
        codec.PUBREC,
        codec.PUBCOMP,
        codec.PINGREQ,
        codec.DISCONNECT,
        codec.AUTH,
    }
)
_TWO_FLAGS = frozenset({codec.PUBREL, codec.SUBSCRIBE, codec.UNSUBSCRIBE})
_REFUSALS = {
    "bad_credentials": (codec.V3_BAD_USERNAME_OR_PASSWORD, codec.BAD_USERNAME_OR_PASSWORD),
    "not_authorized": (codec.V3_NOT_AUTHORIZED, codec.NOT_AUTHORIZED),
    "client_id": (codec.V3_IDENTIFIER_REJECTED, codec.CLIENT_ID_NOT_VALID),
    "protocol": (codec.V3_UNACCEPTABLE_PROTOCOL, codec.UNSUPPORTED_PROTOCOL_VERSION),
    "unavailable": (codec.V3_SERVER_UNAVAILABLE, codec.SERVER_UNAVAILABLE),
    "auth_method": (codec.V3_NOT_AUTHORIZED, codec.BAD_AUTHENTICATION_METHOD),
    "topic": (codec.V3_IDENTIFIER_REJECTED, codec.TOPIC_NAME_INVALID),  # v3 closes instead
}


def topic_fits(topic: str) -> bool:
    """Within the listener's bounds for a topic name or filter from a real client."""
    return (
        len(topic) <= MAX_TOPIC_BYTES
        and len(topic.encode("utf-8")) <= MAX_TOPIC_BYTES
        and topic.count("/") < MAX_TOPIC_LEVELS
    )


def _header(data: bytes | bytearray, pos: int, size: int) -> tuple[int, int] | None:
    """(remaining length, where the body starts), or None while the header is incomplete."""
    length = 0
    shift = 0
    index = pos + 1
    while index < size:
        byte = data[index]
        index += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return length, index
        shift += 7
        if shift > 21:
            raise MalformedPacket("remaining length longer than 4 bytes")
    return None


@dataclass(slots=True)
class _Options:
    """A v5 subscription's options, as its client's SUBSCRIBE set them."""

    no_local: bool = False
    retain_as_published: bool = False
    identifier: int | None = None


@dataclass(slots=True)
class _Outgoing:
    message: Message
    qos: int
    retain: bool
    identifier: int | None
    released: bool = False  # QoS 2: PUBREC came, PUBREL sent, waiting for PUBCOMP


class Session:
    """A real client's session: the model's sink for it, while the model holds the client."""

    def __init__(self, listener: MqttListener, client_id: str) -> None:
        self.listener = listener
        self.client_id = client_id
        self.connection: Connection | None = None
        self.expiry: float | None = None  # seconds kept offline; None: until removed
        self.persistent = False
        self.expires_at: float | None = None
        self.options: dict[str, _Options] = {}
        self.inflight: dict[int, _Outgoing] = {}
        self.queue: deque[_Outgoing] = deque()
        self.queued_bytes = 0
        self.next_id = 0
        # QoS 2 packet ids received and delivered, waiting for the client's PUBREL.
        self.incoming_qos2: set[int] = set()
        self.will_due: tuple[float, codec.Will] | None = None
        self.gone = False

    # -- the model's sink ------------------------------------------------------------------

    def deliver(self, message: Message, subscription: Subscription) -> None:
        if self.gone:
            return
        options = self.options.get(subscription.topic)
        if options is not None and options.no_local and message.publisher == self.client_id:
            return
        qos = message.qos if message.qos < subscription.qos else subscription.qos
        # MQTT: a message forwarded to an established subscription goes with retain 0,
        # unless a v5 subscription asked to keep it.
        retain = message.retain and options is not None and options.retain_as_published
        identifier = options.identifier if options is not None else None
        self.send(message, qos, retain, identifier)

    def subscribed(self, subscription: Subscription, new: bool) -> None:
        connection = self.connection
        if connection is not None and not self.gone:
            self.send_retained(subscription.topic, subscription.qos, None)

    def removed(self, *, restart: bool) -> None:
        self.gone = True
        connection = self.connection
        if connection is not None:
            reason = codec.SERVER_SHUTTING_DOWN if restart else codec.ADMINISTRATIVE_ACTION
            connection.close(reason, will=not restart)
        else:
            pending = self.will_due
            self.listener.forget(self)
            if pending is not None and not restart:
                self.listener.publish_will(self.client_id, pending[1])

    # -- sending ---------------------------------------------------------------------------

    def send(self, message: Message, qos: int, retain: bool, identifier: int | None) -> None:
        connection = self.connection
        # Before its CONNACK (or after its close) a connection takes nothing.
        if connection is not None and connection.state != _CONNECTED:
            connection = None
        if qos == 0:
            if connection is not None and not connection.congested():
                connection.send_publish(message, 0, retain, 0, identifier, dup=False)
            return
        outgoing = _Outgoing(message, qos, retain, identifier)
        if (
            connection is None
            or connection.congested()
            or self.queue
            or len(self.inflight) >= connection.window
        ):
            self._enqueue(outgoing)
            return
        self._send_new(connection, outgoing)

    def send_retained(self, topic_filter: str, qos: int, identifier: int | None) -> None:
        # Retained messages are not sent to a shared subscription (MQTT 5, 4.8.2).
        if topic_filter.startswith(SHARE_PREFIX):
            return
        for retained in self.listener.broker.retained_matching(topic_filter):
            message = Message(retained.topic, retained.payload, retained.qos, True, "")
            self.send(message, min(retained.qos, qos), True, identifier)

    def _enqueue(self, outgoing: _Outgoing) -> None:
        size = len(outgoing.message.payload)
        listener = self.listener
        if (
            len(self.queue) >= listener.settings.max_mqueue_len
            or self.queued_bytes + size > MAX_QUEUED_BYTES
            or listener.queued_bytes + size > MAX_QUEUED_BYTES_TOTAL
        ):
            return  # dropped, as a broker drops past its queue length
        self.queue.append(outgoing)
        self.queued_bytes += size
        listener.queued_bytes += size

    def _packet_id(self) -> int:
        while True:
            self.next_id = self.next_id % 65535 + 1
            if self.next_id not in self.inflight:
                return self.next_id

    def _send_new(self, connection: Connection, outgoing: _Outgoing) -> None:
        packet_id = self._packet_id()
        self.inflight[packet_id] = outgoing
        connection.send_publish(
            outgoing.message,
            outgoing.qos,
            outgoing.retain,
            packet_id,
            outgoing.identifier,
            dup=False,
        )

    def drain(self) -> None:
        connection = self.connection
        if connection is None or connection.state != _CONNECTED:
            return
        queue = self.queue
        while queue and not connection.congested() and len(self.inflight) < connection.window:
            outgoing = queue.popleft()
            size = len(outgoing.message.payload)
            self.queued_bytes -= size
            self.listener.queued_bytes -= size
            self._send_new(connection, outgoing)

    def resume(self, connection: Connection) -> None:
        """A connection took the session up again: resend what is unacknowledged, in order."""
        for packet_id, outgoing in list(self.inflight.items()):
            if outgoing.released:
                connection.send(codec.encode_ack(codec.PUBREL, packet_id, connection.v5))
            else:
                connection.send_publish(
                    outgoing.message,
                    outgoing.qos,
                    outgoing.retain,
                    packet_id,
                    outgoing.identifier,
                    dup=True,
                )
        self.drain()

    def acknowledged(self, packet_id: int, qos: int) -> bool:
        outgoing = self.inflight.get(packet_id)
        if outgoing is None or outgoing.qos != qos:
            return False
        del self.inflight[packet_id]
        self.drain()
        return True

    def received(self, packet_id: int) -> bool:
        outgoing = self.inflight.get(packet_id)
        if outgoing is None or outgoing.qos != 2:
            return False
        outgoing.released = True
        return True

    def discard(self) -> None:
        """Release everything the session holds from the listener's budgets."""
        listener = self.listener
        listener.queued_bytes -= self.queued_bytes
        listener.subscription_total -= len(self.options)
        self.queued_bytes = 0
        self.queue.clear()
        self.inflight.clear()
        self.options.clear()
        self.incoming_qos2.clear()


class Connection(asyncio.Protocol):
    """One TCP connection: MQTT packets in, the model's answers out."""

    def __init__(self, listener: MqttListener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.state = _HANDSHAKE
        self.buffer = bytearray()
        self.buffered = 0  # this connection's share of listener.buffered
        self.partial_since: float | None = None
        self.opened = self.last_seen = _monotonic()
        self.keepalive_limit = 0.0
        self.session: Session | None = None
        self.client_id = ""
        self.v5 = False
        self.will: codec.Will | None = None
        self.window = MAX_INFLIGHT
        self.max_outgoing = PROTOCOL_MAX_PACKET + 5
        self.aliases: dict[int, str] = {}
        self.paused = False
        self.paused_since: float | None = None
        self.out: list[bytes] = []
        self.out_bytes = 0
        self.flush_scheduled = False
        self.superseded = False
        self.finished = False

    # -- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        listener = self.listener
        if len(listener.connections) >= MAX_CONNECTIONS or listener.handshakes >= MAX_HANDSHAKES:
            self.state = _CLOSED
            self.finished = True
            transport.abort()
            return
        listener.connections.add(self)
        listener.handshakes += 1
        transport.set_write_buffer_limits(high=MAX_WRITE_BUFFER)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._finish(will=True)

    def pause_writing(self) -> None:
        self.paused = True
        self.paused_since = _monotonic()
        # A client that does not read our answers may not send more that needs answering.
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        self.paused_since = None
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()
        session = self.session
        if session is not None and self.state == _CONNECTED:
            session.drain()

    def data_received(self, data: bytes) -> None:
        if self.state == _CLOSED:
            return
        self.last_seen = _monotonic()
        buffer = self.buffer
        view: bytes | bytearray
        if buffer:
            buffer += data
            view = buffer
        else:
            view = data
        size = len(view)
        pos = 0
        limit = self.listener.settings.max_packet_size
        try:
            while size - pos >= 2:
                header = _header(view, pos, size)
                if header is None:
                    break
                length, start = header
                if length > limit:
                    raise MalformedPacket("packet too large", codec.PACKET_TOO_LARGE)
                end = start + length
                if end > size:
                    break
                first = view[pos]
                body = bytes(view[start:end])
                pos = end
                self._dispatch(first, body)
                if self.state == _CLOSED:
                    return
        except MalformedPacket as exc:
            self.fail(exc.reason, str(exc))
            return
        except Exception:
            logger.exception("mqtt: client %r: unexpected error, closing", self.client_id)
            self.fail(codec.IMPLEMENTATION_SPECIFIC, "internal error")
            return
        if pos < size:
            if view is buffer:
                del buffer[:pos]
            else:
                self.buffer = buffer = bytearray(view[pos:])
            if self.partial_since is None or pos:
                self.partial_since = self.last_seen
        else:
            if buffer:
                buffer.clear()
            self.partial_since = None
        listener = self.listener
        listener.buffered += len(buffer) - self.buffered
        self.buffered = len(buffer)
        if listener.buffered > MAX_BUFFERED_BYTES:
            self.fail(codec.SERVER_BUSY, "listener buffer budget exhausted")

    # -- packets ---------------------------------------------------------------------------

    def _dispatch(self, first: int, body: bytes) -> None:
        kind = first >> 4
        flags = first & 0x0F
        if kind in _ZERO_FLAGS and flags:
            raise MalformedPacket("reserved flags set")
        if kind in _TWO_FLAGS and flags != 0x02:
            raise MalformedPacket("reserved flags not 0010")
        if self.state == _HANDSHAKE:
            if kind != codec.CONNECT:
                raise MalformedPacket("first packet is not CONNECT", codec.PROTOCOL_ERROR)
            self._connect(body)
            return
        v5 = self.v5
        if kind == codec.PUBLISH:
            self._publish(flags, body)
        elif kind == codec.PUBACK:
            packet_id, _ = codec.decode_packet_id(body, v5)
            self._session().acknowledged(packet_id, 1)
        elif kind == codec.PUBREC:
            packet_id, reason = codec.decode_packet_id(body, v5)
            session = self._session()
            if reason >= 0x80:
                session.acknowledged(packet_id, 2)
            elif session.received(packet_id):
                self.send(codec.encode_ack(codec.PUBREL, packet_id, v5))
            else:
                self.send(codec.encode_ack(codec.PUBREL, packet_id, v5, codec.PACKET_ID_NOT_FOUND))
        elif kind == codec.PUBREL:
            packet_id, _ = codec.decode_packet_id(body, v5)
            incoming = self._session().incoming_qos2
            known = packet_id in incoming
            incoming.discard(packet_id)
            reason = codec.SUCCESS if known else codec.PACKET_ID_NOT_FOUND
            self.send(codec.encode_ack(codec.PUBCOMP, packet_id, v5, reason))
        elif kind == codec.PUBCOMP:
            packet_id, _ = codec.decode_packet_id(body, v5)
            self._session().acknowledged(packet_id, 2)
        elif kind == codec.SUBSCRIBE:
            self._subscribe(body)
        elif kind == codec.UNSUBSCRIBE:
            self._unsubscribe(body)
        elif kind == codec.PINGREQ:
            if body:
                raise MalformedPacket("PINGREQ with a body")
            self.send(codec.PINGRESP_PACKET)
        elif kind == codec.DISCONNECT:
            self._disconnect(body)
        else:  # a second CONNECT, AUTH (no enhanced auth here), or a server's packet
            raise MalformedPacket(f"unexpected packet type {kind}", codec.PROTOCOL_ERROR)

    def _session(self) -> Session:
        session = self.session
        assert session is not None
        return session

    def _connect(self, body: bytes) -> None:
        listener = self.listener
        try:
            connect = codec.decode_connect(body)
        except UnsupportedProtocol:
            self._refuse("protocol", v5=False)
            return
        v5 = self.v5 = connect.proto_ver == 5
        client_id = connect.client_id
        assigned = None
        if not client_id:
            if connect.proto_ver == 3 or (not v5 and not connect.clean_start):
                self._refuse("client_id", v5)
                return
            client_id = assigned = f"nanoadmin-{uuid.uuid4().hex}"
        if len(client_id) > MAX_CLIENT_ID_BYTES or len(client_id.encode()) > MAX_CLIENT_ID_BYTES:
            self._refuse("client_id", v5)
            return
        properties = connect.properties
        if "authentication_method" in properties:
            self._refuse("auth_method", v5)
            return
        refusal = check_connect(listener.auth(), connect.username, connect.password)
        if refusal is not None:
            logger.info("mqtt: refused %r (username %r): %s", client_id, connect.username, refusal)
            self._refuse(refusal, v5)
            return
        will = connect.will
        if will is not None and not (is_valid_topic_name(will.topic) and topic_fits(will.topic)):
            if not v5:
                raise MalformedPacket(f"will topic {will.topic[:80]!r}")
            self._refuse("topic", v5)
            return
        receive_maximum = properties.get("receive_maximum", 65535)
        maximum_packet = properties.get("maximum_packet_size", PROTOCOL_MAX_PACKET + 5)
        expiry = properties.get("session_expiry_interval", 0)
        assert isinstance(receive_maximum, int) and isinstance(maximum_packet, int)
        assert isinstance(expiry, int)
        if not receive_maximum or not maximum_packet:
            raise MalformedPacket("receive maximum or maximum packet size 0", codec.PROTOCOL_ERROR)
        self.window = min(MAX_INFLIGHT, receive_maximum)
        self.max_outgoing = maximum_packet
        connack: dict[str, object] = {}
        if v5:
            if expiry > MAX_SESSION_EXPIRY:
                expiry = MAX_SESSION_EXPIRY
                connack["session_expiry_interval"] = expiry
            persistent = expiry > 0
        else:
            persistent = not connect.clean_start
        self.client_id = client_id
        session, present = listener.open_session(self, connect, client_id, persistent)
        session.expiry = float(expiry) if v5 else None
        self.state = _CONNECTED
        listener.handshakes -= 1
        self.will = will
        self.keepalive_limit = connect.keepalive * listener.settings.keepalive_multiplier
        if v5:
            connack.update(
                receive_maximum=RECEIVE_MAXIMUM,
                topic_alias_maximum=TOPIC_ALIAS_MAXIMUM,
                maximum_packet_size=listener.settings.max_packet_size,
                retain_available=1,
                wildcard_subscription_available=1,
                subscription_identifier_available=1,
                shared_subscription_available=1,
            )
            if assigned is not None:
                connack["assigned_client_identifier"] = assigned
        self.send(codec.encode_connack(v5, present, codec.SUCCESS, connack))
        session.resume(self)

    def _refuse(self, why: str, v5: bool) -> None:
        v3_code, v5_code = _REFUSALS[why]
        self.send(codec.encode_connack(v5, False, v5_code if v5 else v3_code))
        self.close(None, will=False)

    def _topic_of(self, publish: codec.Publish) -> str:
        topic = publish.topic
        if not self.v5:
            return topic
        alias = publish.properties.pop("topic_alias", None)
        if alias is None:
            return topic
        assert isinstance(alias, int)
        if not 1 <= alias <= TOPIC_ALIAS_MAXIMUM:
            raise MalformedPacket("topic alias out of range", codec.TOPIC_ALIAS_INVALID)
        if topic:
            self.aliases[alias] = topic
            return topic
        known = self.aliases.get(alias)
        if known is None:
            raise MalformedPacket("unknown topic alias", codec.PROTOCOL_ERROR)
        return known

    def _publish(self, flags: int, body: bytes) -> None:
        publish = codec.decode_publish(flags, body, self.v5)
        topic = self._topic_of(publish)
        if not (is_valid_topic_name(topic) and topic_fits(topic)):
            raise MalformedPacket(f"topic name {topic[:80]!r}", codec.TOPIC_NAME_INVALID)
        qos, packet_id = publish.qos, publish.packet_id
        if qos == 2:
            incoming = self._session().incoming_qos2
            if packet_id in incoming:
                # A resent PUBLISH: delivered already (method A), acknowledge again.
                self.send(codec.encode_ack(codec.PUBREC, packet_id, self.v5))
                return
            if len(incoming) >= RECEIVE_MAXIMUM:
                raise MalformedPacket("receive maximum exceeded", codec.RECEIVE_MAXIMUM_EXCEEDED)
            incoming.add(packet_id)
        listener = self.listener
        retain = publish.retain and listener.may_retain(topic, publish.payload)
        properties = publish.properties or None
        deliveries = listener.publish(
            topic, publish.payload, qos, retain, self.client_id, properties
        )
        if qos:
            reason = codec.SUCCESS if deliveries else codec.NO_MATCHING_SUBSCRIBERS
            kind = codec.PUBACK if qos == 1 else codec.PUBREC
            self.send(codec.encode_ack(kind, packet_id, self.v5, reason))

    def _subscribe(self, body: bytes) -> None:
        v5 = self.v5
        packet_id, requests, identifier = codec.decode_subscribe(body, v5)
        if len(requests) > MAX_FILTERS_PER_PACKET:
            raise MalformedPacket("too many filters in one SUBSCRIBE", codec.QUOTA_EXCEEDED)
        session = self._session()
        listener = self.listener
        broker = listener.broker
        codes: list[int] = []
        retained: list[tuple[str, int, int]] = []
        for request in requests:
            topic_filter = request.topic_filter
            shared = topic_filter.startswith(SHARE_PREFIX)
            if shared and request.no_local:
                raise MalformedPacket("no local on a shared subscription", codec.PROTOCOL_ERROR)
            if not (is_valid_filter(topic_filter) and topic_fits(topic_filter)):
                codes.append(codec.TOPIC_FILTER_INVALID if v5 else 0x80)
                continue
            known = topic_filter in session.options
            if not known and (
                len(session.options) >= MAX_SUBSCRIPTIONS_PER_CLIENT
                or listener.subscription_total >= MAX_SUBSCRIPTIONS
            ):
                codes.append(codec.QUOTA_EXCEEDED if v5 else 0x80)
                continue
            try:
                new = broker.subscribe(self.client_id, topic_filter, request.qos, notify=False)
            except ModelError:
                codes.append(codec.UNSPECIFIED_ERROR if v5 else 0x80)
                continue
            if not known:
                listener.subscription_total += 1
            session.options[topic_filter] = _Options(
                request.no_local, request.retain_as_published, identifier
            )
            codes.append(request.qos)
            handling = request.retain_handling
            if handling == 0 or (handling == 1 and new):
                retained.append((topic_filter, request.qos, 0))
        self.send(codec.encode_suback(packet_id, codes, v5))
        for topic_filter, qos, _ in retained:
            session.send_retained(topic_filter, qos, identifier)

    def _unsubscribe(self, body: bytes) -> None:
        packet_id, filters = codec.decode_unsubscribe(body, self.v5)
        if len(filters) > MAX_FILTERS_PER_PACKET:
            raise MalformedPacket("too many filters in one UNSUBSCRIBE", codec.QUOTA_EXCEEDED)
        session = self._session()
        listener = self.listener
        codes: list[int] = []
        for topic_filter in filters:
            try:
                removed = listener.broker.unsubscribe(self.client_id, topic_filter)
            except ModelError:
                removed = False
            if session.options.pop(topic_filter, None) is not None:
                listener.subscription_total -= 1
            codes.append(codec.SUCCESS if removed else codec.NO_SUBSCRIPTION_EXISTED)
        self.send(codec.encode_unsuback(packet_id, codes, self.v5))

    def _disconnect(self, body: bytes) -> None:
        reason, properties = codec.decode_disconnect(body, self.v5)
        session = self._session()
        expiry = properties.get("session_expiry_interval")
        if expiry is not None:
            assert isinstance(expiry, int)
            if expiry and not session.expiry:
                raise MalformedPacket("session expiry set at DISCONNECT", codec.PROTOCOL_ERROR)
            session.expiry = float(min(expiry, MAX_SESSION_EXPIRY))
            session.persistent = expiry > 0
        self.close(None, will=reason == codec.DISCONNECT_WITH_WILL)

    # -- writing ---------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.state == _CLOSED:
            return
        self.out.append(data)
        self.out_bytes += len(data)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            loop = self.loop or asyncio.get_running_loop()
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        out = self.out
        if not out:
            return
        transport = self.transport
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self.out_bytes = 0
        if transport is not None and not transport.is_closing():
            transport.write(data)
            session = self.session
            if session is not None and session.queue and self.state == _CONNECTED:
                session.drain()

    def congested(self) -> bool:
        """Whether what waits to be written (ours and the transport's) is past the bound."""
        if self.paused:
            return True
        transport = self.transport
        pending = transport.get_write_buffer_size() if transport is not None else 0
        return self.out_bytes + pending > MAX_WRITE_BUFFER

    def send_publish(
        self,
        message: Message,
        qos: int,
        retain: bool,
        packet_id: int,
        identifier: int | None,
        *,
        dup: bool,
    ) -> None:
        topic, properties = self.listener.encoded(message, self.v5, identifier)
        data = codec.encode_publish(topic, message.payload, qos, retain, dup, packet_id, properties)
        if len(data) > self.max_outgoing:
            # MQTT 5: what a client said it cannot take is discarded, as if delivered.
            session = self.session
            if packet_id and session is not None:
                session.inflight.pop(packet_id, None)
            return
        self.send(data)

    # -- closing ---------------------------------------------------------------------------

    def fail(self, reason: int, why: str) -> None:
        logger.info("mqtt: closing %r: %s", self.client_id or self._peer(), why)
        self.close(reason, will=True)

    def close(self, reason: int | None, *, will: bool) -> None:
        """Close (an MQTT 5 DISCONNECT with ``reason`` first, once connected) and settle the
        session at once, so the model is right before the socket is gone."""
        if self.state == _CLOSED:
            return
        if reason is not None and self.v5 and self.state == _CONNECTED:
            self.send(codec.encode_disconnect(reason))
        self.flush()
        self._finish(will=will)
        transport = self.transport
        if transport is not None:
            transport.close()

    def take_over(self) -> None:
        """Another connection takes this client id: close, leaving the session to it."""
        self.superseded = True
        will = self.will
        self.close(codec.SESSION_TAKEN_OVER, will=False)
        if will is not None:
            self.listener.publish_will(self.client_id, will)

    def abort(self, why: str) -> None:
        logger.info("mqtt: closing %r: %s", self.client_id or self._peer(), why)
        self._finish(will=True)
        transport = self.transport
        if transport is not None:
            transport.abort()

    def _finish(self, *, will: bool) -> None:
        if self.finished:
            return
        self.finished = True
        listener = self.listener
        was = self.state
        self.state = _CLOSED
        listener.connections.discard(self)
        if was == _HANDSHAKE:
            listener.handshakes -= 1
        listener.buffered -= self.buffered
        self.buffered = 0
        self.buffer = bytearray()
        session = self.session
        if session is None or self.superseded:
            return
        if session.connection is self:
            session.connection = None
        pending = self.will if will else None
        listener.connection_ended(session, pending)

    def _peer(self) -> str:
        transport = self.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        return str(peer[:2]) if isinstance(peer, tuple) else "a client"


class MqttListener:
    """The TCP server and everything real clients hold, with its bounds and deadlines."""

    def __init__(self, runtime: Runtime, settings: MqttSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.broker: BrokerModel = runtime.broker
        self.connections: set[Connection] = set()
        self.handshakes = 0
        self.buffered = 0
        self.queued_bytes = 0
        self.subscription_total = 0
        self.offline: dict[str, Session] = {}
        self.port = settings.port
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._encoded_for: Message | None = None
        self._encoded: tuple[bytes, bytes, bytes] = (b"", b"", b"")

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self),
            self.settings.host,
            self.settings.port,
            backlog=LISTEN_BACKLOG,
            reuse_address=True,
        )
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._sweeper = loop.create_task(self._sweep())
        logger.info("MQTT listener on %s:%d", self.settings.host, self.port)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close(codec.SERVER_SHUTTING_DOWN, will=False)
        if self._server is not None:
            await self._server.wait_closed()

    # -- auth ------------------------------------------------------------------------------

    def auth(self) -> MqttAuth:
        """The auth section of the settings in force (a reload brings new ones)."""
        return self.runtime.settings.mqtt.auth

    # -- sessions --------------------------------------------------------------------------

    def open_session(
        self, connection: Connection, connect: codec.Connect, client_id: str, persistent: bool
    ) -> tuple[Session, bool]:
        broker = self.broker
        old = broker.sink(client_id)
        old_session = old if isinstance(old, Session) else None
        if old_session is not None and old_session.connection is not None:
            old_session.connection.take_over()
        resume = not connect.clean_start and client_id in broker
        pending_will = None
        if old_session is not None and resume:
            session = old_session
            session.will_due = None  # back within the will delay: no will
        else:
            session = Session(self, client_id)
            if old_session is not None:
                pending_will = old_session.will_due
                old_session.gone = True
                self.forget(old_session)
        self.offline.pop(client_id, None)
        session.persistent = persistent
        session.expires_at = None
        session.connection = connection
        connection.session = session
        will = connect.will
        record = Client(
            client_id=client_id,
            username=connect.username or "",
            keepalive=connect.keepalive,
            conn_state="connected",
            clean_start=connect.clean_start,
            proto_ver=connect.proto_ver,
            will_topic=will.topic if will is not None else None,
            will_msg=will.payload.decode("utf-8", "replace") if will is not None else None,
            connected_at=time.time(),
        )
        present = broker.open_session(record, session, resume=resume)
        if pending_will is not None:
            self.publish_will(client_id, pending_will[1])
        return session, present

    def connection_ended(self, session: Session, will: codec.Will | None) -> None:
        """A connection closed: keep its session offline or drop it, then its will."""
        if session.gone:
            self.forget(session)
            if will is not None:
                self.publish_will(session.client_id, will)
            return
        delay = 0
        if will is not None:
            raw = will.properties.get("will_delay_interval", 0)
            delay = raw if isinstance(raw, int) else 0
        if session.persistent and self.broker.close_session(session.client_id, session, keep=True):
            now = _monotonic()
            if session.expiry is not None:
                session.expires_at = now + session.expiry
            self.offline[session.client_id] = session
            if will is not None and delay > 0:
                session.will_due = (now + min(delay, session.expiry or delay), will)
                will = None
            while len(self.offline) > MAX_OFFLINE_SESSIONS:
                self.expire(next(iter(self.offline.values())))
        else:
            self.broker.close_session(session.client_id, session, keep=False)
            session.gone = True
            self.forget(session)
        if will is not None:
            self.publish_will(session.client_id, will)

    def expire(self, session: Session) -> None:
        """Drop an offline session (expired, or the oldest past the bound), with its will."""
        pending = session.will_due
        self.broker.close_session(session.client_id, session, keep=False)
        session.gone = True
        self.forget(session)
        if pending is not None:
            self.publish_will(session.client_id, pending[1])

    def forget(self, session: Session) -> None:
        if self.offline.get(session.client_id) is session:
            del self.offline[session.client_id]
        session.will_due = None
        session.discard()

    # -- messages --------------------------------------------------------------------------

    def may_retain(self, topic: str, payload: bytes) -> bool:
        """Whether a real client's retained message fits the retained-store bounds."""
        broker = self.broker
        if not payload or broker.is_retained(topic):
            return broker.retained_bytes + len(payload) <= MAX_RETAINED_BYTES or not payload
        return (
            broker.retained_count < MAX_RETAINED_MESSAGES
            and broker.retained_bytes + len(payload) <= MAX_RETAINED_BYTES
        )

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        publisher: str,
        properties: Mapping[str, object] | None,
    ) -> int:
        deliveries = self.broker.publish(
            topic, payload, qos=qos, retain=retain, client_id=publisher, properties=properties
        )
        self.runtime.config.bridges.forward(topic, len(payload))
        return deliveries

    def publish_will(self, client_id: str, will: codec.Will) -> None:
        retain = will.retain and self.may_retain(will.topic, will.payload)
        properties = {k: v for k, v in will.properties.items() if k != "will_delay_interval"}
        self.publish(will.topic, will.payload, will.qos, retain, client_id, properties or None)

    def encoded(
        self, message: Message, v5: bool, identifier: int | None
    ) -> tuple[bytes, bytes | None]:
        """The topic (with its length) and v5 property block of ``message``: each message goes
        to every subscriber in a row, so one remembered encoding serves them all."""
        if message is not self._encoded_for:
            given = message.properties or {}
            # Only what a message carries along (the HTTP publish accepts a few more names).
            inner = codec.property_list(
                {name: given[name] for name in codec.MESSAGE_PROPERTIES if name in given}
            )
            block = codec.varint(len(inner)) + inner
            self._encoded = (codec.encode_string(message.topic), inner, block)
            self._encoded_for = message
        topic, inner, block = self._encoded
        if not v5:
            return topic, None
        if identifier is None:
            return topic, block
        inner = codec.varint(0x0B) + codec.varint(identifier) + inner
        return topic, codec.varint(len(inner)) + inner

    # -- deadlines -------------------------------------------------------------------------

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                self.sweep(_monotonic())
            except Exception:
                logger.exception("mqtt: sweeping deadlines failed")

    def sweep(self, now: float) -> None:
        """Close what is past its deadline; drop expired sessions; publish delayed wills."""
        for connection in list(self.connections):
            if connection.state == _HANDSHAKE:
                if now - connection.opened > CONNECT_TIMEOUT:
                    connection.abort("no CONNECT in time")
                continue
            limit = connection.keepalive_limit
            if limit and now - connection.last_seen > limit:
                connection.fail(codec.KEEP_ALIVE_TIMEOUT, "keepalive timeout")
            elif (
                connection.paused_since is not None
                and now - connection.paused_since > WRITE_STALL_TIMEOUT
            ):
                connection.abort("reads nothing of what it is sent")
            elif (
                connection.partial_since is not None
                and now - connection.partial_since > PACKET_TIMEOUT
            ):
                connection.fail(codec.MALFORMED, "a packet left unfinished")
        for session in list(self.offline.values()):
            if session.expires_at is not None and now >= session.expires_at:
                self.expire(session)
            elif session.will_due is not None and now >= session.will_due[0]:
                will = session.will_due[1]
                session.will_due = None
                self.publish_will(session.client_id, will)
