"""Configuration, reload, config_update and ctrl: what a POST changes, what a GET shows, secrets."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from nanoadmin.appkeys import RUNTIME_KEY
from nanoadmin.settings import load_settings
from tests.support import (
    BASIC_ADMIN,
    NANOMQ_ETC,
    PROJECT,
    Client,
    ClientFactory,
    KeyPair,
    basic_settings,
    self_signed_certificate,
)
from tests.support.api import AUTH, get, post
from tests.support.openapi import Servers


async def test_configuration_post_shows_in_next_get(basic_client: Client) -> None:
    await post(
        basic_client,
        "/api/v4/configuration",
        {"data": {"basic": {"msq_len": 4096, "allow_anonymous": False, "url": 5}}},
    )
    basic = (await get(basic_client, "/api/v4/configuration/basic"))["data"]["basic"]
    assert basic["msq_len"] == 4096
    assert basic["allow_anonymous"] is False
    assert basic["url"] != 5  # wrong types are ignored, as NanoMQ does
    reload_view = (await get(basic_client, "/api/v4/reload"))["data"]
    assert reload_view["msq_len"] == 4096


async def test_password_change_takes_effect_on_next_request(basic_client: Client) -> None:
    await post(
        basic_client,
        "/api/v4/configuration/http_server",
        {"data": {"http_server": {"password": "n3w"}}},
    )
    response = await basic_client.get("/api/v4/brokers", headers=AUTH)
    assert response.status == 401
    fresh = {"Authorization": "Basic " + base64.b64encode(b"admin:n3w").decode()}
    response = await basic_client.get("/api/v4/configuration/http_server", headers=fresh)
    body = await response.json()
    assert response.status == 200
    assert body["data"]["http_server"]["password"] == "******"


async def test_switch_to_jwt_without_keys_is_refused(basic_client: Client) -> None:
    reply = await post(
        basic_client,
        "/api/v4/configuration/http_server",
        {"data": {"http_server": {"auth_type": "jwt"}}},
        status=400,
    )
    assert reply["code"] == 108
    assert (await basic_client.get("/api/v4/brokers", headers=AUTH)).status == 200


async def test_config_update_validates_and_writes_atomically(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    settings = basic_settings(tmp_path)
    assert settings.path is not None
    original = settings.path.read_text()
    client = await make_client(settings)
    for bad in ("http_server { port = [ }", "", "http_server { auth_type = nope }", "\xff"):
        reply = await post(client, "/api/v4/config_update", bad.encode("latin-1"), status=400)
        assert reply["code"] == 117
        assert reply["message"]
        assert settings.path.read_text() == original
    new = "http_server {\n  port = 8081\n  password = changed\n}\n"
    assert await post(client, "/api/v4/config_update", new) == {"code": 0}
    assert settings.path.read_text() == new
    assert not list(tmp_path.glob(".*.tmp"))
    # Nothing applies until a reload: then the new password is the one that works.
    assert (await client.get("/api/v4/brokers", headers=AUTH)).status == 200
    assert await post(client, "/api/v4/reload", {}) == {"code": 0}
    assert (await client.get("/api/v4/brokers", headers=AUTH)).status == 401


@pytest.mark.parametrize(
    "broken",
    [
        "x = " + "[" * 5000,  # nested past the recursion limit
        'listeners.ssl { bind = "0.0.0.0:8883", keyfile = "/dev/zero" }',  # never ends
        'listeners.ssl { bind = "0.0.0.0:8883", keyfile = "a\\u0000b" }',  # a NUL in a path
    ],
    ids=["deep", "endless keyfile", "nul in keyfile"],
)
async def test_reload_of_a_strange_file_keeps_serving(
    make_client: ClientFactory, tmp_path: Path, broken: str
) -> None:
    toml = broken.startswith("x = ")
    path = tmp_path / ("nanomq.toml" if toml else "nanomq.conf")
    path.write_text("[http_server]\nport = 8081\n" if toml else "http_server { port = 8081 }\n")
    client = await make_client(load_settings(str(path), environ={}))
    path.write_text(broken if toml else "http_server { port = 8082 }\n" + broken)
    response = await client.post("/api/v4/reload", data="{}", headers=AUTH)
    if toml:
        assert response.status == 400
        assert (await response.json())["code"] == 117
        assert client.app[RUNTIME_KEY].settings.http_server.port == 8081
    else:  # a TLS key file is never read: it shows masked, whatever it names
        assert response.status == 200, await response.text()
        tls = (await get(client, "/api/v4/configuration/tls"))["data"]["tls"]
        assert tls["key"] == "******"
    assert (await client.get("/api/v4/brokers", headers=AUTH)).status == 200


@pytest.mark.parametrize("kind", ["toml", "old_conf"])
async def test_config_update_takes_the_format_the_file_is_read_in(
    make_client: ClientFactory, tmp_path: Path, kind: str
) -> None:
    hocon = (PROJECT / "conf" / "nanomq.conf").read_text()
    if kind == "toml":
        path = tmp_path / "nanomq.toml"
        path.write_text((PROJECT / "conf" / "nanomq.toml").read_text())
        settings = load_settings(str(path), environ={})
    else:
        path = tmp_path / "nanomq_old.conf"
        path.write_text((NANOMQ_ETC / "nanomq_old.conf").read_text())
        settings = load_settings(old_conf=str(path), environ={})
    original = path.read_text()
    client = await make_client(settings)
    # NanoMQ's HOCON, written into a file read as TOML or key=value, would never load again.
    reply = await post(client, "/api/v4/config_update", hocon, status=400)
    assert reply["code"] == 117
    assert path.read_text() == original
    changed = original.replace("8081", "8082")
    assert changed != original
    assert await post(client, "/api/v4/config_update", changed) == {"code": 0}
    assert path.read_text() == changed
    assert await post(client, "/api/v4/reload", {}) == {"code": 0}
    assert client.app[RUNTIME_KEY].settings.http_server.port == 8082


async def test_secrets_read_and_posted_back_stay_the_secrets(full_client: Client) -> None:
    config = full_client.app[RUNTIME_KEY].config
    await post(
        full_client,
        "/api/v4/configuration",
        {
            "data": {
                "tls": {"key_password": "tls-pw", "key": "PEM", "cacert": "CA"},
                "auth": [{"username": "dev", "password": "dev-pw"}],
            }
        },
    )
    for section in ("http_server", "tls", "auth"):
        shown = (await get(full_client, f"/api/v4/configuration/{section}"))["data"]
        assert "******" in json.dumps(shown), shown
        if section == "auth":  # GET shows "login"; POST takes "username", as in NanoMQ
            shown = {"auth": [{"username": e["login"], **e} for e in shown["auth"]]}
        assert await post(full_client, f"/api/v4/configuration/{section}", {"data": shown}) == {
            "code": 0
        }
    assert (await full_client.get("/api/v4/brokers", headers=AUTH)).status == 200
    assert config.tls["key_password"] == "tls-pw"
    assert config.tls["key"] == "PEM"
    assert config.auth == [{"login": "dev", "password": "dev-pw"}]
    node = (await get(full_client, "/api/v4/bridges/emqx"))["data"]["bridge"]["nodes"][0]
    connector = node["connector"]
    assert connector["password"] == "******"
    put = {"emqx": {"server": connector["server"], "username": "u", "password": "******"}}
    response = await full_client.put("/api/v4/bridges/emqx", data=json.dumps(put), headers=AUTH)
    assert response.status == 200, await response.text()
    stored = config.bridges._nodes["emqx"]["connector"]
    assert isinstance(stored, dict)
    assert stored["password"] == "bridge-secret"
    # A new secret is still a change.
    await post(
        full_client,
        "/api/v4/configuration/http_server",
        {"data": {"http_server": {"password": "n3w"}}},
    )
    assert (await full_client.get("/api/v4/brokers", headers=AUTH)).status == 401


@pytest.mark.parametrize("key_format", ["pkcs8", "pkcs1", "cut short"])
async def test_a_certificate_file_holding_its_key_never_shows_the_key(
    make_client: ClientFactory, tmp_path: Path, keypair: KeyPair, key_format: str
) -> None:
    encoding = serialization.PrivateFormat.PKCS8
    if key_format == "pkcs1":
        encoding = serialization.PrivateFormat.TraditionalOpenSSL
    key_pem = keypair.private.private_bytes(
        serialization.Encoding.PEM, encoding, serialization.NoEncryption()
    ).decode()
    if key_format == "cut short":
        key_pem = "\n".join(key_pem.splitlines()[:-1])
    certificate = self_signed_certificate(keypair.private)
    (tmp_path / "combined.pem").write_text(certificate + key_pem)
    conf = tmp_path / "nanomq.conf"
    conf.write_text(
        "http_server { port = 8081 }\n"
        'listeners.ssl { bind = "0.0.0.0:8883", certfile = "combined.pem", '
        'cacertfile = "combined.pem", keyfile = "combined.pem" }\n'
    )
    client = await make_client(load_settings(str(conf), environ={}))
    tls = (await get(client, "/api/v4/configuration/tls"))["data"]["tls"]
    key_body = key_pem.splitlines()[3]  # a line of the key's base64
    assert key_body not in json.dumps(tls)
    assert tls["key"] == "******"
    if key_format != "cut short":
        assert tls["cert"].startswith(certificate)
        assert tls["cacert"] == tls["cert"]


async def test_only_files_that_hold_certificates_show_their_contents(
    make_client: ClientFactory, tmp_path: Path, keypair: KeyPair
) -> None:
    certificate = self_signed_certificate(keypair.private)
    (tmp_path / "cert.pem").write_text(certificate)
    (tmp_path / "fake.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
    )
    (tmp_path / "notes.txt").write_text("a file that is no certificate\n")
    conf = tmp_path / "nanomq.conf"
    conf.write_text(
        "http_server { port = 8081 }\n"
        'listeners.ssl { bind = "0.0.0.0:8883", certfile = "cert.pem", cacertfile = "fake.pem" }\n'
    )
    client = await make_client(load_settings(str(conf), environ={}))
    tls = (await get(client, "/api/v4/configuration/tls"))["data"]["tls"]
    assert tls["cert"] == certificate
    assert tls["cacert"] == "fake.pem"  # PEM armour around no certificate: its path
    conf.write_text(
        "http_server { port = 8081 }\n"
        'listeners.ssl { bind = "0.0.0.0:8883", certfile = "notes.txt", cacertfile = "/etc/hostname" }\n'
    )
    client = await make_client(load_settings(str(conf), environ={}))
    tls = (await get(client, "/api/v4/configuration/tls"))["data"]["tls"]
    assert (tls["cert"], tls["cacert"]) == ("notes.txt", "/etc/hostname")


async def test_ctrl_stop_and_restart(basic_client: Client) -> None:
    runtime = basic_client.app[RUNTIME_KEY]
    await post(basic_client, "/api/v4/mqtt/subscribe", {"topic": "z", "clientid": "ref-sub-1"})
    assert await post(basic_client, "/api/v4/ctrl/RESTART", "") == {"code": 0}
    await asyncio.sleep(0.3)
    subs = (await get(basic_client, "/api/v4/subscriptions/ref-sub-1"))["data"]
    assert all(s["topic"] != "z" for s in subs)  # re-seeded
    response = await basic_client.post("/api/v4/ctrl/bogus", headers=AUTH)
    assert response.status == 404
    assert (await response.json())["code"] == 101
    assert not runtime.stop_event.is_set()
    assert await post(basic_client, "/api/v4/ctrl/stop", "") == {"code": 0}
    await asyncio.sleep(0.3)
    assert runtime.stop_event.is_set()


async def test_config_update_errors_do_not_echo_substituted_values(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NANOADMIN_TEST_SECRET", "s3cr3t-from-the-environment")
    response = await servers.full.post(
        "/api/v4/config_update",
        data="http_server { port = ${NANOADMIN_TEST_SECRET} }",
        headers={"Authorization": BASIC_ADMIN},
    )
    # NanoMQ drops ${...} substitutions; so does nanoadmin, so nothing is read back.
    reply = await response.text()
    assert response.status in (200, 400)
    assert "s3cr3t-from-the-environment" not in reply
    (servers.full_conf.parent / "nanomq_pwd.conf").write_text('"admin": "pwd-file-secret"\n')
    included = await servers.full.post(
        "/api/v4/config_update",
        data='http_server { password = { include "nanomq_pwd.conf" } }',
        headers={"Authorization": BASIC_ADMIN},
    )
    assert included.status == 400
    assert "pwd-file-secret" not in await included.text()
