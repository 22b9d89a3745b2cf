"""The nanoadmin command as a real process: start, fail closed, drain on SIGTERM, log safely."""

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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nanoadmin import __version__
from tests.support import BASIC_ADMIN, NANOMQ_ETC, PROJECT, KeyPair, write_conf
from tests.support.processes import (
    free_port,
    running_server,
    start_process,
    stop_process,
    wait_until_serving,
)


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
    assert result.returncode == 0 and result.stdout.strip() == f"nanoadmin {__version__}"
    script = Path(sys.executable).parent / "nanoadmin"
    if script.exists():  # installed by `pip install .` / `make`
        out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == f"nanoadmin {__version__}"


def ec_key(path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.mark.parametrize(
    ("http_server", "fragments"),
    [
        ("  port = 8081\n  auth_type = [oops\n", ["syntax error"]),
        (
            "  port = 8081\n  auth_type = token\n",
            [":3:", "http_server.auth_type", "'token'", "basic, jwt, no_auth"],
        ),
        (
            '  auth_type = jwt\n  jwt { public.keyfile = "missing.pub" }\n',
            ["http_server.jwt.public.keyfile", "missing.pub", "not found"],
        ),
        ('  auth_type = jwt\n  jwt { public.keyfile = "ec.pub" }\n', ["ec.pub", "not an RSA key"]),
        ("  auth_type = jwt\n", ["http_server.jwt.public.keyfile is not set"]),
        ("  port = 65536\n", [":2:", "http_server.port", "65536"]),
    ],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, http_server: str, fragments: list[str]
) -> None:
    ec_key(tmp_path / "ec.pub")
    conf = write_conf(tmp_path, http_server)
    started = time.monotonic()
    result = run("start", "--conf", str(conf), "-p", str(free_port()), timeout=10)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert str(conf) in lines[0] or "keyfile" in lines[0]
    assert elapsed < 5, elapsed  # generous for CI; measured well under a second


def test_missing_config_file_and_bad_arguments_exit_2(tmp_path: Path) -> None:
    result = run("start", "--conf", str(tmp_path / "nope.conf"))
    assert result.returncode == 2 and "config file not found" in result.stderr
    result = run("start", "--bogus")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    result = run("start", "--conf", str(NANOMQ_ETC / "nanomq.conf"), "-p", "99999")
    assert result.returncode == 2 and "--port" in result.stderr


def test_check_config_masks_secrets(tmp_path: Path, keypair: KeyPair) -> None:
    conf = write_conf(
        tmp_path,
        f'  password = "hunter2-secret"\n  auth_type = jwt\n  jwt {{ public.keyfile = "{keypair.public_path}" }}\n',
    )
    result = run("check-config", "--conf", str(conf))
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout and "http_server.password = ******" in result.stdout
    assert f'"iss": "{keypair.public_path.name}"' in result.stdout


@pytest.mark.parametrize(
    ("name", "text", "flag"),
    [
        ("big.conf", 'mqtt {{ property_size = "{n}" }}\n', "--conf"),
        ("big.toml", "[mqtt]\nproperty_size = {n}\n", "--conf"),
        ("big.conf", "property_size={n}\n", "--old_conf"),
        ("big.conf", "bridge.mqtt.b.forwards.{n}.remote_topic=t\n", "--old_conf"),
    ],
)
def test_check_config_refuses_a_number_too_long_in_one_short_line(
    tmp_path: Path, name: str, text: str, flag: str
) -> None:
    path = tmp_path / name
    path.write_text(text.format(n="1" * 5000))
    result = run("check-config", flag, str(path))
    if "forwards" in text:  # an index no list can have: the key is not a bridge field
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert all(len(line) < 300 for line in result.stderr.splitlines()), result.stderr


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
        assert reply.startswith(b"HTTP/1.1 200") and b'"sysdescr":"NanoMQ Broker"' in reply
        stderr = server.stop()
    assert server.process.returncode == 0
    assert "GET /api/v4/brokers" in stderr and "auth=basic" in stderr
    assert BASIC_ADMIN.split()[1] not in stderr and "public" not in stderr


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
        sock = socket.create_connection(("127.0.0.1", server.port))
        # A chunked body still arriving keeps the request in flight across the signal.
        sock.sendall(
            f"POST /api/v4/brokers HTTP/1.1\r\nHost: x\r\nAuthorization: {BASIC_ADMIN}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n".encode()
        )
        time.sleep(0.3)
        server.process.send_signal(signum)
        time.sleep(0.3)
        assert server.process.poll() is None  # still draining
        sock.sendall(b"0\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        sock.close()
        assert reply.startswith(b"HTTP/1.1 405")
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
        assert clients and all("client_id" in c for c in clients)
    with running_server("--conf", conf, "--mock-clients", "2000") as server:
        nodes = json.loads(fetch(server.port, "/api/v4/nodes"))["data"][0]
        assert nodes["connections"] == 2000
        first = fetch(server.port, "/api/v4/clients?_page=1&_limit=3")
    with running_server("--conf", conf, "--mock-clients", "2000") as server:
        assert fetch(server.port, "/api/v4/clients?_page=1&_limit=3") == first  # deterministic
    with running_server("--conf", conf) as server:  # the demo data set
        assert len(json.loads(fetch(server.port, "/api/v4/clients"))["data"]) >= 2


def test_bad_scenario_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[clients]]\nclient_id = "a"\nkeepalive = "soon"\n')
    result = run("start", "--conf", str(PROJECT / "conf" / "nanomq.conf"), "--scenario", str(bad))
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "bad.toml" in line and "keepalive" in line


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
    assert "Traceback" not in stderr and secret not in stderr
    assert stderr.count("malformed HTTP request") == 4


@pytest.mark.parametrize(
    "args",
    [
        ("check-config", "--conf", ""),
        ("check-config", "--old_conf", " "),
        ("check-config", "--conf", "a.conf", "--old_conf", "b.conf"),
        ("start", "--conf", str(PROJECT / "conf" / "nanomq.conf"), "--scenario", ""),
        ("start", "--conf", str(PROJECT / "conf" / "nanomq.conf"), "--mock-clients", "10" * 9),
    ],
    ids=["empty conf", "blank old_conf", "conf and old_conf", "empty scenario", "huge mock"],
)
def test_flags_that_say_nothing_clear_are_refused(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2 and result.stderr.startswith("nanoadmin: error:"), result
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_error_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = run("keygen", "--out", str(tmp_path / "afile" / "keys"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"nanoadmin: {tmp_path / 'afile' / 'keys'}: "), result.stderr
