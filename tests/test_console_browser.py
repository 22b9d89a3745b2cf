"""The web console in headless Chromium against a real ``nanoadmin start`` with 1000 clients.

Skips where Playwright or the system Chromium is missing, unless NANOADMIN_REQUIRE_BROWSER=1
(CI), where that is a failure. NANOADMIN_SCREENSHOTS=DIR saves one PNG per view into DIR.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import KeyPair
from tests.support.processes import ServerProcess, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

# A real server process and a browser: some 25 s, so make test runs it and make check does not.
pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "browser-Pa55word"
AUTH = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
CLIENTS = 1000
VIEWPORT: ViewportSize = {"width": 1200, "height": 800}
# Playwright waits this long (ms) for what a test expects to show.
WAIT = 5000

CONF = f"""
http_server {{
  username = admin
  password = "{PASSWORD}"
}}
rules.repub {{
  rules = [ {{ enabled = true, address = "mqtt-tcp://127.0.0.1:1883", topic = "out", sql = "SELECT * FROM \\"in\\"" }} ]
}}
bridges.mqtt.emqx {{
  server = "mqtt-tcp://broker.example:1883"
  proto_ver = 4
  username = bridge
  password = "bridge-secret"
  forwards = [ {{ remote_topic = "fwd/t", local_topic = "t/#" }} ]
  subscription = [ {{ remote_topic = "cmd/1", local_topic = "c1", qos = 1 }} ]
}}
"""


def scenario() -> dict[str, object]:
    clients = []
    for i in range(CLIENTS):
        client: dict[str, object] = {
            "client_id": f"console-{i:04d}",
            "username": ("alice", "bob", "carol", "dave")[i % 4],
            "proto_ver": (4, 5)[i % 2],
        }
        if i % 10 == 0:
            client["subscriptions"] = [
                {"topic": f"sensors/room{i % 7}/temp", "qos": 1},
                {"topic": "alerts/#", "qos": 0},
            ]
        clients.append(client)
    retained = [
        {"topic": f"sensors/room{n}/temp", "payload": f"2{n}.5", "qos": 1} for n in range(3)
    ]
    return {"clients": clients, "retained": retained}


def missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make test installs the dev extra)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (as root with apt: make browser)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = missing_browser()
    if reason is not None:
        if os.environ.get("NANOADMIN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"NANOADMIN_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def start_args(folder: Path, *extra: str) -> tuple[str, ...]:
    conf = folder / "nanomq.conf"
    conf.write_text(CONF)
    seed = folder / "scenario.json"
    seed.write_text(json.dumps(scenario()))
    return ("--conf", str(conf), "--scenario", str(seed), *extra)


@pytest.fixture(scope="module")
def server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(*start_args(tmp_path_factory.mktemp("console"), "--control")) as process:
        yield process


class Api:
    """The test's own client of the same server, with urllib: nothing of the page's."""

    def __init__(self, url: str, auth: str = AUTH) -> None:
        self.url = url
        self.auth = auth

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Authorization": self.auth}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                status, text = reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        try:
            return status, json.loads(text)
        except json.JSONDecodeError:
            return status, text

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def counter(self, name: str) -> int:
        _, text = self.call("GET", "/api/v4/prometheus")
        found = re.search(rf"^nanomq_{name} (\d+)$", text, re.MULTILINE)
        assert found is not None, name
        return int(found.group(1))


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Api:
    return Api(server.url)


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("NANOADMIN_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), type="png")


def sign_in(page: Page, url: str, password: str = PASSWORD) -> None:
    page.goto(url + "/")
    page.fill("#login-username", "admin")
    page.fill("#login-password", password)
    page.click("#login-submit")


@pytest.fixture(scope="module")
def page(browser: Browser, server: ServerProcess) -> Iterator[Page]:
    """One signed-in page for the module's tests, which run in order on it."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT)
    signed_in = context.new_page()
    errors: list[str] = []
    signed_in.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(signed_in, server.url)
    expect(signed_in.locator("#app")).to_be_visible(timeout=WAIT)
    yield signed_in
    context.close()
    assert errors == []


def open_view(page: Page, name: str) -> None:
    from playwright.sync_api import expect

    page.click(f"#nav a[data-view={name}]")
    expect(page.locator(f"section.view[data-view={name}]")).to_be_visible()
    expect(page.locator("section.view[aria-busy]")).to_have_count(0, timeout=WAIT)


def test_a_wrong_password_stays_at_the_sign_in_form(
    browser: Browser, server: ServerProcess
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        challenges: list[str] = []
        page.on(
            "response",
            lambda reply: (
                challenges.append(reply.url) if "www-authenticate" in reply.headers else None
            ),
        )
        page.goto(server.url + "/")
        shot(page, "login")
        sign_in(page, server.url, password="wrong")
        expect(page.locator("#login-error")).to_contain_text("code 103", timeout=WAIT)
        expect(page.locator("#app")).to_be_hidden()
        # A page's fetch gets no challenge, so the browser shows no sign-in dialog of its own.
        assert challenges == []
        assert page.evaluate("document.cookie") == ""
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    finally:
        context.close()


def test_the_overview_shows_what_the_api_says(page: Page, api: Api) -> None:
    from playwright.sync_api import expect

    open_view(page, "overview")
    broker = api.get("/api/v4/brokers")["data"][0]
    node = api.get("/api/v4/nodes")["data"][0]
    metrics = api.get("/api/v4/metrics")

    def figure(key: str) -> Any:
        return page.locator(f"[data-figure={key}] .value")

    expect(figure("version")).to_have_text(broker["version"], timeout=WAIT)
    expect(figure("node_status")).to_have_text(broker["node_status"])
    expect(figure("connections")).to_have_text(str(node["connections"]))
    expect(figure("metrics_connections")).to_have_text(str(metrics["connections"]))
    expect(figure("messages_received")).to_have_text(str(api.counter("messages_received")))
    assert node["connections"] == CLIENTS
    assert page.locator("canvas").count() == 2
    expect(page.locator("#broker-info")).to_contain_text(broker["version"])


def test_paging_through_1000_clients(page: Page, api: Api) -> None:
    from playwright.sync_api import expect

    open_view(page, "clients")
    rows = page.locator("tbody tr[data-clientid]")
    expect(rows).to_have_count(20)
    expect(page.locator(".pager")).to_contain_text("Page 1 of 50 · 1,000 clients")
    shot(page, "clients")
    page.select_option("#client-limit", "100")
    seen: list[str] = []
    for number in range(1, 11):
        expect(page.locator(".pager")).to_contain_text(f"Page {number} of 10")
        expect(rows).to_have_count(100)
        seen += rows.evaluate_all("rows => rows.map(row => row.dataset.clientid)")
        if number < 10:
            page.click("#client-next")
    assert seen == [f"console-{i:04d}" for i in range(CLIENTS)]
    expect(page.locator("#client-next")).to_be_disabled()
    expect(page.locator("#client-prev")).to_be_enabled()
    # The filter is the API's: exact username.
    page.select_option("#client-filter-key", "username")
    page.fill("#client-filter", "carol")
    page.click("#client-filter-submit")
    expect(page.locator(".pager")).to_contain_text("Page 1 of 3 · 250 clients")
    usernames = rows.evaluate_all("rows => rows.map(row => row.cells[1].textContent)")
    assert set(usernames) == {"carol"}
    expected = api.get("/api/v4/clients?username=carol&_page=1&_limit=100")
    assert rows.evaluate_all("rows => rows.map(row => row.dataset.clientid)") == [
        client["client_id"] for client in expected["data"]
    ]


def test_kick_a_client_and_it_is_gone(page: Page, api: Api) -> None:
    from playwright.sync_api import expect

    open_view(page, "clients")
    page.select_option("#client-limit", "20")
    target = page.locator('tr[data-clientid="console-0003"]')
    expect(target).to_have_count(1)
    target.locator("button", has_text="Kick").click()
    expect(page.locator(".notice.ok")).to_have_text("Kicked console-0003.")
    expect(target).to_have_count(0)
    expect(page.locator(".pager")).to_contain_text("999 clients")
    assert api.get("/api/v4/clients/console-0003")["data"] == []
    assert api.get("/api/v4/nodes")["data"][0]["connections"] == CLIENTS - 1


def test_publish_moves_the_counters_and_retains(page: Page, api: Api) -> None:
    from playwright.sync_api import expect

    received = api.counter("messages_received")
    sent = api.counter("messages_sent")
    open_view(page, "publish")
    page.fill("#publish-topic", "sensors/room3/temp")
    page.fill("#publish-payload", "23.5")
    page.select_option("#publish-qos", "1")
    page.check("#publish-retain")
    page.click("#publish-submit")
    expect(page.locator("#publish-result")).to_contain_text("HTTP 200, code 0")
    shot(page, "publish")
    assert api.counter("messages_received") == received + 1
    # Clients 10, 80, 150, ... subscribe to sensors/room3/temp: each got a copy.
    copies = len([i for i in range(0, CLIENTS, 10) if i % 7 == 3])
    assert api.counter("messages_sent") == sent + copies
    # Markup in a payload stays text.
    page.fill("#publish-topic", "console/markup")
    page.fill("#publish-payload", '<img src=x id="injected"><b>bold</b>')
    page.click("#publish-submit")
    expect(page.locator("#publish-result")).to_contain_text("HTTP 200, code 0")

    open_view(page, "overview")
    figure = page.locator("[data-figure=messages_received] .value")
    expect(figure).to_have_text(str(received + 2), timeout=WAIT)
    expect(page.locator("[data-figure=messages_sent] .value")).to_have_text(
        str(api.counter("messages_sent"))
    )
    page.wait_for_timeout(2200)  # a second sample, so both charts draw a line
    shot(page, "overview")

    open_view(page, "retained")
    row = page.locator('tr[data-topic="sensors/room3/temp"]')
    expect(row).to_contain_text("23.5")
    markup = page.locator('tr[data-topic="console/markup"] td').nth(1)
    expect(markup).to_have_text('<img src=x id="injected"><b>bold</b>')
    assert page.locator("#injected").count() == 0
    retained = api.get("/_nanoadmin/v1/state")["data"]["retained"]
    assert page.locator("tr[data-topic]").count() == len(retained) == 5
    shot(page, "retained")


def test_subscriptions_and_the_topic_tree(page: Page, api: Api) -> None:
    from playwright.sync_api import expect

    open_view(page, "subscriptions")
    body = api.get("/api/v4/subscriptions?_page=1&_limit=20")
    expect(page.locator(".pager")).to_contain_text(f"{body['meta']['count']} subscriptions")
    first = page.locator("tbody tr").first
    expect(first).to_contain_text(body["data"][0]["topic"])
    tree = page.locator(".tree")
    expect(tree.locator("summary", has_text="sensors")).to_be_visible()
    tree.locator("summary", has_text="sensors").click()
    tree.locator("summary", has_text="room3").click()
    expect(tree.locator("li.leaf", has_text="temp").first).to_contain_text(
        "console-0010, console-0080"
    )
    shot(page, "subscriptions")


def test_bridges_rules_and_configuration(page: Page) -> None:
    from playwright.sync_api import expect

    open_view(page, "bridges")
    bridge = page.locator('tr[data-bridge="emqx"]')
    expect(bridge).to_contain_text("mqtt-tcp://broker.example:1883")
    expect(bridge).to_contain_text("t/# → fwd/t")
    expect(page.locator("table").nth(1)).to_contain_text('SELECT * FROM "in"')
    shot(page, "bridges")
    open_view(page, "configuration")
    text = page.locator("#configuration-json").inner_text()
    assert '"password": "******"' in text
    assert PASSWORD not in page.content()
    assert "bridge-secret" not in page.content()
    shot(page, "configuration")


def test_a_fault_added_in_the_console_is_honoured(page: Page, api: Api) -> None:
    from playwright.sync_api import expect

    open_view(page, "faults")
    page.select_option("#fault-method", "GET")
    page.fill("#fault-path", "/nodes")
    page.select_option("#fault-effect", "error")
    page.fill("#fault-status", "503")
    page.fill("#fault-code", "102")
    page.fill("#fault-times", "1")
    page.click("#fault-submit")
    rule = page.locator('tr[data-index="0"]')
    expect(rule).to_contain_text("error 503 code 102")
    # The next call honours it, once.
    status, body = api.call("GET", "/api/v4/nodes")
    assert (status, body["code"]) == (503, 102)
    assert api.call("GET", "/api/v4/nodes")[0] == 200
    expect(rule.locator("td").nth(6)).to_have_text("1", timeout=WAIT)  # fired, polled
    page.select_option("#fault-method", "")
    page.fill("#fault-path", "/clients*")
    page.select_option("#fault-effect", "delay")
    page.fill("#fault-delay", "100-300")
    page.fill("#fault-probability", "0.5")
    page.fill("#fault-times", "")
    page.click("#fault-submit")
    expect(page.locator('tr[data-index="1"]')).to_contain_text("delay 100–300 ms")
    shot(page, "faults")
    rules = api.get("/_nanoadmin/v1/faults")["data"]["rules"]
    assert [r["match"] for r in rules] == [
        {"method": "GET", "path": "/nodes"},
        {"path": "/clients*"},
    ]
    assert rules[1]["delay_ms"] == [100, 300]
    assert rules[1]["probability"] == 0.5
    rule.locator("button", has_text="Remove").click()
    expect(page.locator("tbody tr[data-index]")).to_have_count(1)
    page.click("#faults-clear")
    expect(page.locator("tbody tr[data-index]")).to_have_count(0)
    assert api.get("/_nanoadmin/v1/faults")["data"]["rules"] == []


def test_the_journal_is_live_and_filtered(page: Page, api: Api) -> None:
    from playwright.sync_api import expect

    open_view(page, "journal")
    api.get("/api/v4/clients/console-0100")
    expect(page.locator("tbody tr", has_text="/api/v4/clients/console-0100")).to_have_count(
        1, timeout=WAIT
    )
    page.select_option("#journal-method", "DELETE")
    page.click("#journal-filter-submit")
    rows = page.locator("tbody tr[data-id]")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("/api/v4/clients/console-0003")
    page.select_option("#journal-method", "")
    page.fill("#journal-path", "/api/v4/clients*")
    page.click("#journal-filter-submit")
    expect(rows.first).to_contain_text("/api/v4/clients/console-0100")
    # The fault the test before set off shows as such.
    page.fill("#journal-path", "/api/v4/nodes*")
    page.click("#journal-filter-submit")
    faulted = page.locator("tbody tr", has_text="(fault rule 0)")
    expect(faulted).to_have_count(1)
    expect(faulted.locator("td").nth(4)).to_have_text("503")
    shot(page, "journal")
    page.click("#journal-clear")
    expect(rows).to_have_count(0)
    assert api.get("/_nanoadmin/v1/requests?path=/api/v4/clients*")["data"] == []


def test_sign_out_forgets_the_credentials(page: Page, api: Api) -> None:
    from playwright.sync_api import expect

    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#main")).to_be_empty()
    assert page.input_value("#login-password") == ""
    sign_in(page, api.url)
    expect(page.locator("#app")).to_be_visible(timeout=WAIT)


def test_a_jwt_that_expires_returns_to_the_sign_in_form(
    browser: Browser, keypair: KeyPair, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Signed in with a pasted JWT, the page is sent back to sign in, with the reason, when the
    clock moves past the token's exp."""
    from playwright.sync_api import expect

    conf = tmp_path_factory.mktemp("jwt") / "nanomq.conf"
    conf.write_text(
        f'http_server {{\n  auth_type = jwt\n  jwt {{ public.keyfile = "{keypair.public_path}" }}\n}}\n'
    )
    with running_server("--conf", str(conf), "--control", "--mock-clients", "10") as jwt_server:
        token = keypair.token(ttl=600)
        context = browser.new_context(viewport=VIEWPORT)
        try:
            page = context.new_page()
            page.goto(jwt_server.url + "/")
            page.check("input[name=scheme][value=jwt]")
            page.fill("#login-token", token)
            page.click("#login-submit")
            expect(page.locator("[data-figure=connections] .value")).to_have_text(
                "10", timeout=WAIT
            )
            assert token not in page.content()
            jwt_api = Api(jwt_server.url, auth=f"Bearer {token}")
            assert jwt_api.call("PUT", "/_nanoadmin/v1/clock", {"offset_s": 7200})[0] == 200
            expect(page.locator("#login")).to_be_visible(timeout=WAIT)
            expect(page.locator("#login-error")).to_contain_text("code 116")
        finally:
            context.close()


def test_without_control_the_views_that_need_it_say_so(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import expect

    with running_server(*start_args(tmp_path_factory.mktemp("plain"))) as plain:
        context = browser.new_context(viewport=VIEWPORT)
        try:
            page = context.new_page()
            sign_in(page, plain.url)
            expect(page.locator("#control-badge")).to_have_text("control API off", timeout=WAIT)
            expect(page.locator("#nav a")).to_have_count(7)
            assert page.locator("#nav a[data-view=journal]").count() == 0
            open_view(page, "retained")
            expect(page.locator(".notice")).to_contain_text("needs the control API")
        finally:
            context.close()
