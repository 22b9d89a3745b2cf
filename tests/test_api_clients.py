"""Clients and subscriptions: kicks and every view of them, paging, the listing cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nanoadmin.model.scenario import parse_scenario
from tests.support import Client, ClientFactory, basic_settings
from tests.support.api import AUTH, get, post, prometheus


async def test_subscribe_kick_and_what_every_view_shows(basic_client: Client) -> None:
    reply = await post(
        basic_client, "/api/v4/mqtt/subscribe", {"topic": "x/#", "clientid": "ref-sub-1", "qos": 1}
    )
    assert reply == {"code": 0}
    subs = (await get(basic_client, "/api/v4/subscriptions/ref-sub-1"))["data"]
    assert {"clientid": "ref-sub-1", "topic": "x/#", "qos": 1} in subs
    tree = (await get(basic_client, "/api/v4/topic-tree"))["data"]
    assert any(node["topic"] == "x" for node in tree[1])
    assert (await prometheus(basic_client))["topics_count"] == 5

    assert (await basic_client.delete("/api/v4/clients/ref-sub-1", headers=AUTH)).status == 200
    assert (await get(basic_client, "/api/v4/clients/ref-sub-1"))["data"] == []
    assert (await get(basic_client, "/api/v4/subscriptions/ref-sub-1"))["data"] == []
    assert (await get(basic_client, "/api/v4/nodes"))["data"][0]["connections"] == 1
    assert (await get(basic_client, "/api/v4/metrics"))["connections"] == 1
    values = await prometheus(basic_client)
    assert values["connections_count"] == 1
    assert values["connections_max"] == 2
    assert values["subscribers_count"] == 1
    tree = (await get(basic_client, "/api/v4/topic-tree"))["data"]
    assert [node["topic"] for node in tree[1]] == ["cmd", "sensors"]
    response = await basic_client.delete("/api/v4/clients/ref-sub-1", headers=AUTH)
    assert response.status == 404
    assert (await response.json())["code"] == 112


async def test_clients_paging_extension(make_client: ClientFactory, tmp_path: Path) -> None:
    scenario = parse_scenario(
        {
            "clients": [
                {"client_id": f"c{i:02d}", "subscriptions": [{"topic": f"t/{i}"}]}
                for i in range(25)
            ]
        },
        "inline",
    )
    client = await make_client(basic_settings(tmp_path), scenario)
    page = await get(client, "/api/v4/clients?_page=3&_limit=10")
    assert [c["client_id"] for c in page["data"]] == [f"c{i}" for i in range(20, 25)]
    assert list(page) == ["code", "data", "meta"]
    assert page["meta"] == {"page": 3, "limit": 10, "count": 25, "hasnext": False}
    page = await get(client, "/api/v4/subscriptions?_limit=5")
    assert page["meta"] == {"page": 1, "limit": 5, "count": 25, "hasnext": True}
    plain = await get(client, "/api/v4/clients")
    assert list(plain) == ["code", "data"]
    assert len(plain["data"]) == 25
    for bad in ("_page=0", "_limit=abc", "_limit=1000000"):
        response = await client.get(f"/api/v4/clients?{bad}", headers=AUTH)
        assert response.status == 400
        assert (await response.json())["code"] == 108


async def test_client_listings_follow_every_change_of_clients(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    # Listings are served from a cache while the clients stay the same; it must never go stale,
    # and two servers in one process must never see each other's clients.
    def fleet(prefix: str) -> Any:
        clients = [{"client_id": f"{prefix}{i}", "username": "u"} for i in range(5)]
        return parse_scenario({"clients": clients}, "inline")

    first = await make_client(basic_settings(tmp_path), fleet("a"))
    second = await make_client(basic_settings(tmp_path), fleet("b"))
    paths = ("/api/v4/clients?_page=1&_limit=2", "/api/v4/clients", "/api/v4/clients/username/u")
    for path in paths:
        assert (await get(first, path)) == (await get(first, path))
        assert (await get(first, path))["data"][0]["client_id"] == "a0"
        assert (await get(second, path))["data"][0]["client_id"] == "b0"
    for path in paths:
        await get(first, path)
    assert (await first.delete("/api/v4/clients/a0", headers=AUTH)).status == 200
    page = await get(first, paths[0])
    assert [c["client_id"] for c in page["data"]] == ["a1", "a2"]
    assert page["meta"]["count"] == 4
    assert len((await get(first, paths[1]))["data"]) == 4
    assert len((await get(first, paths[2]))["data"]) == 4
    assert (await get(first, "/api/v4/clients/a0"))["data"] == []
    response = await first.get("/api/v4/clients?_page=0", headers=AUTH)
    assert response.status == 400
    assert (await response.json())["code"] == 108
