"""Case (a), the limit of the stack: a bare aiohttp app answering GET /api/v4/brokers.

No auth, no middleware, no custom routing: one plain route. bench/run.py starts it like nanoadmin
(its own process, the event loop nanoadmin runs on, access log off at warning level) and it
returns the body nanoadmin's /brokers returns, byte for byte in shape, built the cheapest way:
at most once a second, since its only changing values (datetime, uptime) are whole seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Callable

import orjson
from aiohttp import web

NANOMQ_VERSION = "0.25.6-8"


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def make_app() -> web.Application:
    started = time.monotonic()
    last: list[object] = [-1, -1, b""]  # wall-clock second, uptime, body

    async def brokers(request: web.Request) -> web.Response:
        now, uptime = int(time.time()), int(time.monotonic() - started)
        if now != last[0] or uptime != last[1]:
            hours, rest = divmod(uptime, 3600)
            broker = {
                "datetime": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
                "node_status": "Running",
                "sysdescr": "NanoMQ Broker",
                "uptime": f"{hours} Hours, {rest // 60} minutes, {rest % 60} seconds",
                "version": NANOMQ_VERSION,
            }
            last[:] = [now, uptime, orjson.dumps({"code": 0, "data": [broker]})]
        return web.Response(body=last[2], content_type="application/json")

    async def status(request: web.Request) -> web.Response:
        return web.Response(body=b'{"code":0}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v4/brokers", brokers, allow_head=False)
    app.router.add_get("/status", status, allow_head=False)
    return app


async def serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=logging.getLogger("bare.access"))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
        try:
            runner.run(serve(make_app(), args.host, args.port))
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
