"""Load and faults: 200 connections of eight kinds for 20 seconds against a real server process.

The summary line gives requests sent, answers by status, latency percentiles, the /status
probe's worst latency and the server's resident memory. The figures are reported, not asserted,
except the limits the robustness issue set: no 5xx, every request answered exactly once and
logged once, /status within a second throughout, memory growth within 50 MB. The workload is in
tests/support/load.py.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from tests.support import write_conf
from tests.support.load import MIX, Load, run_load
from tests.support.processes import HTTP_SERVER, LogSummary, logged_server
from tests.support.rawhttp import (
    RawConnection,
    StatusProbe,
    call,
    percentile,
    prometheus_values,
    rss_kib,
)

LOAD_SECONDS = 20.0
WARMUP_SECONDS = 2.0


@pytest.mark.slow  # 20 s of load, 2 s of warm-up
async def test_load_and_faults_200_connections_for_20_seconds(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, HTTP_SERVER)
    conf_before = conf.read_bytes()
    log = tmp_path / "server.log"
    with logged_server(conf, log) as srv:
        pid = srv.process.pid
        rss_start = rss_kib(pid)
        rids = itertools.count(1)
        warmup = Load(srv.port, rids=rids)
        await run_load(warmup, WARMUP_SECONDS)
        await asyncio.sleep(1.0)
        rss_before = rss_kib(pid)
        conn = await RawConnection.open(srv.port)
        received_before = prometheus_values(await call(conn, "GET", "/api/v4/prometheus"))

        load = Load(srv.port, rids=rids)
        probe = StatusProbe(srv.port)
        probe.start()
        started = time.monotonic()
        try:
            await run_load(load, LOAD_SECONDS)
        finally:
            probe.stop()
        elapsed = time.monotonic() - started

        received_after = prometheus_values(await call(conn, "GET", "/api/v4/prometheus"))
        await conn.close()
        await asyncio.sleep(1.5)
        rss_after = rss_kib(pid)
        rss_peak = int(Path(f"/proc/{pid}/status").read_text().split("VmHWM:")[1].split()[0])
    logged = LogSummary.read(log)
    rid_log = logged.rid_counts()

    answered = sum(load.answered.values())
    status_max = max(probe.latencies, default=0.0)
    print(
        f"\nLOAD {elapsed:.1f}s x {sum(MIX.values())} connections: "
        f"requests sent {sum(load.sent.values())} ({dict(load.sent)}), "
        f"answered {answered} ({answered / elapsed:.0f}/s), "
        f"answers {dict(sorted(load.outcomes.items()))}, "
        f"{load.latency_figures()}; "
        f"/status probes {len(probe.latencies)} "
        f"p50 {percentile(probe.latencies, 0.5) * 1000:.1f} ms "
        f"p99 {percentile(probe.latencies, 0.99) * 1000:.1f} ms max {status_max * 1000:.1f} ms; "
        f"RSS start {rss_start / 1024:.1f} MiB, after warm-up {rss_before / 1024:.1f} MiB, "
        f"after run {rss_after / 1024:.1f} MiB (growth {(rss_after - rss_before) / 1024:+.1f} MiB, "
        f"peak {rss_peak / 1024:.1f} MiB); "
        f"non-JSON 4xx {dict(load.non_json_errors)}; "
        f"log: {logged.records} records, access statuses {dict(logged.statuses())}, "
        f"malformed-HTTP lines {logged.malformed_lines}, "
        f"disconnect tracebacks {logged.disconnect_tracebacks}"
    )

    for phase in (warmup, load):
        assert not phase.server_errors, phase.server_errors[:10]
        assert not phase.problems, phase.problems[:10]
        # Exactly once: each request the client saw answered was answered once and logged
        # once; one it abandoned was logged at most once; every other one was answered.
        assert all(count == 1 for count in phase.answered.values())
        assert not [
            (rid, phase.sent_rids[rid], rid_log[rid])
            for rid in phase.answered
            if rid_log[rid] != (0 if rid in phase.unlogged else 1)
        ], "not logged once"
        assert not [rid for rid in phase.abandoned if rid_log[rid] > 1]
        unanswered = set(phase.sent_rids) - set(phase.answered) - phase.abandoned
        assert not unanswered, sorted(unanswered)[:10]
    sent = load.sent_rids.keys() | warmup.sent_rids.keys()
    assert not [rid for rid in rid_log if rid not in sent], "logged but never sent"
    assert received_after["messages_received"] - received_before["messages_received"] == (
        load.publishes_ok
    )
    assert load.outcomes["big-body 413"] > 0
    assert load.outcomes["slow 200"] > 0
    # /status throughout, each within a second.
    assert not probe.failures, probe.failures[:5]
    assert len(probe.latencies) >= LOAD_SECONDS / (probe.interval + 1.0)
    assert status_max < 1.0, f"/status took {status_max:.3f}s"
    # No leak: within 50 MB of the warmed-up figure, and of the figure at start too.
    assert rss_after - rss_before <= 50 * 1024, (rss_before, rss_after)
    assert rss_after - rss_start <= 50 * 1024, (rss_start, rss_after)
    # D7: the HTTP layer's own refusals (broken request line, bad header bytes, 10 000 headers)
    # are JSON too.
    assert not load.non_json_errors, dict(load.non_json_errors)
    # The log: no 5xx at all (a client leaving mid-body is a 400 nobody reads), no tracebacks.
    five_xx = [(m, t, s) for m, t, s in logged.access if s >= 500]
    assert not five_xx, five_xx[:3]
    other_multiline = logged.other_multiline
    assert not other_multiline, other_multiline[:3]
    assert conf.read_bytes() == conf_before, "a cut-off config_update changed the file"
