"""MQTT 3.1, 3.1.1 and 5.0 packets, the server's side: decode what clients send, encode replies.

Decoders take a packet's body (what follows the fixed header) and raise :class:`MalformedPacket`
for anything the specification calls malformed or a protocol error; nothing else escapes them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Packet types (the high nibble of the first byte).
CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14
AUTH = 15

# MQTT 5 reason codes used here.
SUCCESS = 0x00
DISCONNECT_WITH_WILL = 0x04
NO_MATCHING_SUBSCRIBERS = 0x10
NO_SUBSCRIPTION_EXISTED = 0x11
UNSPECIFIED_ERROR = 0x80
MALFORMED = 0x81
PROTOCOL_ERROR = 0x82
IMPLEMENTATION_SPECIFIC = 0x83
UNSUPPORTED_PROTOCOL_VERSION = 0x84
CLIENT_ID_NOT_VALID = 0x85
BAD_USERNAME_OR_PASSWORD = 0x86
NOT_AUTHORIZED = 0x87
SERVER_UNAVAILABLE = 0x88
SERVER_BUSY = 0x89
BAD_AUTHENTICATION_METHOD = 0x8C
KEEP_ALIVE_TIMEOUT = 0x8D
SESSION_TAKEN_OVER = 0x8E
TOPIC_FILTER_INVALID = 0x8F
TOPIC_NAME_INVALID = 0x90
PACKET_ID_NOT_FOUND = 0x92
RECEIVE_MAXIMUM_EXCEEDED = 0x93
TOPIC_ALIAS_INVALID = 0x94
PACKET_TOO_LARGE = 0x95
QUOTA_EXCEEDED = 0x97
ADMINISTRATIVE_ACTION = 0x98
SERVER_SHUTTING_DOWN = 0x8B

# MQTT 3.1.1 CONNACK return codes.
V3_ACCEPTED = 0x00
V3_UNACCEPTABLE_PROTOCOL = 0x01
V3_IDENTIFIER_REJECTED = 0x02
V3_SERVER_UNAVAILABLE = 0x03
V3_BAD_USERNAME_OR_PASSWORD = 0x04
V3_NOT_AUTHORIZED = 0x05

PROTOCOLS = {("MQIsdp", 3), ("MQTT", 4), ("MQTT", 5)}

_BYTE, _U16, _U32, _VARINT, _STRING, _BINARY, _PAIR = range(7)
# id -> (name, kind); names as the HTTP publish names the message properties.
PROPERTIES: dict[int, tuple[str, int]] = {
    0x01: ("payload_format_indicator", _BYTE),
    0x02: ("message_expiry_interval", _U32),
    0x03: ("content_type", _STRING),
    0x08: ("response_topic", _STRING),
    0x09: ("correlation_data", _BINARY),
    0x0B: ("subscription_identifier", _VARINT),
    0x11: ("session_expiry_interval", _U32),
    0x12: ("assigned_client_identifier", _STRING),
    0x13: ("server_keep_alive", _U16),
    0x15: ("authentication_method", _STRING),
    0x16: ("authentication_data", _BINARY),
    0x17: ("request_problem_information", _BYTE),
    0x18: ("will_delay_interval", _U32),
    0x19: ("request_response_information", _BYTE),
    0x1A: ("response_information", _STRING),
    0x1C: ("server_reference", _STRING),
    0x1F: ("reason_string", _STRING),
    0x21: ("receive_maximum", _U16),
    0x22: ("topic_alias_maximum", _U16),
    0x23: ("topic_alias", _U16),
    0x24: ("maximum_qos", _BYTE),
    0x25: ("retain_available", _BYTE),
    0x26: ("user_properties", _PAIR),
    0x27: ("maximum_packet_size", _U32),
    0x28: ("wildcard_subscription_available", _BYTE),
    0x29: ("subscription_identifier_available", _BYTE),
    0x2A: ("shared_subscription_available", _BYTE),
}
_IDS = {name: (ident, kind) for ident, (name, kind) in PROPERTIES.items()}
_MESSAGE = frozenset({0x01, 0x02, 0x03, 0x08, 0x09, 0x26})  # what a PUBLISH and a will carry along
ALLOWED: dict[str, frozenset[int]] = {
    "connect": frozenset({0x11, 0x15, 0x16, 0x17, 0x19, 0x21, 0x22, 0x26, 0x27}),
    "will": _MESSAGE | {0x18},
    "publish": _MESSAGE | {0x23},
    "ack": frozenset({0x1F, 0x26}),
    "subscribe": frozenset({0x0B, 0x26}),
    "unsubscribe": frozenset({0x26}),
    "disconnect": frozenset({0x11, 0x1F, 0x26, 0x1C}),
}
MESSAGE_PROPERTIES = tuple(PROPERTIES[i][0] for i in sorted(_MESSAGE))


class MalformedPacket(Exception):
    """A packet the specification calls malformed or a protocol error; ``reason`` is MQTT 5's."""

    def __init__(self, message: str, reason: int = MALFORMED) -> None:
        super().__init__(message)
        self.reason = reason


class UnsupportedProtocol(Exception):
    """A CONNECT of a protocol name and level other than MQTT 3.1, 3.1.1 or 5."""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def left(self) -> int:
        return len(self.data) - self.pos

    def _take(self, count: int) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise MalformedPacket("packet ends early")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise MalformedPacket("packet ends early")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self) -> int:
        value: int = struct.unpack_from("!H", self._take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack_from("!I", self._take(4))[0]
        return value

    def varint(self) -> int:
        value = 0
        for shift in (0, 7, 14, 21):
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise MalformedPacket("variable byte integer longer than 4 bytes")

    def binary(self) -> bytes:
        return self._take(self.u16())

    def string(self) -> str:
        return decode_string(self.binary())

    def rest(self) -> bytes:
        chunk = self.data[self.pos :]
        self.pos = len(self.data)
        return chunk


def decode_string(raw: bytes) -> str:
    """A UTF-8 string as MQTT allows it: well formed (no surrogates), no U+0000."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPacket("string is not valid UTF-8") from None
    if "\0" in text:
        raise MalformedPacket("string contains U+0000")
    return text


def _properties(reader: _Reader, allowed: frozenset[int]) -> dict[str, object]:
    length = reader.varint()
    end = reader.pos + length
    if end > len(reader.data):
        raise MalformedPacket("properties run past the packet")
    found: dict[str, object] = {}
    while reader.pos < end:
        ident = reader.varint()
        known = PROPERTIES.get(ident)
        if known is None or ident not in allowed:
            raise MalformedPacket(f"property 0x{ident:02x} not allowed here", PROTOCOL_ERROR)
        name, kind = known
        value: object
        if kind == _BYTE:
            value = reader.byte()
        elif kind == _U16:
            value = reader.u16()
        elif kind == _U32:
            value = reader.u32()
        elif kind == _VARINT:
            value = reader.varint()
        elif kind == _STRING:
            value = reader.string()
        elif kind == _BINARY:
            value = reader.binary()
        else:
            pair = (reader.string(), reader.string())
            pairs = found.setdefault(name, [])
            assert isinstance(pairs, list)
            pairs.append(pair)
            continue
        if name in found:
            raise MalformedPacket(f"property {name} given twice", PROTOCOL_ERROR)
        found[name] = value
    if reader.pos != end:
        raise MalformedPacket("properties run past their length")
    return found


# -- what clients send ---------------------------------------------------------------------


@dataclass(slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class Connect:
    proto_name: str
    proto_ver: int
    clean_start: bool
    keepalive: int
    client_id: str
    username: str | None
    password: bytes | None
    will: Will | None
    properties: dict[str, object]


def decode_connect(body: bytes) -> Connect:
    """A CONNECT body; UnsupportedProtocol (answered with a CONNACK) for another protocol."""
    reader = _Reader(body)
    name_raw = reader.binary()
    level = reader.byte()
    name = name_raw.decode("latin-1")
    if (name, level) not in PROTOCOLS:
        if name in ("MQTT", "MQIsdp"):
            raise UnsupportedProtocol(f"{name} level {level}")
        raise MalformedPacket(f"protocol name {name!r}", PROTOCOL_ERROR)
    flags = reader.byte()
    v5 = level == 5
    if flags & 0x01:
        raise MalformedPacket("CONNECT reserved flag set")
    will_flag = bool(flags & 0x04)
    will_qos = (flags >> 3) & 0x03
    will_retain = bool(flags & 0x20)
    has_password = bool(flags & 0x40)
    has_username = bool(flags & 0x80)
    if will_qos == 3 or (not will_flag and (will_qos or will_retain)):
        raise MalformedPacket("CONNECT will flags")
    if has_password and not has_username and not v5:
        raise MalformedPacket("password without a username")
    keepalive = reader.u16()
    properties = _properties(reader, ALLOWED["connect"]) if v5 else {}
    client_id = reader.string()
    will = None
    if will_flag:
        will_properties = _properties(reader, ALLOWED["will"]) if v5 else {}
        will_topic = reader.string()
        will = Will(will_topic, reader.binary(), will_qos, will_retain, will_properties)
    username = reader.string() if has_username else None
    password = reader.binary() if has_password else None
    if reader.left():
        raise MalformedPacket("bytes after the CONNECT payload")
    return Connect(
        name,
        level,
        bool(flags & 0x02),
        keepalive,
        client_id,
        username,
        password,
        will,
        properties,
    )


@dataclass(slots=True)
class Publish:
    topic: str
    qos: int
    retain: bool
    dup: bool
    packet_id: int
    payload: bytes
    properties: dict[str, object]


def decode_publish(flags: int, body: bytes, v5: bool) -> Publish:
    qos = (flags >> 1) & 0x03
    dup = bool(flags & 0x08)
    if qos == 3:
        raise MalformedPacket("PUBLISH qos 3")
    if dup and not qos:
        raise MalformedPacket("PUBLISH dup flag on qos 0")
    reader = _Reader(body)
    topic = reader.string()
    packet_id = 0
    if qos:
        packet_id = reader.u16()
        if not packet_id:
            raise MalformedPacket("packet identifier 0")
    properties = _properties(reader, ALLOWED["publish"]) if v5 else {}
    return Publish(topic, qos, bool(flags & 0x01), dup, packet_id, reader.rest(), properties)


def decode_packet_id(body: bytes, v5: bool) -> tuple[int, int]:
    """PUBACK, PUBREC, PUBREL or PUBCOMP: (packet id, reason code)."""
    reader = _Reader(body)
    packet_id = reader.u16()
    if not packet_id:
        raise MalformedPacket("packet identifier 0")
    reason = SUCCESS
    if reader.left():
        if not v5:
            raise MalformedPacket("bytes after the packet identifier")
        reason = reader.byte()
        if reader.left():
            _properties(reader, ALLOWED["ack"])
        if reader.left():
            raise MalformedPacket("bytes after the properties")
    return packet_id, reason


@dataclass(slots=True)
class SubscribeRequest:
    topic_filter: str
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0


def decode_subscribe(body: bytes, v5: bool) -> tuple[int, list[SubscribeRequest], int | None]:
    """(packet id, the filters asked for, the v5 subscription identifier or None)."""
    reader = _Reader(body)
    packet_id = reader.u16()
    if not packet_id:
        raise MalformedPacket("packet identifier 0")
    identifier = None
    if v5:
        properties = _properties(reader, ALLOWED["subscribe"])
        raw = properties.get("subscription_identifier")
        if raw is not None:
            assert isinstance(raw, int)
            if not raw:
                raise MalformedPacket("subscription identifier 0", PROTOCOL_ERROR)
            identifier = raw
    requests: list[SubscribeRequest] = []
    while reader.left():
        topic_filter = reader.string()
        options = reader.byte()
        qos = options & 0x03
        if qos == 3 or options & (0xC0 if v5 else 0xFC):
            raise MalformedPacket("SUBSCRIBE options")
        retain_handling = (options >> 4) & 0x03
        if retain_handling == 3:
            raise MalformedPacket("SUBSCRIBE retain handling 3", PROTOCOL_ERROR)
        requests.append(
            SubscribeRequest(
                topic_filter, qos, bool(options & 0x04), bool(options & 0x08), retain_handling
            )
        )
    if not requests:
        raise MalformedPacket("SUBSCRIBE without a filter", PROTOCOL_ERROR)
    return packet_id, requests, identifier


def decode_unsubscribe(body: bytes, v5: bool) -> tuple[int, list[str]]:
    reader = _Reader(body)
    packet_id = reader.u16()
    if not packet_id:
        raise MalformedPacket("packet identifier 0")
    if v5:
        _properties(reader, ALLOWED["unsubscribe"])
    filters: list[str] = []
    while reader.left():
        filters.append(reader.string())
    if not filters:
        raise MalformedPacket("UNSUBSCRIBE without a filter", PROTOCOL_ERROR)
    return packet_id, filters


def decode_disconnect(body: bytes, v5: bool) -> tuple[int, dict[str, object]]:
    """(reason code, properties); MQTT 3 has neither."""
    if not body:
        return SUCCESS, {}
    if not v5:
        raise MalformedPacket("DISCONNECT with a body")
    reader = _Reader(body)
    reason = reader.byte()
    properties = _properties(reader, ALLOWED["disconnect"]) if reader.left() else {}
    if reader.left():
        raise MalformedPacket("bytes after the properties")
    return reason, properties


# -- what the server sends -----------------------------------------------------------------


def varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_SMALL = [bytes((value,)) for value in range(0x80)]


def packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


def encode_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def _encode_binary(raw: bytes) -> bytes:
    return struct.pack("!H", len(raw)) + raw


def encode_properties(properties: Mapping[str, object]) -> bytes:
    """A v5 property block (length first) from names of :data:`PROPERTIES`."""
    inner = property_list(properties)
    return varint(len(inner)) + inner


def property_list(properties: Mapping[str, object]) -> bytes:
    """The properties of a v5 block, without its length.

    Values come from clients or from the HTTP publish: numbers may be floats, correlation data
    text, user properties a dict or pairs. One that does not fit its property is left out.
    """
    out = bytearray()
    for name, value in properties.items():
        known = _IDS.get(name)
        if known is None or value is None:
            continue
        ident, kind = known
        try:
            out += _encode_property(ident, kind, value)
        except (TypeError, ValueError, OverflowError, struct.error, UnicodeEncodeError):
            continue
    return bytes(out)


def _number(value: object, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    number = int(value)
    if number != value or not 0 <= number <= maximum:
        raise ValueError("out of range")
    return number


def _encode_property(ident: int, kind: int, value: object) -> bytes:
    head = varint(ident)
    if kind == _BYTE:
        return head + bytes((_number(value, 0xFF),))
    if kind == _U16:
        return head + struct.pack("!H", _number(value, 0xFFFF))
    if kind == _U32:
        return head + struct.pack("!I", _number(value, 0xFFFFFFFF))
    if kind == _VARINT:
        if isinstance(value, list | tuple):
            return b"".join(head + varint(_number(item, 268_435_455)) for item in value)
        return head + varint(_number(value, 268_435_455))
    if kind == _STRING:
        if not isinstance(value, str):
            raise TypeError("not a string")
        return head + encode_string(value)
    if kind == _BINARY:
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not isinstance(value, bytes):
            raise TypeError("not bytes")
        return head + _encode_binary(value)
    pairs: Iterable[object] = value.items() if isinstance(value, Mapping) else value  # type: ignore[assignment]
    out = bytearray()
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise TypeError("not a pair")
        key, text = pair
        if not isinstance(key, str) or not isinstance(text, str):
            raise TypeError("not a pair of strings")
        out += head + encode_string(key) + encode_string(text)
    return bytes(out)


def encode_connack(
    v5: bool, session_present: bool, code: int, properties: Mapping[str, object] | None = None
) -> bytes:
    body = bytes((1 if session_present else 0, code))
    if v5:
        body += encode_properties(properties or {})
    return packet(CONNACK << 4, body)


def encode_publish(
    topic: bytes,
    payload: bytes,
    qos: int,
    retain: bool,
    dup: bool,
    packet_id: int,
    properties: bytes | None,
) -> bytes:
    """``topic`` already UTF-8 with its length; ``properties`` an encoded block for v5 only."""
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    head = topic + (struct.pack("!H", packet_id) if qos else b"")
    if properties is not None:
        head += properties
    return bytes((first,)) + varint(len(head) + len(payload)) + head + payload


def encode_ack(kind: int, packet_id: int, v5: bool, reason: int = SUCCESS) -> bytes:
    """PUBACK, PUBREC, PUBREL (flags 0b0010) or PUBCOMP."""
    first = (kind << 4) | (0x02 if kind == PUBREL else 0)
    if v5 and reason != SUCCESS:
        return bytes((first, 3)) + struct.pack("!HB", packet_id, reason)
    return bytes((first, 2)) + struct.pack("!H", packet_id)


def encode_suback(packet_id: int, codes: list[int], v5: bool) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if v5 else b"") + bytes(codes)
    return packet(SUBACK << 4, body)


def encode_unsuback(packet_id: int, codes: list[int], v5: bool) -> bytes:
    if not v5:
        return packet(UNSUBACK << 4, struct.pack("!H", packet_id))
    return packet(UNSUBACK << 4, struct.pack("!H", packet_id) + b"\x00" + bytes(codes))


PINGRESP_PACKET = bytes((PINGRESP << 4, 0))


def encode_disconnect(reason: int) -> bytes:
    """A server's MQTT 5 DISCONNECT."""
    return packet(DISCONNECT << 4, bytes((reason,)) + b"\x00")
