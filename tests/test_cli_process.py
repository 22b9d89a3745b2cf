"""The nanoadmin command as a real process: serve, drain on a signal, log safely, seed the model.

Only what needs a process is here: serving, signals, the environment a process starts with,
and the two ways to launch the command (``python -m nanoadmin`` and the console script). How
the command parses its arguments and how its tools fail is tested in-process in test_cli.py.
"""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nanoadmin import __version__
from tests.support import BASIC_ADMIN, PROJECT, write_conf
from tests.support.processes import (
    free_port,
    running_server,
    start_process,
    stop_process,
    wait_until_serving,
)

# Out of `make check`'s quick loop (each test starts a server process); `make test` runs it.
pytestmark = pytest.mark.slow


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    process = start_process(*args, env=env)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # A command that should have refused to start is serving: never leave it behind.
        stop_process(process)
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_version_and_console_script() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"nanoadmin {__version__}"
    script = Path(sys.executable).parent / "nanoadmin"
    if script.exists():  # installed by `pip install .` / `make`
        out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == f"nanoadmin {__version__}"


def test_serves_the_example_config_and_logs_no_credentials(tmp_path: Path) -> None:
    with running_server(
        "--conf", str(PROJECT / "conf" / "nanomq.conf"), "--log-level", "info"
    ) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(
                f"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nAuthorization: {BASIC_ADMIN}\r\nConnection: close\r\n\r\n".encode()
            )
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200")
        assert b'"sysdescr":"NanoMQ Broker"' in reply
        stderr = server.stop()
    assert server.process.returncode == 0
    assert "GET /api/v4/brokers" in stderr
    assert "auth=basic" in stderr
    assert BASIC_ADMIN.split()[1] not in stderr
    assert "public" not in stderr


def test_log_level_warning_hides_the_access_log() -> None:
    with running_server(
        "--conf", str(PROJECT / "conf" / "nanomq.conf"), "--log-level", "warning"
    ) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while sock.recv(65536):
                pass
        stderr = server.stop(signal.SIGINT)
    assert server.process.returncode == 0
    assert "/status" not in stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_drains_in_flight_request(signum: signal.Signals) -> None:
    with running_server("--conf", str(PROJECT / "conf" / "nanomq.conf")) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            # A body the handler is still reading keeps the request in flight across the signal.
            first, last = b'{"topic":"a/b",', b'"payload":"x"}'
            sock.sendall(
                f"POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: x\r\nAuthorization: {BASIC_ADMIN}"
                "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
                + b"%x\r\n%s\r\n" % (len(first), first)
            )
            time.sleep(0.3)
            server.process.send_signal(signum)
            time.sleep(0.3)
            assert server.process.poll() is None  # still draining
            sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(last), last))
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200")
        assert reply.endswith(b'{"code":0}')
        assert server.process.wait(timeout=10) == 0


def test_env_and_port_flag_precedence(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "  auth_type = basic\n")
    port = free_port()
    env = {
        "NANOMQ_CONF_PATH": str(conf),
        "NANOMQ_HTTP_SERVER_PORT": str(free_port()),
        "NANOMQ_HTTP_SERVER_PASSWORD": "envpw",
    }
    process = start_process("start", "-p", str(port), env=env)
    try:
        wait_until_serving(port, process)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            auth = base64.b64encode(b"admin:envpw").decode()
            sock.sendall(
                f"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n".encode()
            )
            assert sock.recv(12) == b"HTTP/1.1 200"
    finally:
        stop_process(process)


def fetch(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {BASIC_ADMIN}\r\nConnection: close\r\n\r\n".encode()
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply.split(b"\r\n\r\n", 1)[1]


def test_scenario_and_mock_clients_seed_the_model() -> None:
    conf = str(PROJECT / "conf" / "nanomq.conf")
    with running_server(
        "--conf", conf, "--scenario", str(PROJECT / "conf" / "scenario.toml")
    ) as server:
        clients = json.loads(fetch(server.port, "/api/v4/clients"))["data"]
        assert clients
        assert all("client_id" in c for c in clients)
    with running_server("--conf", conf, "--mock-clients", "2000") as server:
        nodes = json.loads(fetch(server.port, "/api/v4/nodes"))["data"][0]
        assert nodes["connections"] == 2000
        first = fetch(server.port, "/api/v4/clients?_page=1&_limit=3")
    with running_server("--conf", conf, "--mock-clients", "2000") as server:
        assert fetch(server.port, "/api/v4/clients?_page=1&_limit=3") == first  # deterministic
    with running_server("--conf", conf) as server:  # the demo data set
        assert len(json.loads(fetch(server.port, "/api/v4/clients"))["data"]) >= 2


def test_malformed_http_is_a_json_400_and_one_log_line() -> None:
    secret = BASIC_ADMIN.split()[1]
    with running_server(
        "--conf", str(PROJECT / "conf" / "nanomq.conf"), "--log-level", "info"
    ) as server:
        replies = []
        for data in (
            b"GARBAGE\r\n\r\n",
            b"GET /api/v4 HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            f"GET /api/v4 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {secret}\x01\r\n\r\n".encode(),
            b"GET /api/v4 HTTP/3.0\r\nHost: x\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", server.port)) as sock:
                sock.sendall(data)
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
            replies.append(reply)
        stderr = server.stop()
    for reply in replies:
        head, body = reply.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.0 400") or head.startswith(b"HTTP/1.1 400"), head
        assert b"Content-Type: application/json" in head
        assert json.loads(body)["code"] == 102
        assert secret.encode() not in body
    assert "Traceback" not in stderr
    assert secret not in stderr
    assert stderr.count("malformed HTTP request") == 4
