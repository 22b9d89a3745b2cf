"""Replays tests/fixtures/fidelity/nanomq-answers.jsonl: generated requests, the answer NanoMQ's
source says each gets, and nanoadmin's where it differs on purpose.

The file is written by tests/support/fidelity_corpus.py (a model of NanoMQ's routing and auth
made from its sources: nanomq/NanoNNG http_server.c, nanomq/nanomq rest_api.c, l8w8jwt
decode.c). Beyond each answer, the replay holds the rule: whatever NanoMQ refuses, nanoadmin
refuses; every other change from NanoMQ's answer names a documented difference.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from nanoadmin.model.scenario import reference_scenario
from nanoadmin.settings import load_settings
from tests.support import FIXTURES, PROJECT, ClientFactory, KeyPair, jwt_settings
from tests.support.rawhttp import HttpResponse, RawConnection

CORPUS = FIXTURES / "fidelity" / "nanomq-answers.jsonl"
ENTRIES: list[dict[str, Any]] = [json.loads(line) for line in CORPUS.read_text().splitlines()]
DOCUMENTED = set(
    re.findall(r"^\| (D\d+) \|", (PROJECT / "docs" / "compatibility.md").read_text(), re.M)
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_for(recipe: dict[str, str], keypair: KeyPair) -> str:
    now = int(time.time())
    fills = {
        "{iss}": keypair.public_path.name,
        "{soon}": str(now + 3600),
        "{past}": str(now - 1000),
        "{grace}": str(now - 100),
    }
    header, payload = recipe["header"], recipe["payload"]
    for name, value in fills.items():
        header, payload = header.replace(name, value), payload.replace(name, value)
    signing_input = f"{b64url(header.encode())}.{b64url(payload.encode())}"
    signature = keypair.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    token = f"{signing_input}.{b64url(signature)}"
    if recipe["suffix"] == "tamper":
        head, body, sig = token.split(".")
        return f"{head}.{body}.{sig[::-1]}"
    return token + recipe["suffix"]


def request(entry: dict[str, Any], keypair: KeyPair) -> bytes:
    token = token_for(entry["token"], keypair) if entry["token"] else ""
    lines = [f"{entry['method']} {entry['target']} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in entry["headers"].items():
        lines.append(f"{name}: {value.replace('{token}', token)}")
    body = (entry["body"] or "").encode()
    if entry["body"] is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def code_of(reply: HttpResponse) -> object:
    try:
        body = json.loads(reply.body)
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def test_the_corpus_keeps_the_rule() -> None:
    """NanoMQ refuses: nanoadmin refuses. NanoMQ accepts and nanoadmin refuses, or answers
    otherwise: a documented difference or extension says why."""
    assert len(ENTRIES) > 500
    assert [entry["id"] for entry in ENTRIES] == list(range(1, len(ENTRIES) + 1))
    for entry in ENTRIES:
        nanomq, expect = entry["nanomq"], entry["expect"]
        where = f"#{entry['id']} {entry['method']} {entry['target']}"
        if nanomq["status"] >= 400:
            assert expect["status"] >= 400, where
        changed = (expect["status"], expect["code"]) != (nanomq["status"], nanomq["code"])
        if changed or expect["headers"]:
            assert entry["differences"] or expect["status"] == 204, where
        for difference in entry["differences"]:
            assert difference in DOCUMENTED or difference == "extension", (where, difference)
        assert entry["source"]


@pytest.fixture
async def ports(make_client: ClientFactory, tmp_path: Path, keypair: KeyPair) -> dict[str, int]:
    (tmp_path / "basic").mkdir()
    conf = tmp_path / "basic" / "nanomq.conf"
    # The corpus is NanoMQ without ./dist, whose place (/) the console takes when it is on.
    conf.write_text(
        "http_server {\n  username = admin\n  password = public\n}\nnanoadmin { console = false }\n"
    )
    basic = await make_client(load_settings(str(conf), environ={}), reference_scenario())
    jwt = await make_client(jwt_settings(tmp_path, keypair.public_path, cache_size=100))
    assert basic.port is not None
    assert jwt.port is not None
    return {"basic": basic.port, "jwt": jwt.port}


async def test_every_corpus_request_gets_its_answer(
    ports: dict[str, int], keypair: KeyPair
) -> None:
    failures: list[str] = []
    for entry in ENTRIES:
        conn = await RawConnection.open(ports[entry["server"]])
        try:
            await conn.send(request(entry, keypair))
            reply = await conn.response(head=entry["method"] == "HEAD")
        finally:
            await conn.close()
        expect = entry["expect"]
        where = f"#{entry['id']} {entry['method']} {entry['target']} ({entry['source']})"
        got = (reply.status, code_of(reply))
        if got != (expect["status"], expect["code"]):
            failures.append(f"{where}: {got} != {(expect['status'], expect['code'])}")
            continue
        for name, value in expect["headers"].items():
            if reply.headers.get(name) is None or value not in ("*", reply.headers[name]):
                failures.append(f"{where}: header {name} is {reply.headers.get(name)!r}")
        if reply.status == 401 and "www-authenticate" not in expect["headers"]:
            if "www-authenticate" in reply.headers:
                failures.append(f"{where}: WWW-Authenticate to a page's script")
        if "server" in reply.headers:
            failures.append(f"{where}: a Server header")
    assert not failures, "\n".join(failures[:40])
