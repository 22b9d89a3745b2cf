"""The nanoadmin command in-process: arguments, refusals, check-config, file errors.

Each command runs through ``nanoadmin.cli.main([...])`` in this process (the ``cli`` fixture),
with the exit status and output a process would give; a ``start`` here must fail before it
would serve. What needs a real process is in test_cli_process.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nanoadmin import __version__
from tests.support import NANOMQ_ETC, PROJECT, KeyPair, write_conf
from tests.support.cli import Cli
from tests.support.processes import free_port


def test_version_flag(cli: Cli) -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"nanoadmin {__version__}"


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
    cli: Cli, tmp_path: Path, http_server: str, fragments: list[str]
) -> None:
    ec_key(tmp_path / "ec.pub")
    conf = write_conf(tmp_path, http_server)
    started = time.monotonic()
    result = cli("start", "--conf", str(conf), "-p", str(free_port()))
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert str(conf) in lines[0] or "keyfile" in lines[0]
    assert elapsed < 5, elapsed  # generous for CI; measured well under a second


def test_missing_config_file_and_bad_arguments_exit_2(cli: Cli, tmp_path: Path) -> None:
    result = cli("start", "--conf", str(tmp_path / "nope.conf"))
    assert result.returncode == 2
    assert "config file not found" in result.stderr
    result = cli("start", "--bogus")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    result = cli("start", "--conf", str(NANOMQ_ETC / "nanomq.conf"), "-p", "99999")
    assert result.returncode == 2
    assert "--port" in result.stderr


def test_check_config_masks_secrets(cli: Cli, tmp_path: Path, keypair: KeyPair) -> None:
    conf = write_conf(
        tmp_path,
        f'  password = "hunter2-secret"\n  auth_type = jwt\n  jwt {{ public.keyfile = "{keypair.public_path}" }}\n',
    )
    result = cli("check-config", "--conf", str(conf))
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert "http_server.password = ******" in result.stdout
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
    cli: Cli, tmp_path: Path, name: str, text: str, flag: str
) -> None:
    path = tmp_path / name
    path.write_text(text.format(n="1" * 5000))
    result = cli("check-config", flag, str(path))
    if "forwards" in text:  # an index no list can have: the key is not a bridge field
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert all(len(line) < 300 for line in result.stderr.splitlines()), result.stderr


def test_bad_scenario_file_exits_2(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[clients]]\nclient_id = "a"\nkeepalive = "soon"\n')
    result = cli("start", "--conf", str(PROJECT / "conf" / "nanomq.conf"), "--scenario", str(bad))
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert "bad.toml" in line
    assert "keepalive" in line


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
def test_flags_that_say_nothing_clear_are_refused(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.returncode == 2, result
    assert result.stderr.startswith("nanoadmin: error:"), result
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_error_names_the_file(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = cli("keygen", "--out", str(tmp_path / "afile" / "keys"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"nanoadmin: {tmp_path / 'afile' / 'keys'}: "), result.stderr
