"""Helpers for the MQTT listener's tests: a paho client that waits, raw packets, the HTTP API."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import queue
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from tests.support import write_conf
from tests.support.processes import ServerProcess, free_port, running_server

V31 = MQTTProtocolVersion.MQTTv31
V311 = MQTTProtocolVersion.MQTTv311
V5 = MQTTProtocolVersion.MQTTv5
AUTH_HEADER = "Basic " + base64.b64encode(b"admin:public").decode()
TIMEOUT = 5.0


def wait_until(check: Callable[[], object], timeout: float = TIMEOUT, step: float = 0.02) -> Any:
    """``check()``'s first truthy value, polled until ``timeout``; AssertionError after."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        time.sleep(step)


# -- the HTTP API ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    port: int

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Authorization": AUTH_HEADER},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        text = raw.decode()
        return status, json.loads(text) if text.startswith(("{", "[")) else text

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, body: object) -> Any:
        status, reply = self.call("POST", path, body)
        assert status == 200, (path, status, reply)
        return reply

    def client(self, client_id: str) -> dict[str, Any] | None:
        data = self.get(f"/api/v4/clients?clientid={client_id}")["data"]
        return data[0] if data else None

    def subscriptions(self, client_id: str) -> list[tuple[str, int]]:
        data = self.get(f"/api/v4/subscriptions/{client_id}")["data"]
        return [(s["topic"], s["qos"]) for s in data]

    def prometheus(self) -> dict[str, float]:
        _, text = self.call("GET", "/api/v4/prometheus")
        values = {}
        for line in str(text).splitlines():
            if not line.startswith("#"):
                name, value = line.split()
                values[name.removeprefix("nanomq_")] = float(value)
        return values


# -- servers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MqttServer:
    process: ServerProcess
    mqtt_port: int

    @property
    def api(self) -> Api:
        return Api(self.process.port)


def write_mqtt_conf(
    folder: Path,
    mqtt_port: int,
    *,
    allow_anonymous: bool = True,
    passwords: dict[str, str] | None = None,
    max_packet_size: str = "64KB",
) -> Path:
    auth = [f"allow_anonymous = {str(allow_anonymous).lower()}"]
    if passwords is not None:
        lines = "\n".join(f'"{user}": "{password}"' for user, password in passwords.items())
        (folder / "nanomq_pwd.conf").write_text(lines + "\n")
        auth.append('password = {include "nanomq_pwd.conf"}')
    extra = f"""
listeners.tcp {{ bind = "127.0.0.1:{mqtt_port}" }}
mqtt {{ max_packet_size = {max_packet_size}, keepalive_multiplier = 1.5 }}
auth {{
  {chr(10).join(auth)}
}}
nanoadmin {{ mqtt {{ enable = true }} }}
"""
    return write_conf(folder, "  port = 8081\n  username = admin\n  password = public", extra)


@contextmanager
def mqtt_server(folder: Path, *args: str, **conf: Any) -> Iterator[MqttServer]:
    """A real ``nanoadmin start`` process with its MQTT listener enabled by the config."""
    mqtt_port = free_port()
    path = write_mqtt_conf(folder, mqtt_port, **conf)
    with running_server("--conf", str(path), *args) as process:
        wait_until(lambda: _accepts(mqtt_port), timeout=10)
        yield MqttServer(process, mqtt_port)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


# -- a paho client that waits ------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties | None

    def property(self, name: str) -> Any:
        return getattr(self.properties, name, None)


class Paho:
    """paho-mqtt on its own thread, with calls that wait for the broker's answer."""

    def __init__(
        self, client_id: str, protocol: MQTTProtocolVersion = V311, *, clean: bool = True
    ) -> None:
        self.protocol = protocol
        self.clean = clean
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            clean_session=None if protocol == V5 else clean,
        )
        self.messages: queue.Queue[Received] = queue.Queue()
        self.connack: queue.Queue[tuple[ReasonCode, dict[str, Any], Properties | None]] = (
            queue.Queue()
        )
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.disconnected = threading.Event()
        self.disconnect_reason: int | None = None
        client = self.client
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connack.put((rc, {"session_present": flags.session_present}, props))

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        properties = getattr(message, "properties", None)
        self.messages.put(
            Received(message.topic, message.payload, message.qos, message.retain, properties)
        )

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, codes: Any, props: Any) -> None:
        self.subacks.put(list(codes))

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.disconnect_reason = int(rc.value)
        self.disconnected.set()

    def connect(
        self,
        port: int,
        *,
        keepalive: int = 60,
        username: str | None = None,
        password: str | None = None,
        properties: Properties | None = None,
    ) -> tuple[int, bool, Properties | None]:
        """Connect and wait for the CONNACK: (reason code, session present, its properties)."""
        if username is not None:
            self.client.username_pw_set(username, password)
        if self.protocol == V5:
            self.client.connect(
                "127.0.0.1",
                port,
                keepalive,
                clean_start=self.clean,
                properties=properties,
            )
        else:
            self.client.connect("127.0.0.1", port, keepalive)
        self.client.loop_start()
        rc, flags, props = self.connack.get(timeout=TIMEOUT)
        return int(rc.value), bool(flags["session_present"]), props

    def subscribe(self, topic: str, qos: int = 0, **options: Any) -> list[int]:
        if self.protocol == V5:
            properties = options.pop("properties", None)
            sub_options = SubscribeOptions(qos=qos, **options)
            self.client.subscribe(topic, options=sub_options, properties=properties)
        else:
            self.client.subscribe(topic, qos)
        return [int(code.value) for code in self.subacks.get(timeout=TIMEOUT)]

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, **kwargs: Any) -> None:
        info = self.client.publish(topic, payload, qos, **kwargs)
        info.wait_for_publish(TIMEOUT)

    def receive(self, timeout: float = TIMEOUT) -> Received:
        return self.messages.get(timeout=timeout)

    def nothing_more(self, wait: float = 0.3) -> bool:
        try:
            self.messages.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def disconnect(self) -> None:
        self.client.disconnect()
        self.disconnected.wait(TIMEOUT)
        self.client.loop_stop()

    def drop(self) -> None:
        """Close the connection without a DISCONNECT, as a device losing power does."""
        self.client.loop_stop()
        self.client._reset_sockets()

    def stop(self) -> None:
        """Stop the network thread, whatever state the connection is in, and close sockets."""
        # A DISCONNECT wakes paho's thread at once; without it loop_stop waits up to 1 s.
        self.client.disconnect()
        self.client.loop_stop()
        # paho closes its sockets (and the pair that wakes its thread) only when collected.
        self.client._reset_sockets()


def v5_properties(packet_type: int = PacketTypes.PUBLISH, **values: Any) -> Properties:
    properties = Properties(packet_type)  # type: ignore[no-untyped-call]
    for name, value in values.items():
        setattr(properties, name, value)
    return properties


# -- raw packets -------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def mqtt_string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(raw)) + raw


def connect_packet(
    client_id: str,
    *,
    proto: int = 4,
    clean: bool = True,
    keepalive: int = 60,
    username: str | None = None,
    password: str | None = None,
    will: tuple[str, bytes, int, bool] | None = None,
) -> bytes:
    """A CONNECT, built here byte by byte (not with the codec under test)."""
    name = "MQIsdp" if proto == 3 else "MQTT"
    flags = (0x02 if clean else 0) | (0x80 if username is not None else 0)
    flags |= 0x40 if password is not None else 0
    payload = mqtt_string(client_id)
    properties = b"\x00" if proto == 5 else b""
    if will is not None:
        topic, message, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += properties + mqtt_string(topic) + mqtt_string(message)
    if username is not None:
        payload += mqtt_string(username)
    if password is not None:
        payload += mqtt_string(password)
    body = mqtt_string(name) + bytes((proto, flags)) + struct.pack("!H", keepalive)
    body += properties + payload
    return b"\x10" + varint(len(body)) + body


def raw_packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


class RawClient:
    """A blocking socket that speaks whatever bytes it is given."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_packet(self, timeout: float = TIMEOUT) -> tuple[int, bytes]:
        self.sock.settimeout(timeout)
        first = self._exact(1)[0]
        length = shift = 0
        while True:
            byte = self._exact(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first, self._exact(length)

    def _exact(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def closed_within(self, timeout: float = TIMEOUT) -> bool:
        """Whether the server closes the connection (reading and dropping what it sends)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if not self.sock.recv(65536):
                    return True
            except TimeoutError:
                return False
            except OSError:
                return True
        return False

    def close(self) -> None:
        self.sock.close()


async def open_raw(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def closed_by_server(reader: asyncio.StreamReader, timeout: float = TIMEOUT) -> bool:
    """Read (and drop) until EOF; False if the server keeps the connection past ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


async def read_packet_async(
    reader: asyncio.StreamReader, timeout: float = TIMEOUT
) -> tuple[int, bytes]:
    """One packet from the server: (first byte, body)."""
    async with asyncio.timeout(timeout):
        first = (await reader.readexactly(1))[0]
        length = shift = 0
        while True:
            byte = (await reader.readexactly(1))[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first, await reader.readexactly(length)


def rss_bytes() -> int:
    """This process's resident set size (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
