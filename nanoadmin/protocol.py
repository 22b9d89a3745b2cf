"""aiohttp's HTTP layer, made to answer malformed requests in JSON and log them in one line."""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from nanoadmin.errors import UNKNOWN_MISTAKE, coded_body, dumps

logger = logging.getLogger("nanoadmin.http")
_QUOTED = re.compile(r"""b?['"]""")


class JsonErrorRequestHandler(RequestHandler):
    """Bad request lines, header bytes or sizes: a JSON body (D7) and one log line, no traceback."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error")
        # The offending bytes, which may hold a credential, come quoted (a repr) after the
        # reason, or on the lines below it: keep what stands before either.
        text = (message or str(exc or "") or "error").strip()
        first_line = text.splitlines()[0] if text else ""
        reason = _QUOTED.split(first_line, maxsplit=1)[0].rstrip(" :.") or "error"
        if status >= 500:
            logger.error("internal error for %s: %s", request.remote, reason)
            reason = "internal error"
        else:
            logger.warning("malformed HTTP request from %s: %s", request.remote, reason)
        response = web.Response(
            status=status,
            body=dumps(coded_body(UNKNOWN_MISTAKE, reason)),
            content_type="application/json",
        )
        response.force_close()
        return response


class JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """web.AppRunner whose connections use JsonErrorRequestHandler."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        kwargs: dict[str, Any] = dict(server._kwargs)
        return JsonErrorServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **kwargs,
        )
