"""Values as NanoMQ computes and prints them, and the config and bridge endpoints' order of
checks, against real servers.

Sources: nanomq/nanomq rest_api.c (get_metrics, get_prometheus, update_process_info,
get_cpu_time, post_config, post_reload_config, update_config, post_mqtt_bridge_sub,
post_mqtt_bridge_unsub, put_mqtt_bridge_switch, error_response), conf_api.c
(set_auth_http_config, set_auth_http_req, set_reload_config), nanomq/NanoNNG cJSON.c
(print_number) and nmq_mqtt.c (nano_pipe_start, close_pipe, nano_pipe_close).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from nanoadmin.appkeys import RUNTIME_KEY
from nanoadmin.http.responses import cjson_number, dumps
from nanoadmin.model.process import ProcessUsage
from nanoadmin.model.scenario import parse_scenario
from nanoadmin.settings import load_settings
from tests.support import BASIC_ADMIN, Client, ClientFactory, basic_settings, raw_request
from tests.support.api import AUTH, get, post, prometheus
from tests.support.rawhttp import RawConnection, request_bytes

# -- CPU and memory -------------------------------------------------------------------------------


class FakeProc:
    """/proc/stat and /proc/self/stat as a script of (machine ticks, process ticks, rss)."""

    def __init__(self, samples: list[tuple[int, int, int]]) -> None:
        self.samples = samples
        self.reads: list[str] = []

    def __call__(self, path: str) -> bytes | None:
        self.reads.append(path)
        machine, process, rss = self.samples[0]
        if path == "/proc/stat":
            # The eight counters sum to ``machine``; guest and guest_nice are not counted.
            return f"cpu  {machine - 7} 1 1 1 1 1 1 1 999 999\ncpu0 1 2 3\n".encode()
        self.samples.pop(0)
        fields = ["S", "1"] + ["0"] * 9 + [str(process - 3), "1", "1", "1"] + ["0"] * 6
        return f"4242 (nano admin) {' '.join(fields + [str(rss)] + ['0'] * 20)}\n".encode()


def test_cpu_is_process_ticks_over_machine_ticks_since_the_last_sample() -> None:
    """update_process_info: 100 * (proc - last_proc) / (total - last_total), 0 when the
    machine's ticks did not move (the divisor is -1, and <= 0 shows as 0); the first sample
    compares with boot (last_* start at 0); memory is rss pages times the page size."""
    proc = FakeProc([(10_000, 50, 100), (10_800, 150, 120), (10_800, 160, 120), (11_000, 150, 1)])
    usage = ProcessUsage(read=proc)
    page = usage._page_size
    assert usage.sample() == (0.5, 100 * page)
    assert usage.sample() == (12.5, 120 * page)
    assert usage.sample() == (0.0, 120 * page)  # the same machine tick: 0
    assert usage.sample() == (0.0, page)  # fewer process ticks: negative, shown as 0
    assert (usage.cpu_max, usage.memory_max) == (0.0, 0)  # only /prometheus records them


def test_cpu_wraps_as_nanomq_s_uint32_sum_and_shows_minus_one_without_proc_stat() -> None:
    """get_cpu_time sums uint32 counters (wrapping); a /proc/stat it cannot read is -1."""
    proc = FakeProc([(2**32 + 1000, 10, 1)])
    usage = ProcessUsage(read=proc)
    assert usage.sample()[0] == pytest.approx(100.0 * 10 / 1000)
    unreadable = ProcessUsage(read=lambda path: None)
    assert unreadable.sample() == (-1.0, 0)


async def test_metrics_and_prometheus_share_one_sampler(basic_client: Client) -> None:
    """The previous sample is static in update_process_info, shared by /metrics and
    /prometheus: each endpoint's interval starts at the other's last call."""
    proc = FakeProc([(1000, 10, 5), (1100, 35, 5), (1200, 45, 5)])
    basic_client.app[RUNTIME_KEY].process = ProcessUsage(read=proc)
    first = await get(basic_client, "/api/v4/metrics")
    assert first["cpuinfo"] == "1.00%"
    values = await prometheus(basic_client)
    assert values["cpu_usage"] == values["cpu_usage_max"] == 25.0
    second = await get(basic_client, "/api/v4/metrics")
    assert second["cpuinfo"] == "10.00%"
    assert second["memory"] == str(5 * ProcessUsage()._page_size)


async def test_an_idle_server_shows_little_cpu(basic_client: Client) -> None:
    """Against the machine's ticks an idle server shows a few percent at most (nanoadmin
    divided by wall time before, and showed 5-45 %)."""
    await get(basic_client, "/api/v4/metrics")
    for _ in range(3):
        cpu = (await get(basic_client, "/api/v4/metrics"))["cpuinfo"]
        assert cpu.endswith("%")
        assert 0.0 <= float(cpu[:-1]) <= 100.0


# -- connections ----------------------------------------------------------------------------------

OFFLINE_SESSION = parse_scenario(
    {
        "clients": [
            {"client_id": "online", "username": "u"},
            {"client_id": "kept", "clean_start": False, "conn_state": "disconnected"},
        ]
    },
    "<test>",
)


async def test_metrics_connections_counts_offline_persistent_sessions(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """get_metrics reports conf->lc, which nano_pipe_start and close_pipe set to the size of
    the pipe map; a persistent session's pipe stays in it when its client goes
    (nano_pipe_close caches it): 2 here, as /nodes, while prometheus counts 1 connection."""
    client = await make_client(basic_settings(tmp_path), OFFLINE_SESSION)
    assert (await get(client, "/api/v4/metrics"))["connections"] == 2
    assert (await get(client, "/api/v4/nodes"))["data"][0]["connections"] == 2
    values = await prometheus(client)
    assert (values["connections_count"], values["sessions_count"]) == (1, 2)


# -- numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (2.0, "2"),
        (-0.0, "-0"),
        (1.25, "1.25"),
        (1.100000023841858, "1.1000000238418579"),  # a C float 1.1, widened
        (1e15, "1e+15"),
        (123456789012345678, "1.2345678901234568e+17"),
        (10**15 - 1, "999999999999999"),
        (2**70, "1.1805916207174113e+21"),
        (math.nan, "null"),
        (math.inf, "null"),
        (-math.inf, "null"),
    ],
)
def test_numbers_print_as_cjson_prints_them(value: float, printed: str) -> None:
    """cJSON.c print_number has no integer branch: %1.15g, or %1.17g when that does not read
    back within DBL_EPSILON; NaN and infinities are null."""
    assert cjson_number(value) == printed
    assert dumps({"n": value}) == b'{"n":' + printed.encode() + b"}"


async def test_an_integral_float_from_the_config_prints_as_an_integer(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    conf = tmp_path / "nanomq.conf"
    conf.write_text("http_server { port = 8081 }\nmqtt { keepalive_multiplier = 2 }\n")
    client = await make_client(load_settings(str(conf), environ={}))
    response = await client.get("/api/v4/configuration/basic", headers=AUTH)
    assert b'"keepalive_backoff":2,' in await response.read()
    await post(client, "/api/v4/reload", {"data": {"keepalive_backoff": 3.0}})
    response = await client.get("/api/v4/reload", headers=AUTH)
    assert b'"keepalive_backoff":3,' in await response.read()


async def test_numbers_posted_in_a_bridge_print_as_cjson_prints_them(full_client: Client) -> None:
    body = {"emqx": {"proto_ver": 5, "conn_properties": {"a": 2.0, "b": 1e15, "c": 0.5}}}
    response = await full_client.put("/api/v4/bridges/emqx", data=json.dumps(body), headers=AUTH)
    assert response.status == 200
    shown = await (await full_client.get("/api/v4/bridges/emqx", headers=AUTH)).read()
    assert b'"conn_properties":{"a":2,"b":1e+15,"c":0.5}' in shown


# -- /clients with a path and a query ---------------------------------------------------------------


async def test_clients_query_wins_over_the_path(basic_client: Client) -> None:
    """As the live NanoMQ 0.25.6 answered (its filter code, nanomq/nanomq#2294, was not in the
    sources read): the query's client id or username replaces the path's."""
    by_path = await get(basic_client, "/api/v4/clients/ref-sub-1?clientid=ref-pubsub-2")
    assert [c["client_id"] for c in by_path["data"]] == ["ref-pubsub-2"]
    by_name = await get(basic_client, "/api/v4/clients/username/alice?username=bob")
    assert [c["username"] for c in by_name["data"]] == ["bob"]
    both = await get(basic_client, "/api/v4/clients/ref-sub-1?username=bob")
    assert both["data"] == []  # the path's id and the query's username, together


async def test_clients_repeated_keys_are_checked_at_each_occurrence(basic_client: Client) -> None:
    for query in ("conn_state=bogus&conn_state=connected", "proto_ver=9&proto_ver=4"):
        response = await basic_client.get(f"/api/v4/clients?{query}", headers=AUTH)
        assert response.status == 400, query
        assert (await response.json())["code"] == 108
    last = await get(basic_client, "/api/v4/clients?proto_ver=4&proto_ver=5")
    assert [c["proto_ver"] for c in last["data"]] == [5]


@pytest.mark.parametrize(("value", "found"), [("+4", 4), ("04", 4), ("0005", 5), ("4", 4)])
async def test_proto_ver_is_read_as_percent_d(basic_client: Client, value: str, found: int) -> None:
    body = await get(basic_client, f"/api/v4/clients?proto_ver={value}")
    assert {c["proto_ver"] for c in body["data"]} == {found}


@pytest.mark.parametrize("value", ["4x", "4.0", "-4", "%204", "0x4", "9" * 30, "+-4"])
async def test_proto_ver_refuses_anything_else(basic_client: Client, value: str) -> None:
    response = await basic_client.get(f"/api/v4/clients?proto_ver={value}", headers=AUTH)
    assert response.status == 400
    assert "proto_ver" in (await response.json())["message"]


# -- configuration ------------------------------------------------------------------------------


async def test_auth_http_is_applied_by_its_section_and_shown(basic_client: Client) -> None:
    """post_config applies data.auth_http for POST /configuration/auth_http
    (cJSON_IsObject), never for the whole-config POST (cJSON_IsArray); set_auth_http_req
    overwrites headers by position and replaces params, storing "subject" as "protocol"."""
    await post(
        basic_client,
        "/api/v4/configuration",
        {"data": {"auth_http": {"enable": True, "timeout": 9}}},
    )
    shown = (await get(basic_client, "/api/v4/configuration/auth_http"))["data"]["auth_http"]
    assert (shown["enable"], shown["timeout"]) == (False, 5)
    section = {
        "enable": True,
        "timeout": 9,
        "connect_timeout": 7.9,
        "pool_size": "8",  # not a number: ignored
        "auth_req": {
            "url": "http://auth.example/login",
            "method": "post",
            "headers": {"X-A": "1", "n": 2, "X-B": "2"},
            "params": ["ClientID", "subject", "nonsense", 5, "username"],
        },
    }
    await post(basic_client, "/api/v4/configuration/auth_http", {"data": {"auth_http": section}})
    shown = (await get(basic_client, "/api/v4/configuration/auth_http"))["data"]["auth_http"]
    assert (shown["enable"], shown["timeout"], shown["connect_timeout"]) == (True, 9, 7)
    assert shown["pool_size"] == 32
    request = shown["auth_req"]
    assert (request["url"], request["method"]) == ("http://auth.example/login", "post")
    assert request["headers"] == {"X-A": "1", "X-B": "2"}
    assert request["params"] == ["clientid", "protocol", "username"]


async def test_post_reload_keeps_what_the_api_changed(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """post_reload_config writes data into the live config and never re-reads the file, so
    what POST /configuration changed before stays. nanoadmin re-reads the file (keys, what the
    API never changed) and keeps every change the API made."""
    conf = tmp_path / "nanomq.conf"
    conf.write_text(
        "http_server {\n  username = admin\n  password = public\n}\n"
        "mqtt { property_size = 32, max_mqueue_len = 100, retry_interval = 10s }\n"
    )
    client = await make_client(load_settings(str(conf), environ={}))
    await post(client, "/api/v4/configuration/basic", {"data": {"basic": {"property_size": 64}}})
    conf.write_text(conf.read_text().replace("retry_interval = 10s", "retry_interval = 20s"))
    await post(client, "/api/v4/reload", {"data": {"msq_len": 5}})
    basic = (await get(client, "/api/v4/configuration/basic"))["data"]["basic"]
    assert (basic["property_size"], basic["msq_len"], basic["qos_duration"]) == (64, 5, 20)
    reload = (await get(client, "/api/v4/reload"))["data"]
    assert (reload["property_size"], reload["msq_len"]) == (64, 5)
    # A second reload keeps both, and the http_server password the API set.
    password = {"data": {"http_server": {"password": "changed"}}}
    await post(client, "/api/v4/configuration/http_server", password)
    changed = {"Authorization": "Basic YWRtaW46Y2hhbmdlZA=="}  # admin:changed
    response = await client.post("/api/v4/reload", data="{}", headers=changed)
    assert response.status == 200
    response = await client.get("/api/v4/configuration/basic", headers=changed)
    assert (await response.json())["data"]["basic"]["msq_len"] == 5
    # SIGHUP reads the file afresh, as nanomq reload does.
    await client.app[RUNTIME_KEY].reload()
    basic = (await get(client, "/api/v4/configuration/basic"))["data"]["basic"]
    assert (basic["property_size"], basic["msq_len"]) == (32, 100)


async def test_config_update_with_an_empty_object_is_117_and_keeps_the_file(
    basic_client: Client,
) -> None:
    """update_config: hocon_parse_str of "{}" is no object, so 400 code 117 and no write."""
    conf = basic_client.app[RUNTIME_KEY].settings.path
    assert conf is not None
    before = conf.read_text()
    for body in ("{}", "{ }", "# nothing\n"):
        response = await basic_client.post("/api/v4/config_update", data=body, headers=AUTH)
        assert response.status == 400, body
        assert (await response.json())["code"] == 117
    assert conf.read_text() == before


# -- bridges ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "body", "status", "code"),
    [
        ("/api/v4/bridges/sub/nope", {"data": {}}, 400, 109),
        ("/api/v4/bridges/sub/nope", {"data": {"subscription": {}}}, 400, 109),
        ("/api/v4/bridges/sub/nope", {"data": {"subscription": []}}, 404, 108),
        ("/api/v4/bridges/unsub/nope", {"data": {"unsubscription": 1}}, 400, 109),
        ("/api/v4/bridges/unsub/nope", {"data": {"unsubscription": []}}, 404, 108),
        ("/api/v4/bridges/unsub/emqx", {"data": {}}, 400, 109),
    ],
)
async def test_bridge_sub_and_unsub_check_the_body_before_the_bridge(
    full_client: Client, target: str, body: object, status: int, code: int
) -> None:
    """post_mqtt_bridge_sub and _unsub: body object, data object, the array (each 109), then
    the bridge lookup (404 108)."""
    response = await full_client.post(target, data=json.dumps(body), headers=AUTH)
    assert response.status == status
    assert (await response.json())["code"] == code


async def test_switching_an_unknown_bridge_is_a_204_with_a_body(full_client: Client) -> None:
    """put_mqtt_bridge_switch calls error_response(msg, 204, 108), and nng writes the body it
    is given (http_server.c http_sconn_cbdone), with Content-Length and Content-Type: the
    bytes a client gets, exactly. On a kept-alive connection they come before the next answer,
    as with NanoMQ."""
    assert full_client.port is not None
    conn = await RawConnection.open(full_client.port)
    body = b'{"data":{"bridge_switch":true}}'
    await conn.send(
        request_bytes("POST", "/api/v4/bridges/switch/nope", auth=BASIC_ADMIN, body=body)
    )
    head = await conn.reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204 No Content\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line)
    assert headers["Content-Type"] == "application/json"
    sent = await conn.reader.readexactly(int(headers["Content-Length"]))
    assert json.loads(sent)["code"] == 108
    assert "Server" not in headers
    await conn.close()
    status, _, _ = await raw_request(
        full_client.port,
        request_bytes(
            "POST", "/api/v4/bridges/switch/nope", auth=BASIC_ADMIN, body=b'{"data":{}}', close=True
        ),
    )
    assert status == 400  # bridge_switch is checked first (0.25.6, recorded exchange 83)
