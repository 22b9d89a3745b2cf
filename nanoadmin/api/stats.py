"""/metrics (JSON, no code) and /prometheus (NanoMQ's exact text exposition)."""

from __future__ import annotations

from aiohttp import web

from nanoadmin.http.pipeline import RouteMatch
from nanoadmin.http.responses import json_response
from nanoadmin.runtime import Runtime

# (name, type, help suffix): NanoMQ's order and its odd empty HELP texts.
PROMETHEUS_SERIES = (
    ("connections_count", "gauge", ""),
    ("connections_max", "gauge", ""),
    ("sessions_count", "gauge", ""),
    ("sessions_max", "gauge", ""),
    ("topics_count", "gauge", ""),
    ("topics_max", "gauge", ""),
    ("subscribers_count", "gauge", ""),
    ("subscribers_max", "gauge", ""),
    ("messages_received", "counter", ""),
    ("messages_sent", "counter", ""),
    ("messages_dropped", "counter", ""),
    ("memory_usage", "gauge", " (b)"),
    ("memory_usage_max", "gauge", " (b)"),
    ("cpu_usage", "gauge", " (%)"),
    ("cpu_usage_max", "gauge", " (%)"),
)


async def metrics(runtime: Runtime, request: web.Request, match: RouteMatch) -> web.StreamResponse:
    # NanoMQ's "connections" here is the size of its pipe map (nanomq/nanomq rest_api.c
    # get_metrics reads conf->lc, which NanoNNG nmq_mqtt.c nano_pipe_start and close_pipe set
    # to nni_id_count(&s->pipes)): offline persistent sessions count, as in /nodes.
    cpu, memory = runtime.process.sample()
    return json_response(
        {
            "metrics": runtime.config.bridges.metrics(),
            "cpuinfo": f"{cpu:.2f}%",
            "memory": str(memory),
            "connections": runtime.broker.stats().sessions,
        }
    )


async def prometheus(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    stats = runtime.broker.stats()
    cpu, memory = runtime.process.sample()
    runtime.process.record_max(cpu, memory)
    values: dict[str, str] = {
        "connections_count": str(stats.connections),
        "connections_max": str(stats.connections_max),
        "sessions_count": str(stats.sessions),
        "sessions_max": str(stats.sessions_max),
        "topics_count": str(stats.topics),
        "topics_max": str(stats.topics_max),
        "subscribers_count": str(stats.subscribers),
        "subscribers_max": str(stats.subscribers_max),
        "messages_received": str(stats.messages_received),
        "messages_sent": str(stats.messages_sent),
        "messages_dropped": str(stats.messages_dropped),
        "memory_usage": str(memory),
        "memory_usage_max": str(runtime.process.memory_max),
        "cpu_usage": f"{cpu:.2f}",
        "cpu_usage_max": f"{runtime.process.cpu_max:.2f}",
    }
    lines = []
    for name, kind, help_suffix in PROMETHEUS_SERIES:
        lines.append(f"# TYPE nanomq_{name} {kind}\n# HELP nanomq_{name}{help_suffix}\n")
        lines.append(f"nanomq_{name} {values[name]}\n")
    return web.Response(body="".join(lines).encode(), content_type="text/plain")
