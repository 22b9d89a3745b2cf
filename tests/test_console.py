"""The web console's files over HTTP: where they are served, with which headers, and when not."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nanoadmin.console import ASSETS, CONSOLE_PREFIX, CONTENT_SECURITY_POLICY
from nanoadmin.settings import load_settings
from tests.support import Client, ClientFactory, KeyPair, write_conf

PASSWORD = "c0nsole-Secret-pa55"


class PageParts(HTMLParser):
    """What index.html links to, and anything in it the CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script" and not named.get("src"):
            self.inline.append("<script> without src")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"{tag} {name}=")
            if name in ("src", "href") and value and not value.startswith("data:"):
                self.links.append(value)


def console_conf(tmp_path: Path, extra: str = "") -> Path:
    return write_conf(tmp_path, f"  username = admin\n  password = {PASSWORD}", extra)


@pytest.fixture
async def console_client(make_client: ClientFactory, tmp_path: Path) -> Client:
    return await make_client(load_settings(str(console_conf(tmp_path)), environ={}))


def assert_console_headers(headers: object) -> None:
    from multidict import CIMultiDictProxy

    assert isinstance(headers, CIMultiDictProxy)
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]{32}"', headers["ETag"])


async def test_the_root_serves_the_page_without_auth(console_client: Client) -> None:
    reply = await console_client.get("/")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert_console_headers(reply.headers)
    page = await reply.text()
    assert page.startswith("<!doctype html>")
    assert "WWW-Authenticate" not in reply.headers
    same = await console_client.get(CONSOLE_PREFIX)
    assert (same.status, await same.text()) == (200, page)


async def test_the_page_links_only_to_its_own_assets_and_has_nothing_inline(
    console_client: Client,
) -> None:
    """Everything the page loads is on the allow-list, and the CSP forbids inline code."""
    parts = PageParts()
    parts.feed(await (await console_client.get("/")).text())
    assert parts.inline == []
    assert sorted(parts.links) == sorted(
        CONSOLE_PREFIX + name for name in ASSETS if name != "index.html"
    )
    for link in parts.links:
        assert (await console_client.get(link)).status == 200, link


@pytest.mark.parametrize(
    ("name", "kind"),
    [("console.css", "text/css; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8")],
)
async def test_assets_have_their_types(console_client: Client, name: str, kind: str) -> None:
    reply = await console_client.get(CONSOLE_PREFIX + name)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == kind
    assert_console_headers(reply.headers)
    assert len(await reply.read()) > 500


async def test_the_script_inserts_no_html(console_client: Client) -> None:
    """Client ids and topics are chosen by whoever connects: text only, never markup."""
    script = await (await console_client.get(CONSOLE_PREFIX + "console.js")).text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
    for store in ("localStorage", "sessionStorage", "document.cookie"):
        assert store not in script


async def test_head_and_revalidation(console_client: Client) -> None:
    full = await console_client.get(CONSOLE_PREFIX + "console.js")
    body = await full.read()
    head = await console_client.head(CONSOLE_PREFIX + "console.js")
    assert head.status == 200
    assert head.headers["Content-Length"] == str(len(body))
    assert await head.read() == b""
    again = await console_client.get(
        CONSOLE_PREFIX + "console.js", headers={"If-None-Match": full.headers["ETag"]}
    )
    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == full.headers["ETag"]


@pytest.mark.parametrize(
    "path",
    [
        CONSOLE_PREFIX + "nope.js",
        CONSOLE_PREFIX + "index.htm",
        CONSOLE_PREFIX + "__init__.py",
        CONSOLE_PREFIX + "../__init__.py",
        CONSOLE_PREFIX + "%2e%2e/__init__.py",
        CONSOLE_PREFIX + "sub/console.js",
        CONSOLE_PREFIX + "console.js/",
        "/console.js",
        "/index.html",
        "/_nanoadmin/console",
    ],
)
async def test_anything_else_is_the_json_404(console_client: Client, path: str) -> None:
    reply = await console_client.get(path)
    assert reply.status == 404, path
    assert reply.headers["Content-Type"] == "application/json"
    assert (await reply.json())["code"] == 102


async def test_other_methods_are_405_as_before(console_client: Client) -> None:
    for method in ("POST", "PUT", "DELETE"):
        for path in ("/", CONSOLE_PREFIX + "console.js"):
            reply = await console_client.request(method, path)
            assert reply.status == 405, (method, path)
            assert reply.headers["Allow"] == "GET, HEAD"
            assert (await reply.json())["code"] == 102


async def test_console_off_serves_nothing(make_client: ClientFactory, tmp_path: Path) -> None:
    conf = console_conf(tmp_path, "nanoadmin { console = false }\n")
    client = await make_client(load_settings(str(conf), environ={}))
    for path in ("/", CONSOLE_PREFIX, CONSOLE_PREFIX + "console.js"):
        reply = await client.get(path)
        assert reply.status == 404, path
        assert (await reply.json())["code"] == 102
    assert (await client.get("/status")).status == 200


async def test_with_dist_the_root_is_dists(make_client: ClientFactory, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>my dashboard</title>")
    conf = console_conf(tmp_path, 'nanoadmin { dist = "dist" }\n')
    client = await make_client(load_settings(str(conf), environ={}))
    root = await client.get("/")
    assert await root.text() == "<!doctype html><title>my dashboard</title>"
    assert "Content-Security-Policy" not in root.headers
    console = await client.get(CONSOLE_PREFIX)
    assert console.status == 200
    assert "nanoadmin console" in await console.text()
    assert (await client.get(CONSOLE_PREFIX + "console.js")).status == 200


async def test_nothing_served_reveals_a_secret(
    make_client: ClientFactory, tmp_path: Path, keypair: KeyPair
) -> None:
    """No byte of the console holds the Basic password or either half of the JWT key pair."""
    basic = await make_client(load_settings(str(console_conf(tmp_path)), environ={}))
    jwt_dir = tmp_path / "jwt"
    jwt_dir.mkdir()
    jwt_conf = write_conf(
        jwt_dir, f'  auth_type = jwt\n  jwt {{\n    public.keyfile = "{keypair.public_path}"\n  }}'
    )
    jwt = await make_client(load_settings(str(jwt_conf), environ={}))
    secrets = [PASSWORD.encode(), str(keypair.public_path).encode()]
    for pem in (keypair.private_path.read_bytes(), keypair.public_path.read_bytes()):
        secrets += [line for line in pem.splitlines() if b"-----" not in line and len(line) > 20]
    for client in (basic, jwt):
        for path in ("/", *(CONSOLE_PREFIX + name for name in ASSETS)):
            reply = await client.get(path)
            assert reply.status == 200
            served = await reply.read() + str(reply.headers).encode()
            for secret in secrets:
                assert secret not in served, (path, secret[:12])
