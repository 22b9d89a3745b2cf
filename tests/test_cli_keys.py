"""The JWT tools in-process: keygen, token, and check-config on JWT configs.

Each command runs through ``nanoadmin.cli.main([...])`` (the ``cli`` fixture), with the exit
status and output a process would give. The README's walk-through, which runs them as real
commands, is in test_jwt_workflow.py.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path

import jwt

from tests.support import KeyPair
from tests.support.cli import Cli, CliResult


def test_keygen_writes_a_pair_and_refuses_to_overwrite(cli: Cli, tmp_path: Path) -> None:
    result = cli("keygen", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    private, public = tmp_path / "keys" / "nanomq.key", tmp_path / "keys" / "nanomq.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().splitlines()[0].endswith("BEGIN PRIVATE KEY-----")  # PKCS#8
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert '"iss": "nanomq.pub"' in result.stdout
    before = private.read_bytes()
    again = cli("keygen", cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert "--force" in again.stderr
    assert private.read_bytes() == before
    forced = cli("keygen", "--force", cwd=tmp_path)
    assert forced.returncode == 0
    assert private.read_bytes() != before
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    small = cli("keygen", "--out", str(tmp_path / "k2"), "--bits", "1024")
    assert small.returncode == 2
    assert "2048" in small.stderr
    assert not (tmp_path / "k2").exists()
    named = cli("keygen", "--out", str(tmp_path / "k3"), "--name", "ops", "--bits", "3072")
    assert named.returncode == 0
    assert (tmp_path / "k3" / "ops.pub").exists()


def test_keygen_and_token_refuse_what_would_leave_a_broken_pair(
    cli: Cli, tmp_path: Path, keypair: KeyPair
) -> None:
    (tmp_path / "afile").write_text("x")
    as_file = cli("keygen", "--out", str(tmp_path / "afile"))
    assert as_file.returncode == 2
    assert "afile" in as_file.stderr
    assert "folder" in as_file.stderr
    # A folder where the public key goes: nothing is written, the old private key stays.
    first = cli("keygen", "--out", str(tmp_path / "k"))
    assert first.returncode == 0, first.stderr
    private = tmp_path / "k" / "nanomq.key"
    before = private.read_bytes()
    (tmp_path / "k" / "nanomq.pub").unlink()
    (tmp_path / "k" / "nanomq.pub").mkdir()
    forced = cli("keygen", "--out", str(tmp_path / "k"), "--force")
    assert forced.returncode == 2
    assert "nanomq.pub is a folder" in forced.stderr
    assert private.read_bytes() == before
    huge = cli("keygen", "--out", str(tmp_path / "k2"), "--bits", "99999")
    assert huge.returncode == 2
    assert "8192" in huge.stderr
    assert not (tmp_path / "k2").exists()
    for claim in ("iss=5", "iss=evil.pub"):
        token = cli("token", "--key", str(keypair.private_path), "--iss", "x.pub", "--claim", claim)
        assert token.returncode == 2
        assert "--iss" in token.stderr
        assert not token.stdout
    for flag in ("--key", "--iss"):
        args = {"--key": str(keypair.private_path), "--iss": "nanomq.pub"} | {flag: ""}
        empty = cli("token", *[part for pair in args.items() for part in pair])
        assert empty.returncode == 2, empty.stderr
        assert "empty" in empty.stderr, empty.stderr


def test_token_payload_ttl_and_claims(cli: Cli, keypair: KeyPair) -> None:
    result = cli(
        "token",
        "--key",
        str(keypair.private_path),
        "--iss",
        "nanomq.pub",
        "--ttl",
        "15m",
        "--claim",
        "sub=ops",
        "--claim",
        "n=3",
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "JWT"}
    payload = jwt.decode(
        token, keypair.private.public_key(), algorithms=["RS256"], options={"verify_iat": False}
    )
    assert list(payload)[:4] == ["iss", "iat", "exp", "bodyEncode"]
    assert payload["iss"] == "nanomq.pub"
    assert payload["bodyEncode"] == "0"
    assert payload["exp"] - payload["iat"] == 900
    assert abs(payload["iat"] - time.time()) < 60
    assert payload["sub"] == "ops"
    assert payload["n"] == 3
    for ttl, seconds in (("30s", 30), ("1h", 3600), ("7d", 604800), ("45", 45)):
        token = cli(
            "token", "--key", str(keypair.private_path), "--iss", "x", "--ttl", ttl
        ).stdout.strip()
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == seconds, ttl
    bad = cli("token", "--key", str(keypair.private_path), "--iss", "x", "--ttl", "soon")
    assert bad.returncode == 2
    assert "--ttl" in bad.stderr


def test_token_with_conf_takes_iss_and_refuses_a_foreign_key(
    cli: Cli, tmp_path: Path, keypair: KeyPair, other_keypair: KeyPair
) -> None:
    conf = tmp_path / "jwt.conf"
    conf.write_text(
        f'http_server {{\n  auth_type = jwt\n  jwt {{ public.keyfile = "{keypair.public_path}" }}\n}}\n'
    )
    good = cli("token", "--key", str(keypair.private_path), "--conf", str(conf))
    assert good.returncode == 0, good.stderr
    assert (
        jwt.decode(good.stdout.strip(), options={"verify_signature": False})["iss"]
        == keypair.public_path.name
    )
    foreign = cli("token", "--key", str(other_keypair.private_path), "--conf", str(conf))
    assert foreign.returncode == 2
    assert "does not match" in foreign.stderr
    assert len(foreign.stderr.strip().splitlines()) == 1


def test_check_config_catches_jwt_mistakes(cli: Cli, tmp_path: Path, keypair: KeyPair) -> None:
    def check(keyfile: str) -> CliResult:
        conf = tmp_path / "c.conf"
        conf.write_text(
            f'http_server {{\n  auth_type = jwt\n  jwt {{ public.keyfile = "{keyfile}" }}\n}}\n'
        )
        return cli("check-config", "--conf", str(conf))

    assert "file not found" in check(str(tmp_path / "absent.pub")).stderr
    assert "private key" in check(str(keypair.private_path)).stderr
    (tmp_path / "junk.pub").write_text("hello")
    assert "not a PEM public key" in check(str(tmp_path / "junk.pub")).stderr
    ok = check(str(keypair.public_path))
    assert ok.returncode == 0
    assert f'"iss": "{keypair.public_path.name}"' in ok.stdout
