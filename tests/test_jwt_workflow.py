"""The JWT workflow end to end: the README walk-through, key rotation, the token cache.

keygen, token and check-config on their own are tested in-process in test_cli_keys.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from nanoadmin.auth import make_strategy
from nanoadmin.auth.base import AuthError
from nanoadmin.auth.jwt_auth import JwtAuth
from tests.support import PROJECT, KeyPair, jwt_settings, write_keypair
from tests.support.processes import (
    free_port,
    running_server,
    start_process,
    stop_process,
    wait_until_serving,
)


def readme_walkthrough() -> list[str]:
    text = (PROJECT / "README.md").read_text()
    block = text.split("## JWT in five commands", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("  #", 1)[0].strip() for line in block.strip().splitlines()]
    assert len(commands) == 5
    return commands


@pytest.mark.slow  # the README's five commands as processes, ~4 s
def test_readme_jwt_walkthrough(tmp_path: Path, other_keypair: KeyPair) -> None:
    """Runs the README's five commands as written, in a fresh copy of conf/."""
    (tmp_path / "conf").mkdir()
    shutil.copy(PROJECT / "conf" / "nanomq_jwt.conf", tmp_path / "conf")
    port = free_port()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "nanoadmin"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nanoadmin "$@"\n')
    launcher.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(PROJECT)}
    env = {k: v for k, v in env.items() if not k.startswith("NANOMQ_")}
    keygen, check, start, token, curl = readme_walkthrough()

    def sh(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
        )

    assert sh(keygen).returncode == 0
    assert '"iss": "nanomq.pub"' in sh(check).stdout
    assert start.endswith("&")
    server = subprocess.Popen(
        ["bash", "-c", f"exec {start.rstrip('&').strip()} -p {port}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(port, server)
        curl_here = curl.replace("8081", str(port))
        reply = sh(f"{token}\n{curl_here} -s -w ' %{{http_code}}'")
        assert reply.stdout.endswith(" 200")
        assert '"sysdescr":"NanoMQ Broker"' in reply.stdout
        foreign = other_keypair.token(iss="nanomq.pub")
        refused = sh(f"TOKEN={foreign}\n{curl_here} -s -w ' %{{http_code}}'")
        assert refused.stdout.startswith('{"code":103,')
        assert refused.stdout.endswith(" 401")
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=10)


def test_iss_never_opens_a_file(tmp_path: Path, keypair: KeyPair) -> None:
    strategy = make_strategy(jwt_settings(tmp_path, keypair.public_path).http_server)
    assert isinstance(strategy, JwtAuth)
    for iss in (
        "../" + keypair.public_path.name,
        str(keypair.public_path),
        "/etc/passwd",
        "nanomq",
    ):
        with pytest.raises(AuthError) as caught:
            strategy.verify(keypair.token(iss=iss))
        assert caught.value.code == 103


def test_cache_never_accepts_what_verification_refuses(tmp_path: Path, keypair: KeyPair) -> None:
    now = [time.time()]
    keys = {keypair.public_path.name: keypair.private.public_key()}
    cached = JwtAuth(keys, cache_size=100, clock=lambda: now[0])
    uncached = JwtAuth(keys, cache_size=0, clock=lambda: now[0])
    token = keypair.token(ttl=60)
    assert cached.verify(token).name == uncached.verify(token).name == keypair.public_path.name
    assert cached.cache is not None
    assert len(cached.cache) == 1
    now[0] += 60 + 201  # past exp and the 200 s grace
    for strategy in (cached, uncached):
        with pytest.raises(AuthError) as caught:
            strategy.verify(token)
        assert caught.value.code == 116
    now[0] = time.time()
    head, payload, signature = keypair.token(ttl=60).split(".")
    tampered = f"{head}.{payload[:-2]}AA.{signature}"
    for strategy in (cached, uncached):
        with pytest.raises(AuthError) as caught:
            strategy.verify(tampered)
        assert caught.value.code == 103
    small = JwtAuth(keys, cache_size=3)
    for index in range(10):
        small.verify(keypair.token(ttl=60 + index))
    assert small.cache is not None
    assert len(small.cache) == 3


def test_cache_setting(tmp_path: Path, keypair: KeyPair) -> None:
    on = make_strategy(jwt_settings(tmp_path, keypair.public_path).http_server)
    off = make_strategy(jwt_settings(tmp_path, keypair.public_path, cache_size=0).http_server)
    assert isinstance(on, JwtAuth)
    assert on.cache is not None
    assert on.cache.max_size == 10_000
    assert isinstance(off, JwtAuth)
    assert off.cache is None


def write_jwt_conf(path: Path, *keyfiles: Path) -> None:
    files = ", ".join(f'"{k}"' for k in keyfiles)
    path.write_text(
        f"http_server {{\n  auth_type = jwt\n  jwt {{ public.keyfile = [{files}] }}\n}}\n"
    )


@pytest.mark.slow  # 3 s of requests across key rotations
async def test_rotation_under_load(tmp_path: Path) -> None:
    """Requests keep flowing while keys rotate by SIGHUP and by POST /reload; none fails wrongly."""
    old = write_keypair(tmp_path / "a", "old")
    new = write_keypair(tmp_path / "b", "new")
    conf = tmp_path / "nanomq.conf"
    write_jwt_conf(conf, old.public_path)
    port = free_port()
    process = start_process("start", "--conf", str(conf), "-p", str(port), "--log-level", "warning")
    try:
        wait_until_serving(port, process)
        url = f"http://127.0.0.1:{port}/api/v4/brokers"
        old_token, new_token = old.token(), new.token()
        # Which tokens each phase must accept; a request in flight across a switch may see either.
        phase = {"name": "old-only"}
        results: list[tuple[str, str, int]] = []
        stop = asyncio.Event()

        async def worker(session: aiohttp.ClientSession, index: int) -> None:
            while not stop.is_set():
                which = "old" if index % 2 else "new"
                token = old_token if which == "old" else new_token
                before = phase["name"]
                async with session.get(
                    url, headers={"Authorization": f"Bearer {token}"}
                ) as response:
                    await response.read()
                    results.append((before + ">" + phase["name"], which, response.status))

        async with aiohttp.ClientSession() as session:
            workers = [asyncio.create_task(worker(session, i)) for i in range(8)]
            await asyncio.sleep(0.5)
            phase["name"] = "switching"
            write_jwt_conf(conf, old.public_path, new.public_path)
            process.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.5)
            phase["name"] = "both"
            await asyncio.sleep(0.5)
            phase["name"] = "switching"
            write_jwt_conf(conf, new.public_path)
            reload = await session.post(
                f"http://127.0.0.1:{port}/api/v4/reload",
                data="{}",
                headers={"Authorization": f"Bearer {new_token}"},
            )
            assert reload.status == 200
            phase["name"] = "new-only"
            await asyncio.sleep(0.5)
            (tmp_path / "broken.pub").write_text("not a key")
            write_jwt_conf(conf, tmp_path / "broken.pub")
            process.send_signal(signal.SIGHUP)  # fails: the new-only keys stay
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*workers)
    finally:
        stop_process(process)
    assert process.stderr is not None
    statuses = {status for _, _, status in results}
    assert statuses <= {200, 401}, statuses
    steady = {
        (p, w, s)
        for p, w, s in results
        if p.split(">")[0] == p.split(">")[1] and not p.startswith("switching")
    }
    for p, which, status in steady:
        phase_name = p.split(">")[0]
        accepted = {"old-only": {"old"}, "both": {"old", "new"}, "new-only": {"new"}}[phase_name]
        assert (status == 200) == (which in accepted), (p, which, status)
    assert sum(1 for _, _, s in results if s == 200) > 100
    assert {p.split(">")[0] for p, _, _ in steady} == {"old-only", "both", "new-only"}


def test_failed_reload_is_logged_and_keeps_keys(tmp_path: Path, keypair: KeyPair) -> None:
    conf = tmp_path / "nanomq.conf"
    write_jwt_conf(conf, keypair.public_path)
    with running_server("--conf", str(conf), "--log-level", "info") as server:
        conf.write_text('http_server { auth_type = jwt\n jwt { public.keyfile = "gone.pub" } }\n')
        server.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        request = urllib.request.Request(
            f"{server.url}/api/v4/brokers", headers={"Authorization": "Bearer " + keypair.token()}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        stderr = server.stop()
    assert re.search(
        r"reload failed, keeping the previous configuration: .*gone\.pub.*not found", stderr
    )
