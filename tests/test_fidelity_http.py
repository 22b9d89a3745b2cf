"""Paths, methods and headers as NanoMQ's HTTP server answers them, against real servers.

NanoMQ's server is nng's (nanomq/NanoNNG src/supplemental/http/http_server.c): it matches
handlers against http_uri_canonify's path (query cut, absolute-form host dropped, %XX
decoded) and hands the raw target to NanoMQ's handler (nanomq/nanomq web_server.c
rest_handle), which reads it with rest_api.c uri_parse and uri_parse_tree and routes in
process_request. nanoadmin keeps its JSON bodies where nng answers in HTML (D7).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanoadmin.config import ConfigError
from nanoadmin.settings import load_settings
from tests.support import BASIC_ADMIN, Client, ClientFactory, write_conf
from tests.support.cli import Cli
from tests.support.rawhttp import HttpResponse, RawConnection, request_bytes

INDEX_START = b'{"code":0,"data":[{"path":"/brokers/"'


async def raw(
    client: Client,
    method: str,
    target: str,
    *,
    auth: str | None = BASIC_ADMIN,
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes | None = None,
) -> HttpResponse:
    assert client.port is not None
    conn = await RawConnection.open(client.port)
    try:
        await conn.send(request_bytes(method, target, auth=auth, headers=headers, body=body))
        return await conn.response(head=method == "HEAD")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("method", "target", "status", "answer"),
    [
        # nng decodes /api/%76%34 to /api/v4; the raw target holds no "/api/v4": the index.
        ("GET", "/api/%76%34/brokers", 200, "index"),
        # After /api/v4 comes "%2Fbrokers", with no "/": no segment, the index.
        ("GET", "/api/v4%2Fbrokers", 200, "index"),
        # The piece before the first "/" after /api/v4 is never looked at.
        ("GET", "/api/v4%2Fx/brokers", 200, "brokers"),
        ("GET", "/api/v4/%62rokers", 404, 102),
        ("GET", "http://nanomq.example:8081/api/v4/brokers", 200, "brokers"),
        ("GET", "HTTP://nanomq.example/api/v4?x=1", 200, "index"),
        # Not strcmp-equal to "/api/v4/": one empty segment.
        ("GET", "http://nanomq.example/api/v4/", 404, 102),
        ("GET", "/api/v4//brokers", 404, 102),
        ("GET", "/api/v4/?", 404, 102),
        ("GET", "/api/v4?", 200, "index"),
        ("GET", "/api/v4/brokers#frag", 404, 102),
        # Empty segments stay: client id "".
        ("GET", "/api/v4/clients//", 200, "empty"),
        ("GET", "/api/v4/clients//x", 404, 102),
        ("PATCH", "/api/v4/?", 405, 102),
        ("PATCH", "/api/v4//brokers", 405, 102),
    ],
)
async def test_api_targets_are_routed_as_nanomq_routes_them(
    basic_client: Client, method: str, target: str, status: int, answer: object
) -> None:
    """nanomq/NanoNNG http_server.c http_uri_canonify and the handler loop choose the /api/v4
    handler; nanomq/nanomq rest_api.c uri_parse_tree and process_request read the raw target:
    segments after the first /api/v4, the first one ignored, empty ones kept."""
    reply = await raw(basic_client, method, target)
    assert reply.status == status, (target, reply.body)
    if answer == "index":
        assert reply.body.startswith(INDEX_START)
    elif answer == "brokers":
        assert b'"sysdescr":"NanoMQ Broker"' in reply.body
    elif answer == "empty":
        assert reply.json() == {"code": 0, "data": []}
    else:
        assert reply.code() == answer


async def test_api_targets_nng_decodes_are_authenticated(basic_client: Client) -> None:
    """Whatever the raw text, a target nng hands to the /api/v4 handler needs auth first."""
    for target in ("/api/%76%34/brokers", "/api/v4%2Fbrokers", "http://h/api/v4/brokers"):
        reply = await raw(basic_client, "GET", target, auth=None)
        assert (reply.status, reply.code()) == (401, 104), target


@pytest.mark.parametrize(
    "target", ["//api/v4/brokers", "/api/v4#x", "/API/v4/brokers", "/api/v4x", "/elsewhere"]
)
async def test_outside_api_v4_get_is_404_and_any_other_method_405_without_auth(
    basic_client: Client, target: str
) -> None:
    """nng's directory handler (GET only, HEAD mapped to GET) takes every path that is not
    /api/v4 or below it: 404 for GET and HEAD, 405 for any other method
    (http_server.c http_sconn_rxdone: badmeth), with no auth. nanoadmin's bodies are JSON."""
    for method, status in (("GET", 404), ("HEAD", 404), ("POST", 405), ("DELETE", 405)):
        reply = await raw(basic_client, method, target, auth=None)
        assert reply.status == status, (method, target)
        if method != "HEAD":
            assert reply.code() == 102
        if status == 405:
            assert reply.headers["allow"] == "GET, HEAD"


async def test_no_server_header_on_any_answer(basic_client: Client) -> None:
    """NanoMQ sets Content-Type and nng Content-Length (and Connection: close): no Server
    (nanomq/nanomq web_server.c rest_job_cb)."""
    answers = [
        await raw(basic_client, "GET", "/api/v4/brokers"),
        await raw(basic_client, "GET", "/api/v4/brokers", auth=None),
        await raw(basic_client, "GET", "/nowhere"),
        await raw(basic_client, "PUT", "/nowhere"),
        await raw(basic_client, "GET", "/status"),
        await raw(
            basic_client,
            "POST",
            "/api/v4/bridges/switch/none",
            body=b'{"data":{"bridge_switch":true}}',
        ),
    ]
    assert basic_client.port is not None
    conn = await RawConnection.open(basic_client.port)
    await conn.send(b"GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\nBad\x01Header: y\r\n\r\n")
    answers.append(await conn.response())
    await conn.close()
    assert [a.status for a in answers] == [200, 401, 404, 405, 200, 204, 400]
    for reply in answers:
        assert "server" not in reply.headers, reply


@pytest.mark.parametrize(
    ("mode", "challenged"),
    [(None, True), ("navigate", True), ("cors", False), ("no-cors", False), ("same-origin", False)],
)
async def test_www_authenticate_only_where_no_page_script_asked(
    basic_client: Client, mode: str | None, challenged: bool
) -> None:
    """A challenge to a page's own fetch() makes the browser pop up its sign-in dialog: it goes
    to navigations and clients that are not browsers only (D5, narrowed)."""
    headers = (("Sec-Fetch-Mode", mode),) if mode is not None else ()
    reply = await raw(basic_client, "GET", "/api/v4/brokers", auth=None, headers=headers)
    assert (reply.status, reply.code()) == (401, 104)
    assert ("www-authenticate" in reply.headers) is challenged


# -- CORS ---------------------------------------------------------------------------------------

DASHBOARD = "http://dash.example:8080"
PREFLIGHT = (("Origin", DASHBOARD), ("Access-Control-Request-Method", "GET"))


@pytest.fixture
async def cors_client(make_client: ClientFactory, tmp_path: Path) -> Client:
    conf = write_conf(
        tmp_path,
        "  username = admin\n  password = public",
        f'nanoadmin {{ cors = ["{DASHBOARD}", "https://other.example"] }}\n',
    )
    return await make_client(load_settings(str(conf), environ={}))


async def test_cors_is_off_by_default(basic_client: Client) -> None:
    """NanoMQ sends no CORS header: a preflight is an OPTIONS like any (auth, then 405)."""
    preflight = await raw(basic_client, "OPTIONS", "/api/v4/brokers", auth=None, headers=PREFLIGHT)
    assert preflight.status == 401
    allowed = await raw(basic_client, "GET", "/api/v4/brokers", headers=(("Origin", DASHBOARD),))
    assert allowed.status == 200
    assert not any(name.startswith("access-control-") for name in allowed.headers)
    assert "vary" not in allowed.headers


async def test_cors_preflight_is_answered_before_auth(cors_client: Client) -> None:
    reply = await raw(
        cors_client,
        "OPTIONS",
        "/api/v4/clients",
        auth=None,
        headers=(*PREFLIGHT, ("Access-Control-Request-Headers", "authorization, x-requested-with")),
    )
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == DASHBOARD
    assert reply.headers["access-control-allow-credentials"] == "true"
    assert reply.headers["access-control-allow-methods"] == "GET, POST, PUT, DELETE"
    assert reply.headers["access-control-allow-headers"] == "authorization, x-requested-with"
    assert reply.headers["vary"] == "Origin"


async def test_cors_headers_on_every_answer_to_an_allowed_origin(cors_client: Client) -> None:
    origin = (("Origin", DASHBOARD), ("Sec-Fetch-Mode", "cors"))
    for method, target, auth, status in [
        ("GET", "/api/v4/brokers", BASIC_ADMIN, 200),
        ("GET", "/api/v4/brokers", None, 401),
        ("GET", "/api/v4/nothing", BASIC_ADMIN, 404),
        ("DELETE", "/api/v4/brokers", BASIC_ADMIN, 405),
        ("GET", "/elsewhere", None, 404),
    ]:
        reply = await raw(cors_client, method, target, auth=auth, headers=origin)
        assert reply.status == status, target
        assert reply.headers["access-control-allow-origin"] == DASHBOARD, target
        assert reply.headers["access-control-allow-credentials"] == "true"
        assert reply.headers["vary"] == "Origin"
        assert "www-authenticate" not in reply.headers  # a page's script: no dialog


async def test_cors_nothing_for_an_origin_not_named(cors_client: Client) -> None:
    stranger = (("Origin", "http://evil.example"), ("Access-Control-Request-Method", "GET"))
    preflight = await raw(cors_client, "OPTIONS", "/api/v4/brokers", auth=None, headers=stranger)
    assert preflight.status == 401  # what any OPTIONS gets
    reply = await raw(cors_client, "GET", "/api/v4/brokers", headers=stranger[:1])
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers
    assert reply.headers["vary"] == "Origin"
    authed = await raw(cors_client, "OPTIONS", "/api/v4/brokers", headers=stranger)
    assert (authed.status, authed.code()) == (405, 102)


@pytest.mark.parametrize("origin", ["*", "null", "http://dash.example/", "dash.example"])
def test_cors_origins_must_be_origins(tmp_path: Path, origin: str) -> None:
    """Never * with credentials (a browser refuses the pair); no path, no bare host."""
    conf = write_conf(tmp_path, "  port = 8081", f'nanoadmin {{ cors = ["{origin}"] }}\n')
    with pytest.raises(ConfigError, match="nanoadmin.cors"):
        load_settings(str(conf), environ={})
    with pytest.raises(ConfigError, match="--cors"):
        load_settings(str(write_conf(tmp_path, "  port = 8081")), cors=[origin], environ={})


def test_cors_and_dist_flags(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--cors (repeatable, replacing the file's list) and --dist as overrides, kept over a
    reload; bad values exit 2 with one line."""
    from nanoadmin.settings import reload_settings

    www = tmp_path / "www"
    www.mkdir()
    conf = write_conf(tmp_path, "  port = 8081", 'nanoadmin { cors = ["http://a.example"] }\n')
    started: list[object] = []
    monkeypatch.setattr("nanoadmin.http.server.run", started.append)
    args = (
        "start",
        "--conf",
        str(conf),
        "--cors",
        "http://b.example",
        "--cors",
        "http://c.example",
    )
    assert cli(*args, "--dist", str(www)).returncode == 0
    settings = load_settings(
        str(conf), cors=["http://b.example", "http://c.example"], dist=str(www), environ={}
    )
    assert settings.nanoadmin.cors == ("http://b.example", "http://c.example")
    assert reload_settings(settings).nanoadmin == settings.nanoadmin
    assert len(started) == 1
    for bad in (("--cors", "*"), ("--dist", str(tmp_path / "missing"))):
        result = cli("start", "--conf", str(conf), *bad)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# -- --dist -------------------------------------------------------------------------------------


@pytest.fixture
def www(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>console</title>")
    (folder / "assets" / "app.js").write_text("console.log(1)")
    (folder / "assets" / "index.html").write_text("assets index")
    (folder / "empty").mkdir()
    (folder / ".env").write_text("SECRET=1")
    (tmp_path / "secret.txt").write_text("outside")
    (folder / "out").symlink_to(tmp_path / "secret.txt")
    (folder / "in.js").symlink_to(folder / "assets" / "app.js")
    (folder / "dot").symlink_to(folder / ".env")
    return folder


@pytest.fixture
async def dist_client(make_client: ClientFactory, tmp_path: Path, www: Path) -> Client:
    conf = write_conf(
        tmp_path, "  username = admin\n  password = public", 'nanoadmin { dist = "dist" }\n'
    )
    return await make_client(load_settings(str(conf), environ={}))


async def test_dist_serves_files_at_the_root_without_auth(dist_client: Client) -> None:
    """NanoMQ serves ./dist at "" for GET (HEAD as GET), with no auth (nanomq/nanomq
    web_server.c rest_start: nng_http_handler_alloc_directory)."""
    index = await raw(dist_client, "GET", "/", auth=None)
    assert (index.status, index.body) == (200, b"<!doctype html><title>console</title>")
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    script = await raw(dist_client, "GET", "/assets/app.js", auth=None)
    assert script.status == 200
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert (await raw(dist_client, "GET", "/assets/", auth=None)).body == b"assets index"
    assert (await raw(dist_client, "GET", "/in.js", auth=None)).body == b"console.log(1)"
    head = await raw(dist_client, "HEAD", "/assets/app.js", auth=None)
    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-length"] == str(len("console.log(1)"))
    assert "server" not in head.headers
    # The API is as before.
    assert (await raw(dist_client, "GET", "/api/v4/brokers", auth=None)).status == 401
    assert (await raw(dist_client, "GET", "/status", auth=None)).status == 200


@pytest.mark.parametrize(
    "target",
    [
        "/.env",
        "/dot",  # a link to a dot-file
        "/out",  # a link out of the folder
        "/empty",  # a folder without index.html: never listed
        "/empty/",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/nothing.js",
        "/assets/app.js%00.html",
        "/assets\\app.js",
    ],
)
async def test_dist_serves_nothing_else(dist_client: Client, target: str) -> None:
    """Unlike NanoMQ's handler, which builds the file name from the raw target with no check
    (``../`` reaches outside ./dist), nanoadmin serves plain paths inside the folder only."""
    reply = await raw(dist_client, "GET", target, auth=None)
    assert reply.status == 404, (target, reply.body)
    assert reply.code() == 102
    assert b"outside" not in reply.body
    assert b"SECRET" not in reply.body


async def test_dist_is_get_and_head_only(dist_client: Client) -> None:
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        reply = await raw(dist_client, method, "/index.html", auth=None)
        assert reply.status == 405, method
        assert reply.headers["allow"] == "GET, HEAD"


async def test_dist_skips_what_is_not_a_regular_file(dist_client: Client, www: Path) -> None:
    import os

    os.mkfifo(www / "fifo")
    reply = await raw(dist_client, "GET", "/fifo", auth=None)
    assert reply.status == 404


async def test_without_dist_the_root_is_the_consoles(basic_client: Client) -> None:
    """Without --dist, / is the web console's (tests/test_console.py), with no auth."""
    reply = await raw(basic_client, "GET", "/", auth=None)
    assert (reply.status, reply.headers["content-type"]) == (200, "text/html; charset=utf-8")


def test_dist_must_be_a_folder(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "  port = 8081", 'nanoadmin { dist = "nowhere" }\n')
    with pytest.raises(ConfigError, match="nanoadmin.dist"):
        load_settings(str(conf), environ={})


async def test_the_api_cannot_change_dist_or_cors(
    make_client: ClientFactory, tmp_path: Path, www: Path
) -> None:
    """A config posted through POST /config_update may not serve another folder nor allow
    another origin (nanoadmin.guards.check_served)."""
    text = "http_server {\n  username = admin\n  password = public\n}\n"
    conf = tmp_path / "nanomq.conf"
    conf.write_text(text + 'nanoadmin { dist = "dist" }\n')
    client = await make_client(load_settings(str(conf), environ={}))
    for extra in ('nanoadmin { dist = "/" }\n', 'nanoadmin { cors = ["http://evil.example"] }\n'):
        reply = await raw(client, "POST", "/api/v4/config_update", body=(text + extra).encode())
        assert (reply.status, reply.code()) == (400, 117), reply.body
        assert "through the API" in json.loads(reply.body)["message"]
    assert 'dist = "dist"' in conf.read_text()
    same = await raw(
        client,
        "POST",
        "/api/v4/config_update",
        body=(text + 'nanoadmin { dist = "dist" }\n').encode(),
    )
    assert (same.status, same.code()) == (200, 0)


@pytest.mark.parametrize("method", ["get", "Post", "FETCH\x01"])
async def test_lowercase_and_unknown_method_tokens_are_refused(
    basic_client: Client, method: str
) -> None:
    """nng upper-cases every method (NanoNNG http_msg.c nni_http_req_set_method), so `get` is
    GET there; nanoadmin's parser refuses such a token (D12): stricter, so the rule holds."""
    assert basic_client.port is not None
    conn = await RawConnection.open(basic_client.port)
    await conn.send(f"{method} /api/v4/brokers HTTP/1.1\r\nHost: x\r\n\r\n".encode("latin-1"))
    reply = await conn.response()
    await conn.close()
    assert (reply.status, reply.code()) == (400, 102)
    assert "server" not in reply.headers


def test_check_config_shows_cors_and_dist(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    conf = write_conf(
        tmp_path,
        "  port = 8081",
        'nanoadmin {\n  cors = ["https://Dash.example"]\n  dist = "www"\n}\n',
    )
    result = cli("check-config", "--conf", str(conf))
    assert result.returncode == 0, result.stderr
    assert "nanoadmin.cors = https://dash.example" in result.stdout
    assert f"nanoadmin.dist = {(tmp_path / 'www').resolve()}" in result.stdout
