"""Shared fixtures: real servers on loopback ports, RSA keys made here, the NanoMQ fixture files."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import jwt
import pytest
from aiohttp import ClientSession, web
from aiohttp.pytest_plugin import AiohttpClient
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from nanoadmin.app import create_app
from nanoadmin.model.scenario import Scenario, reference_scenario
from nanoadmin.settings import Settings, load_settings

FIXTURES = Path(__file__).parent / "fixtures"
NANOMQ_ETC = FIXTURES / "nanomq-etc"
PROJECT = Path(__file__).parent.parent

BASIC_ADMIN = "Basic " + base64.b64encode(b"admin:public").decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey
    private_path: Path
    public_path: Path

    def token(self, iss: str | None = None, ttl: int = 3600, **claims: object) -> str:
        now = int(time.time())
        payload: dict[str, object] = {"iss": iss or self.public_path.name, "iat": now}
        payload["exp"] = now + ttl
        payload.update(claims)
        return jwt.encode(payload, self.private, algorithm="RS256")


def write_keypair(folder: Path, name: str = "nanomq", public_format: str = "spki") -> KeyPair:
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path = folder / f"{name}.key"
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    fmt = (
        serialization.PublicFormat.PKCS1
        if public_format == "pkcs1"
        else serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_path = folder / f"{name}.pub"
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, fmt))
    return KeyPair(key, private_path, public_path)


@pytest.fixture(scope="session")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def other_keypair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_keypair(tmp_path_factory.mktemp("other-keys"))


def write_conf(folder: Path, http_server: str, extra: str = "", name: str = "nanomq.conf") -> Path:
    path = folder / name
    path.write_text(f"http_server {{\n{http_server}\n}}\n{extra}")
    return path


def basic_settings(tmp_path: Path, **overrides: str) -> Settings:
    lines = {"port": "8081", "username": "admin", "password": "public", "auth_type": "basic"}
    lines.update(overrides)
    conf = write_conf(tmp_path, "\n".join(f"  {k} = {v}" for k, v in lines.items()))
    return load_settings(str(conf), environ={})


def jwt_settings(tmp_path: Path, *keyfiles: Path, cache_size: int | None = None) -> Settings:
    files = ", ".join(f'"{path}"' for path in keyfiles)
    cache = f"\n    token_cache_size = {cache_size}" if cache_size is not None else ""
    conf = write_conf(
        tmp_path, f"  auth_type = jwt\n  jwt {{\n    public.keyfile = [{files}]{cache}\n  }}"
    )
    return load_settings(str(conf), environ={})


Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
def make_client(aiohttp_client: AiohttpClient) -> ClientFactory:
    """A real server on a loopback port for ``settings``, and a client for it."""

    async def factory(settings: Settings, scenario: Scenario | None = None) -> Client:
        return await aiohttp_client(create_app(settings, scenario or reference_scenario()))

    return factory


@pytest.fixture
async def basic_client(make_client: ClientFactory, tmp_path: Path) -> Client:
    return await make_client(basic_settings(tmp_path))


async def raw_request(
    port: int | None, data: bytes, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read one response: for request-targets a client would tidy."""
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if data.startswith(b"HEAD ") or status_line.split()[1] in ("204", "304"):
            length = 0
        body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        return int(status_line.split()[1]), headers, body
    finally:
        writer.close()


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int
    log: IO[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, signum: signal.Signals = signal.SIGTERM) -> str:
        """Send ``signum``, wait for the exit, and return everything the server logged."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        self.process.wait(timeout=10)
        self.log.seek(0)
        return self.log.read()


def start_process(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: IO[str] | None = None,
) -> subprocess.Popen[str]:
    """``python -m nanoadmin ARGS``; stderr to ``log`` when given (a pipe nobody reads fills up)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NANOMQ_")}
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "nanoadmin", *args],
        stdout=subprocess.PIPE if log is None else subprocess.DEVNULL,
        stderr=subprocess.PIPE if log is None else log,
        text=True,
        env=full_env,
        cwd=cwd or PROJECT,
    )


def wait_until_serving(port: int, process: subprocess.Popen[str], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode} before serving")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start in time")


@contextmanager
def running_server(
    *args: str, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[ServerProcess]:
    """``nanoadmin start ARGS -p PORT`` as a real process, logging to a temp file; stopped on exit."""
    port = port or free_port()
    with tempfile.TemporaryFile("w+") as log:
        process = start_process("start", *args, "-p", str(port), env=env, log=log)
        try:
            wait_until_serving(port, process)
            yield ServerProcess(process, port, log)
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[str]) -> None:
    """SIGTERM if still running, wait, and close its pipes."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None and not stream.closed:
            stream.close()


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session
