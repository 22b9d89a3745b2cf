"""A fault rule's effect on an answer: a delay, an error, a dropped, truncated or held one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from nanoadmin.control.faults import FaultRule
from nanoadmin.errors import ApiError
from nanoadmin.http.limits import FAULT_HANG_MAX

# What the access log shows for a connection closed on purpose without an answer (nginx's).
NO_ANSWER = 444
HANG_POLL = 0.2


def _closed(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.close()
    # Nothing of it is sent: writing to a closed transport fails, which aiohttp expects.
    return web.Response(status=NO_ANSWER, reason="Closed by a fault rule")


async def _held(request: web.Request, stop: asyncio.Event) -> web.StreamResponse:
    """No answer until the client goes, the server stops, or FAULT_HANG_MAX passes."""
    deadline = time.monotonic() + FAULT_HANG_MAX
    while not stop.is_set() and time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(HANG_POLL)
    return _closed(request)


async def _truncated(request: web.Request, answer: web.StreamResponse) -> web.StreamResponse:
    """``answer``'s status and headers with its full Content-Length, half its body, a close."""
    body = answer.body if isinstance(answer, web.Response) else None
    if not isinstance(body, bytes) or answer.prepared:
        return _closed(request)
    cut = web.StreamResponse(status=answer.status, reason=answer.reason)
    for name, value in answer.headers.items():
        if name.lower() != "content-length":
            cut.headers.add(name, value)
    cut.content_length = len(body)
    await cut.prepare(request)
    await cut.write(body[: len(body) // 2])
    transport = request.transport
    if transport is not None:
        transport.close()
    return cut


async def faulted_answer(
    request: web.Request,
    answer: Callable[[web.Request], Awaitable[web.StreamResponse]],
    index: int,
    rule: FaultRule,
    delay: float,
    stop: asyncio.Event,
) -> web.StreamResponse:
    """The request answered as fault rule ``index`` says: ``answer`` gives the usual response
    (errors included), which a delay postpones and a truncation cuts."""
    if delay:
        await asyncio.sleep(delay)
    effect = rule.effect
    if effect is None:
        return await answer(request)
    if effect == "error":
        raise ApiError(
            rule.error_message or f"fault rule {index}",
            status=rule.error_status,
            code=rule.error_code,
        )
    if effect == "drop":
        return _closed(request)
    if effect == "hang":
        return await _held(request, stop)
    return await _truncated(request, await answer(request))
