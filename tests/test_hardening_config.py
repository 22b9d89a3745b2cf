"""Configs as a hostile user or a slip of the keyboard writes them: none may hang, exhaust,
open or read through the server.

Start-time checks run the real command (one line on stderr, exit status 2, within seconds);
run-time ones go through a real server's API.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp import ClientSession

from nanoadmin.auth.base import Identity
from nanoadmin.auth.jwt_auth import VerifiedTokenCache
from tests.support import KeyPair
from tests.support.processes import ServerProcess, running_server, start_process, stop_process

# Out of `make check`'s quick loop (bad files, devices, FIFOs and includes, each read for real); `make test` runs it.
pytestmark = pytest.mark.slow

PASSWORD = "config-pw"


def basic(user: str = "admin", password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def write(folder: Path, text: str, name: str = "nanomq.conf") -> Path:
    path = folder / name
    path.write_text(text)
    return path


HTTP = f"http_server {{\n  username = admin\n  password = {PASSWORD}\n}}\n"


def start(conf: Path, timeout: float = 10.0) -> tuple[int, str, float]:
    """``nanoadmin start --conf conf``, which must fail: its exit status, stderr, seconds."""
    started = time.monotonic()
    process = start_process("start", "--conf", str(conf))
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(process)
        raise AssertionError(f"start --conf {conf} did not end within {timeout} s") from None
    return process.returncode, stderr, time.monotonic() - started


def assert_refused(conf: Path, *fragments: str) -> str:
    code, stderr, took = start(conf)
    assert code == 2, stderr
    assert took < 5.0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# -- files that are not what they seem, at start ---------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def test_an_include_of_a_device_or_fifo_or_folder_is_refused_at_once(
    tmp_path: Path, fifo: Path
) -> None:
    for target, kind in (
        ("/dev/zero", "character device"),
        (str(fifo), "FIFO"),
        ("/tmp", "folder"),
    ):
        conf = write(tmp_path, HTTP + f'mqtt {{ include "{target}" }}\n')
        assert_refused(conf, target, kind)


def test_a_key_file_that_is_a_fifo_or_a_device_is_refused_at_once(
    tmp_path: Path, fifo: Path
) -> None:
    for target in (str(fifo), "/dev/zero"):
        conf = write(
            tmp_path,
            f'http_server {{\n  auth_type = jwt\n  jwt.public.keyfile = "{target}"\n}}\n',
        )
        assert_refused(conf, "http_server.jwt.public.keyfile", target)


def test_a_huge_config_is_refused_unread(tmp_path: Path) -> None:
    conf = tmp_path / "nanomq.conf"
    with conf.open("w") as file:
        file.write(HTTP)
        line = "# " + "x" * 1000 + "\n"
        for _ in range(50_000):  # 50 MB
            file.write(line)
    assert_refused(conf, "larger than")


def test_an_include_that_exists_but_cannot_be_read_is_an_error(tmp_path: Path) -> None:
    loop = tmp_path / "loop.conf"
    loop.symlink_to(loop)
    conf = write(tmp_path, HTTP + 'auth { password = { include "loop.conf" } }\n')
    message = assert_refused(conf, "loop.conf", "cannot be read")
    assert "not found" not in message


def test_includes_never_reach_out(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.1)
        port = listener.getsockname()[1]
        for include in (
            f'include "http://127.0.0.1:{port}/x.conf"',
            f'include url("http://127.0.0.1:{port}/x.conf")',
            'include "file:///etc/hostname"',
            'include "*.conf"',
            'include package("os:x.conf")',
        ):
            conf = write(tmp_path, HTTP + include + "\n")
            assert_refused(conf, "refused" if "*" not in include else "wildcard")
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody came


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "http_server {\n  port = 8081\n  auth_tpye = jwt\n}\n",
            [":3:", "http_server.auth_tpye", "Did you mean http_server.auth_type?"],
        ),
        (
            "http_server {\n  port = 8081\n  pasword = s3cret\n}\n",
            ["http_server.pasword", "Did you mean http_server.password?"],
        ),
        ("http_sever {\n  port = 8081\n}\n", [":1:", "http_sever", "Did you mean http_server?"]),
        ("", ["holds no settings"]),
        ("# only a comment\n\n", ["holds no settings"]),
        (HTTP + "mqtt { keepalive_multiplier = 1e300 }\n", ["mqtt.keepalive_multiplier"]),
        (HTTP + "nanoadmin { max_conections = 10 }\n", ["Did you mean nanoadmin.max_connections?"]),
    ],
)
def test_typos_and_empty_files_never_start_on_defaults(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    assert_refused(write(tmp_path, text), *fragments)


def test_a_password_of_the_wrong_type_is_never_shown(tmp_path: Path) -> None:
    conf = write(tmp_path, "http_server {\n  password = 918273645\n}\n")
    message = assert_refused(conf, "http_server.password")
    assert "918273645" not in message


# -- through the API of a running server -----------------------------------------------------------


@contextmanager
def serving(conf: Path) -> Iterator[ServerProcess]:
    with running_server("--conf", str(conf)) as srv:
        yield srv


async def post(
    http: ClientSession, srv: ServerProcess, path: str, body: str, headers: dict[str, str]
) -> tuple[int, dict[str, object]]:
    async with http.post(srv.url + path, data=body.encode(), headers=headers) as response:
        return response.status, await response.json()


async def test_config_update_may_name_only_files_in_the_operators_folders(
    tmp_path: Path, http: ClientSession
) -> None:
    conf = write(tmp_path, HTTP)
    (tmp_path / "notes.txt").write_text("root:x:0:0:secret notes\n")
    with serving(conf) as srv:
        for ssl in (
            'cacertfile = "/etc/passwd"',
            'certfile = "../outside.pem"',
            f'keyfile = "{conf}"\n  cacertfile = "/proc/self/environ"',
        ):
            body = HTTP + f'listeners.ssl {{\n  bind = "0.0.0.0:8883"\n  {ssl}\n}}\n'
            status, answer = await post(http, srv, "/api/v4/config_update", body, basic())
            assert (status, answer["code"]) == (400, 117), answer
            assert "outside the folders" in str(answer["message"])
        body = HTTP + 'include "/etc/hostname"\n'
        status, answer = await post(http, srv, "/api/v4/config_update", body, basic())
        assert (status, answer["code"]) == (400, 117)
        assert "outside" in str(answer["message"])
        assert conf.read_text() == HTTP
        # A file in the folder may be named; what it holds shows only if it is a certificate.
        body = HTTP + 'listeners.ssl {\n  bind = "0.0.0.0:8883"\n  certfile = "notes.txt"\n}\n'
        status, answer = await post(http, srv, "/api/v4/config_update", body, basic())
        assert (status, answer) == (200, {"code": 0})
        status, _ = await post(http, srv, "/api/v4/reload", "{}", basic())
        assert status == 200
        async with http.get(srv.url + "/api/v4/configuration/tls", headers=basic()) as response:
            tls = (await response.json())["data"]["tls"]
    assert tls["cert"] == "notes.txt"
    assert "secret notes" not in str(tls)


async def test_auth_can_never_be_switched_off_or_opened_through_the_api(
    tmp_path: Path, http: ClientSession, keypair: KeyPair
) -> None:
    conf = write(tmp_path, HTTP)
    with serving(conf) as srv:
        off = "http_server {\n  auth_type = no_auth\n}\n"
        status, answer = await post(http, srv, "/api/v4/config_update", off, basic())
        assert (status, answer["code"]) == (400, 117)
        assert "switch" in str(answer["message"])
        defaults = "http_server {\n  auth_type = basic\n}\n"  # admin/public, never configured
        status, answer = await post(http, srv, "/api/v4/config_update", defaults, basic())
        assert (status, answer["code"]) == (400, 117)
        assert "never set" in str(answer["message"])
        assert conf.read_text() == HTTP
        await post(http, srv, "/api/v4/reload", "{}", basic())
        async with http.get(srv.url + "/api/v4/brokers") as response:
            assert response.status == 401
    jwt_conf = write(
        tmp_path,
        f'http_server {{\n  auth_type = jwt\n  jwt.public.keyfile = "{keypair.public_path}"\n}}\n',
        "jwt.conf",
    )
    bearer = {"Authorization": f"Bearer {keypair.token()}"}
    with serving(jwt_conf) as srv:
        switch = '{"data":{"http_server":{"auth_type":"basic"}}}'
        status, answer = await post(http, srv, "/api/v4/configuration", switch, bearer)
        assert (status, answer["code"]) == (400, 108)
        assert "never set" in str(answer["message"])
        async with http.get(srv.url + "/api/v4/brokers", headers=basic("admin", "public")) as r:
            assert r.status == 401
        async with http.get(srv.url + "/api/v4/brokers", headers=bearer) as r:
            assert r.status == 200
        # Setting the password in the same request is a password somebody set.
        switch = '{"data":{"http_server":{"auth_type":"basic","password":"chosen"}}}'
        status, answer = await post(http, srv, "/api/v4/configuration", switch, bearer)
        assert (status, answer) == (200, {"code": 0})
        async with http.get(srv.url + "/api/v4/brokers", headers=basic("admin", "chosen")) as r:
            assert r.status == 200


@pytest.mark.parametrize(
    "body",
    [
        HTTP + 'mqtt {\n  property_size = "abc\n}\n',
        HTTP + "mqtt {\n  property_size = 32\x00\n}\n",
        HTTP + "\x1b[2J\n",
        HTTP + "mqtt { keepalive_multiplier = 1e300 }\n",
    ],
)
async def test_config_update_writes_only_valid_config(
    tmp_path: Path, http: ClientSession, body: str
) -> None:
    conf = write(tmp_path, HTTP)
    with serving(conf) as srv:
        status, answer = await post(http, srv, "/api/v4/config_update", body, basic())
    assert (status, answer["code"]) == (400, 117)
    assert conf.read_text() == HTTP


async def test_a_wrongly_typed_password_is_never_echoed_by_reload(
    tmp_path: Path, http: ClientSession
) -> None:
    conf = write(tmp_path, HTTP)
    log = ""
    with serving(conf) as srv:
        conf.write_text("http_server {\n  username = admin\n  password = 55443322\n}\n")
        status, answer = await post(http, srv, "/api/v4/reload", "{}", basic())
        log = srv.stop()
    assert (status, answer["code"]) == (400, 117)
    assert "55443322" not in str(answer)
    assert "55443322" not in log


async def test_a_strange_file_after_start_never_wedges_reload_sighup_or_stop(
    tmp_path: Path, http: ClientSession, fifo: Path
) -> None:
    conf = write(tmp_path, HTTP)
    with serving(conf) as srv:
        conf.write_text(HTTP + f'mqtt {{ include "{fifo}" }}\n')
        srv.process.send_signal(signal.SIGHUP)
        started = time.monotonic()
        status, answer = await post(http, srv, "/api/v4/reload", "{}", basic())
        assert time.monotonic() - started < 2.0
        assert (status, answer["code"]) == (400, 117)
        assert "FIFO" in str(answer["message"])
        async with http.get(srv.url + "/api/v4/brokers", headers=basic()) as response:
            assert response.status == 200
        started = time.monotonic()
        log = srv.stop()
        assert time.monotonic() - started < 5.0
    assert srv.process.returncode == 0
    assert "FIFO" in log  # the SIGHUP's reload said why it failed


# -- the atomic write ----------------------------------------------------------------------------


async def test_config_update_never_writes_through_a_planted_link(
    tmp_path: Path, http: ClientSession
) -> None:
    conf = write(tmp_path, HTTP)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    leftover = tmp_path / ".nanomq.conf.12345.tmp"
    leftover.write_text("half a config")
    with serving(conf) as srv:
        assert not leftover.exists()  # a crashed write's temp file is gone at start
        # The temp name the old code used: a link there must not be written through.
        for pid in range(srv.process.pid - 2, srv.process.pid + 3):
            (tmp_path / f".nanomq.conf.{pid}.tmp").symlink_to(victim)
        new = HTTP + "mqtt { property_size = 64 }\n"
        status, answer = await post(http, srv, "/api/v4/config_update", new, basic())
    assert (status, answer) == (200, {"code": 0})
    assert conf.read_text() == new
    assert victim.read_text() == "untouched\n"
    assert not conf.is_symlink()


def test_the_token_cache_is_bounded_in_characters() -> None:
    cache = VerifiedTokenCache(max_size=10_000, max_chars=1_000_000)
    identity = Identity("bearer", "k.pub")
    for index in range(2_000):  # 2,000 tokens of 15 KB: 30 MB if only the count held
        cache.put(f"{index:08d}" + "t" * 15_000, 1e12, identity)
    assert cache.chars <= 1_000_000
    assert len(cache) == cache.chars // 15_008
    assert cache.get(f"{1999:08d}" + "t" * 15_000) is not None  # the newest stay
