"""State integrity: concurrent writes on 500 mock clients leave every view consistent.

Forty connections publish, subscribe and unsubscribe, kick and reconfigure for a few seconds
against a real server process; then every listing, count, page and the topic tree must agree
with each other and with what the answered operations did. The summary line (pytest -s) gives
the operations and the state after.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import write_conf
from tests.support.processes import HTTP_SERVER, LogSummary, logged_server
from tests.support.rawhttp import HttpResponse, RawConnection, call, prometheus_values

HAMMER_SECONDS = 4.0


def real_filter(topic: str) -> str:
    if topic.startswith("$share/"):
        parts = topic.split("/", 2)
        if len(parts) == 3:
            return parts[2]
    return topic


def basic_variant(k: int) -> dict[str, object]:
    return {
        "property_size": 100 + k,
        "msq_len": 1000 + k,
        "qos_duration": 10 + k,
        "allow_anonymous": k % 2 == 0,
    }


@dataclass
class Hammer:
    port: int
    clients: list[str]
    victims: list[str]
    deadline: float = 0.0
    publishes_ok: int = 0
    kicks_ok: Counter[str] = field(default_factory=Counter)
    kicks_refused: int = 0
    # (client, topic) -> the last answered operation on it: ("sub", qos, code) / ("unsub", 0, code)
    ledger: dict[tuple[str, str], tuple[str, int, int]] = field(default_factory=dict)
    ops: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    config_posts: int = 0

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def expect(self, what: str, response: HttpResponse, status: int, codes: tuple[int, ...]) -> int:
        self.ops[f"{what} {response.status}:{response.code()}"] += 1
        code = response.code()
        if response.status != status or code not in codes:
            self.problems.append(f"{what}: {response.status} {response.body[:200]!r}")
        return code if isinstance(code, int) else -1


async def hammer_worker(h: Hammer, role: str, w: int) -> None:
    conn = await RawConnection.open(h.port)
    rng = random.Random(w)
    topics = [f"hammer/{w}/{j}" for j in range(4)] + [f"$share/g/hammer/{w}/{j}" for j in range(2)]
    topics += [f"hammer/+/{w}/#", f"$share/h/hammer/+/{w}/#"]
    try:
        while h.running():
            if role == "publish":
                topic = rng.choice(
                    [
                        f"hammer/{rng.randrange(12)}/{rng.randrange(4)}",
                        "alerts/x",
                        "site/1/a/b/temp",
                        f"cmd/{rng.choice(h.clients)}",
                        f"hammer/{w}/q/{rng.randrange(9)}",
                    ]
                )
                body = {
                    "topic": topic,
                    "payload": "p",
                    "qos": rng.randrange(3),
                    "retain": rng.random() < 0.1,
                }
                response = await call(conn, "POST", "/api/v4/mqtt/publish", body)
                if h.expect("publish", response, 200, (0,)) == 0:
                    h.publishes_ok += 1
            elif role == "subscribe":
                client, topic = rng.choice(h.clients), rng.choice(topics)
                if rng.random() < 0.7:
                    qos = rng.randrange(3)
                    body = {"topic": topic, "clientid": client, "qos": qos}
                    response = await call(conn, "POST", "/api/v4/mqtt/subscribe", body)
                    h.ledger[(client, topic)] = (
                        "sub",
                        qos,
                        h.expect("subscribe", response, 200, (0, 112)),
                    )
                else:
                    body = {"topic": topic, "clientid": client}
                    response = await call(conn, "POST", "/api/v4/mqtt/unsubscribe", body)
                    h.ledger[(client, topic)] = (
                        "unsub",
                        0,
                        h.expect("unsubscribe", response, 200, (0, 112)),
                    )
            elif role == "kick":
                victim = rng.choice(h.victims)
                response = await call(conn, "DELETE", f"/api/v4/clients/{victim}")
                if response.status == 200:
                    h.expect("kick", response, 200, (0,))
                    h.kicks_ok[victim] += 1
                else:
                    h.expect("kick", response, 404, (112,))
                    h.kicks_refused += 1
                await asyncio.sleep(0.01)
            elif role == "configure":
                k = rng.randrange(1000)
                target = "/api/v4/configuration" if k % 2 else "/api/v4/configuration/basic"
                response = await call(conn, "POST", target, {"data": {"basic": basic_variant(k)}})
                h.expect("configure", response, 200, (0,))
                h.config_posts += 1
            else:
                target = rng.choice(
                    [
                        "/api/v4/clients?_limit=50&_page=3",
                        "/api/v4/subscriptions?_limit=100&_page=2",
                        "/api/v4/topic-tree",
                        "/api/v4/prometheus",
                        "/api/v4/nodes",
                        "/api/v4/metrics",
                        "/api/v4/configuration/basic",
                    ]
                )
                response = await call(conn, "GET", target)
                h.ops[f"read {response.status}"] += 1
                if response.status != 200:
                    h.problems.append(f"GET {target}: {response.status}")
    finally:
        await conn.close()


def tree_paths(levels: list[list[dict[str, object]]]) -> dict[str, list[str]]:
    """/topic-tree's breadth-first levels back into ``filter -> [clientid, ...]``."""
    found: dict[str, list[str]] = {}
    parents: list[str | None] = [None]  # the root
    counts = [int(str(levels[0][0]["cld_cnt"]))]
    for row in levels[1:]:
        position = 0
        below: list[str | None] = []
        below_counts: list[int] = []
        for parent, count in zip(parents, counts, strict=True):
            for node in row[position : position + count]:
                path = str(node["topic"]) if parent is None else f"{parent}/{node['topic']}"
                if "clientid" in node:
                    found[path] = sorted(map(str, node["clientid"]))  # type: ignore[call-overload]
                below.append(path)
                below_counts.append(int(str(node["cld_cnt"])))
            position += count
        assert position == len(row), "cld_cnt does not add up to the next level"
        parents, counts = below, below_counts
    return found


async def get_json(conn: RawConnection, target: str) -> dict[str, object]:
    response = await call(conn, "GET", target)
    assert response.status == 200, (target, response.status, response.body[:200])
    body = response.json()
    assert isinstance(body, dict)
    return body


async def paged(conn: RawConnection, path: str, limit: int) -> tuple[list[object], int]:
    items: list[object] = []
    for page in itertools.count(1):
        body = await get_json(conn, f"{path}?_page={page}&_limit={limit}")
        data, meta = body["data"], body["meta"]
        assert isinstance(data, list)
        assert isinstance(meta, dict)
        items.extend(data)
        if not meta["hasnext"]:
            return items, int(meta["count"])
    raise AssertionError("unreachable")


@pytest.mark.slow  # 4 s of concurrent writes
async def test_concurrent_writes_leave_every_view_consistent(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with logged_server(write_conf(tmp_path, HTTP_SERVER), log, "--mock-clients", "500") as srv:
        conn = await RawConnection.open(srv.port)
        clients_before = await get_json(conn, "/api/v4/clients")
        subs_before = await get_json(conn, "/api/v4/subscriptions")
        received_before = prometheus_values(await call(conn, "GET", "/api/v4/prometheus"))
        assert isinstance(clients_before["data"], list)
        assert isinstance(subs_before["data"], list)
        ids = [str(c["client_id"]) for c in clients_before["data"]]
        assert len(ids) == 500
        victims = random.Random(7).sample(ids, 150)
        h = Hammer(srv.port, ids, victims)
        h.deadline = time.monotonic() + HAMMER_SECONDS
        roles = (
            ["publish"] * 10 + ["subscribe"] * 12 + ["kick"] * 6 + ["configure"] * 6 + ["read"] * 6
        )
        results = await asyncio.wait_for(
            asyncio.gather(
                *(hammer_worker(h, role, w) for w, role in enumerate(roles)), return_exceptions=True
            ),
            HAMMER_SECONDS + 20,
        )
        h.problems.extend(f"worker failed: {r!r}" for r in results if isinstance(r, BaseException))

        clients = (await get_json(conn, "/api/v4/clients"))["data"]
        subs = (await get_json(conn, "/api/v4/subscriptions"))["data"]
        nodes = (await get_json(conn, "/api/v4/nodes"))["data"]
        metrics = await get_json(conn, "/api/v4/metrics")
        prom = prometheus_values(await call(conn, "GET", "/api/v4/prometheus"))
        tree = (await get_json(conn, "/api/v4/topic-tree"))["data"]
        section = (await get_json(conn, "/api/v4/configuration/basic"))["data"]
        assert isinstance(section, dict)
        basic_now = section["basic"]
        clients_paged, clients_count = await paged(conn, "/api/v4/clients", 37)
        subs_paged, subs_count = await paged(conn, "/api/v4/subscriptions", 53)
        await conn.close()
    logged = LogSummary.read(log)

    assert isinstance(clients, list)
    assert isinstance(subs, list)
    assert isinstance(nodes, list)
    assert isinstance(tree, list)
    assert isinstance(basic_now, dict)
    kicked = set(h.kicks_ok)
    print(
        f"\nSTATE {HAMMER_SECONDS:.0f}s x {len(roles)} connections on 500 mock clients: "
        f"operations {sum(h.ops.values())} ({dict(sorted(h.ops.items()))}), "
        f"publishes ok {h.publishes_ok}, kicks ok {len(kicked)} refused {h.kicks_refused}, "
        f"config POSTs {h.config_posts}; after: clients {len(clients)}, subscriptions {len(subs)}, "
        f"prometheus {prom}"
    )
    assert not h.problems, h.problems[:10]
    assert all(n == 1 for n in h.kicks_ok.values()), "a client was kicked twice"

    # /clients: exactly the clients not kicked, in their original order.
    client_ids = [str(c["client_id"]) for c in clients]
    assert client_ids == [i for i in ids if i not in kicked]
    connected = sum(1 for c in clients if c["conn_state"] == "connected")
    assert clients_paged == clients
    assert clients_count == len(clients)
    # /subscriptions: only live clients, no duplicates; the seeded ones untouched; the
    # hammered ones exactly what the last answered operation on each (client, filter) left.
    pairs = [(str(s["clientid"]), str(s["topic"])) for s in subs]
    assert len(pairs) == len(set(pairs))
    assert {c for c, _ in pairs} <= set(client_ids)
    seeded = [
        s
        for s in subs_before["data"]
        if str(s["clientid"]) not in kicked and "hammer/" not in str(s["topic"])
    ]
    assert [s for s in subs if "hammer/" not in str(s["topic"])] == seeded
    expected = {
        (client, topic, qos)
        for (client, topic), (op, qos, code) in h.ledger.items()
        if op == "sub" and code == 0 and client not in kicked
    }
    actual = {
        (str(s["clientid"]), str(s["topic"]), int(s["qos"]))
        for s in subs
        if "hammer/" in str(s["topic"])
    }
    assert actual == expected
    assert subs_paged == subs
    assert subs_count == len(subs)
    # Every count agrees with the listings.
    subscribers = len({c for c, _ in pairs})
    filters = {real_filter(t) for _, t in pairs}
    assert nodes[0]["connections"] == len(clients)
    # /metrics counts sessions, as /nodes (NanoMQ's conf->lc: the size of its pipe map).
    assert metrics["connections"] == len(clients)
    assert prom["sessions_count"] == len(clients)
    assert prom["connections_count"] == connected
    assert prom["subscribers_count"] == subscribers
    assert prom["topics_count"] == len(filters)
    assert prom["sessions_max"] == 500
    assert prom["connections_max"] >= connected
    assert prom["subscribers_max"] >= subscribers
    assert prom["topics_max"] >= len(filters)
    assert prom["messages_received"] - received_before["messages_received"] == h.publishes_ok
    # The topic tree holds exactly the live filters, each with its subscribers.
    by_filter: dict[str, list[str]] = {}
    for client, topic in pairs:
        by_filter.setdefault(real_filter(topic), []).append(client)
    assert tree_paths(tree) == {f: sorted(c) for f, c in by_filter.items()}
    # The basic section is one POSTed variant whole, never a mix of two.
    assert any(
        all(basic_now[key] == value for key, value in basic_variant(k).items()) for k in range(1000)
    )
    assert "Traceback" not in log.read_text()
    assert not [s for s in logged.statuses() if s >= 500]
