"""Clients, subscriptions and the topic tree, with NanoMQ's filters and EMQX-style paging."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TypedDict

from aiohttp import web

from nanoadmin.caches import ClientJsonCache
from nanoadmin.errors import CLIENT_IS_OFFLINE, ApiError, BadParameter
from nanoadmin.http.pipeline import RouteMatch, parse_query_pairs
from nanoadmin.http.responses import JSON, dumps, dumps_model, json_response
from nanoadmin.model import BrokerModel, Client, Page, Subscription
from nanoadmin.runtime import Runtime

CLIENT_ID_KEYS = ("clientid", "client_id")
PAGING_KEYS = ("_page", "_limit")
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 100_000
# proto_ver as C's sscanf("%d") reads it: an optional sign, then digits ("+4" and "04" are 4).
_PROTO_VER = re.compile(r"[+-]?([0-9]+)")


def _positive(name: str, value: str | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,20}", value) or not 1 <= int(value) <= maximum:
        raise BadParameter(f"{name} has value {value!r}. Expected an integer 1..{maximum}")
    return int(value)


def paging(query: dict[str, str]) -> tuple[int, int] | None:
    """``(page, limit)`` when ``_page`` or ``_limit`` is given, else None (NanoMQ's plain body)."""
    if not any(key in query for key in PAGING_KEYS):
        return None
    page = _positive("_page", query.get("_page"), 1, 10**9)
    limit = _positive("_limit", query.get("_limit"), DEFAULT_LIMIT, MAX_LIMIT)
    return page, limit


def paged_body(page: Page[Client] | Page[Subscription]) -> dict[str, object]:
    return {
        "code": 0,
        "data": [item.as_json() for item in page.items],
        "meta": {
            "page": page.page,
            "limit": page.limit,
            "count": page.count,
            "hasnext": page.hasnext,
        },
    }


# A listing of more clients than this is encoded a chunk at a time, past the per-client cache:
# one client's JSON is some 150 bytes, but each bytes object orjson makes holds on to 4 KB, and
# 100,000 of them would keep 400 MB resident after the answer.
ENCODE_CHUNK = 1000


def _chunks(clients: Sequence[Client]) -> Iterator[bytes]:
    for start in range(0, len(clients), ENCODE_CHUNK):
        chunk = clients[start : start + ENCODE_CHUNK]
        yield dumps([client.as_json() for client in chunk])[1:-1]  # without the brackets


def clients_body(
    client_json: ClientJsonCache, clients: Sequence[Client], page: Page[Client] | None = None
) -> bytes:
    """``{"code":0,"data":[...]}`` (plus ``meta`` for a page), from each client's cached JSON
    (a large listing, a chunk at a time)."""
    if len(clients) <= ENCODE_CHUNK:
        items = b",".join(map(client_json, clients))
    else:
        items = b",".join(_chunks(clients))
    data = b'{"code":0,"data":[' + items + b"]"
    if page is None:
        return data + b"}"
    meta = {"page": page.page, "limit": page.limit, "count": page.count, "hasnext": page.hasnext}
    return data + b',"meta":' + dumps(meta) + b"}"


class ClientFilters(TypedDict, total=False):
    client_id: str
    username: str
    conn_state: str
    clean_start: bool
    proto_name: str
    proto_ver: int


def _proto_ver(value: str) -> int | None:
    match = _PROTO_VER.fullmatch(value)
    if match is None:
        return None
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > 1:
        return None
    number = int(digits)
    return -number if value.startswith("-") else number


def client_filters(pairs: list[tuple[str, str]]) -> ClientFilters:
    """NanoMQ 0.24.14+'s /clients query: every occurrence of a known key is checked (the last
    one counts), anything else is 400 code 108."""
    filters: ClientFilters = {}
    for key, value in pairs:
        if key in CLIENT_ID_KEYS:
            filters["client_id"] = value
        elif key == "username":
            filters["username"] = value
        elif key == "proto_name":
            filters["proto_name"] = value
        elif key == "conn_state":
            if value.lower() not in ("connected", "disconnected"):
                raise BadParameter(
                    f"conn_state has value {value!r}. Expected connected or disconnected"
                )
            filters["conn_state"] = value.lower()
        elif key == "clean_start":
            if value.lower() not in ("true", "false"):
                raise BadParameter(f"clean_start has value {value!r}. Expected true or false")
            filters["clean_start"] = value.lower() == "true"
        elif key == "proto_ver":
            version = _proto_ver(value)
            if version not in (3, 4, 5):
                raise BadParameter(f"proto_ver has value {value!r}. Expected 3, 4 or 5")
            filters["proto_ver"] = version
        elif key in PAGING_KEYS:
            # Each occurrence is held to the rule, as NanoMQ checks each filter it is given.
            _positive(key, value, 1, 10**9 if key == "_page" else MAX_LIMIT)
        else:
            raise BadParameter(f"unknown query parameter {key!r}")
    return filters


async def list_clients(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    broker, caches = runtime.broker, runtime.caches
    key = (match.raw_query, tuple(match.params.items()))
    body = caches.listings.get(broker, key)
    if body is None:
        body = render_clients(broker, caches.client_json, match)
        caches.listings.put(broker, key, body)
    return web.Response(body=body, content_type=JSON)


def render_clients(broker: BrokerModel, client_json: ClientJsonCache, match: RouteMatch) -> bytes:
    """The /clients body for ``match``; BadParameter for a query NanoMQ refuses. The path's
    client id or username is a filter the query may override: NanoMQ's query wins."""
    filters: ClientFilters = {}
    if "clientid" in match.params:
        filters["client_id"] = match.params["clientid"]
    if "username" in match.params:
        filters["username"] = match.params["username"]
    filters.update(client_filters(parse_query_pairs(match.raw_query)))
    pages = paging(match.query)
    if pages is not None:
        page = broker.clients_page(page=pages[0], limit=pages[1], **filters)
        return clients_body(client_json, page.items, page)
    return clients_body(client_json, broker.find_clients(**filters))


async def kick_client(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    client_id = match.params["clientid"]
    if not runtime.broker.kick(client_id):
        raise ApiError(status=404, code=CLIENT_IS_OFFLINE, message=f"no client {client_id!r}")
    return json_response({"code": 0})


async def list_subscriptions(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    broker = runtime.broker
    client_id = match.params.get("clientid")
    pages = paging(match.query)
    if pages is not None:
        page = broker.subscriptions_page(page=pages[0], limit=pages[1], client_id=client_id)
        return json_response(paged_body(page))
    subscriptions = broker.subscriptions(client_id)
    body = dumps_model({"code": 0, "data": [s.as_json() for s in subscriptions]})
    return web.Response(body=body, content_type=JSON)


async def topic_tree(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    body = dumps_model({"code": 0, "data": runtime.broker.topic_tree()})
    return web.Response(body=body, content_type=JSON)
