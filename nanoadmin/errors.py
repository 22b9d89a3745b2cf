"""NanoMQ's result codes, the API errors that carry them, and the one path every error leaves by."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar

import orjson
from aiohttp import web

from nanoadmin.auth.base import AuthError

logger = logging.getLogger("nanoadmin.errors")

SUCCEED = 0
RPC_ERROR = 101
UNKNOWN_MISTAKE = 102
REQ_PARAM_ERROR = 108
REQ_PARAMS_JSON_FORMAT_ILLEGAL = 109
PLUGIN_IS_CLOSED = 111
CLIENT_IS_OFFLINE = 112
ILLEGAL_SUBJECT = 115
PARAMS_HOCON_FORMAT_ILLEGAL = 117
WRITE_CONFIG_FAILED = 118
MISSING_KEY_REQUEST_PARAMES = 107

JSON = "application/json"


def dumps(body: object) -> bytes:
    """Compact JSON, keys in insertion order, UTF-8 unescaped: what cJSON prints."""
    return orjson.dumps(body)


def json_response(
    body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type=JSON, headers=headers)


def coded_body(code: int, message: str, **rest: object) -> dict[str, object]:
    """``{"code": N, "message": ...}`` then any extra keys: D3 puts the message right after code."""
    return {"code": code, "message": message, **rest}


class ApiError(Exception):
    """An error answered as ``{"code": code, "message": ...}`` with ``status``."""

    status: ClassVar[int] = 400
    code: ClassVar[int] = UNKNOWN_MISTAKE

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers

    def body(self) -> dict[str, object]:
        return coded_body(self.code, self.message)


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(
            f"method {method} is not allowed here; allowed: {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )


class BadRequestBody(ApiError):
    code = REQ_PARAMS_JSON_FORMAT_ILLEGAL


class PayloadTooLarge(ApiError):
    status = 413
    code = REQ_PARAMS_JSON_FORMAT_ILLEGAL


class BadParameter(ApiError):
    code = REQ_PARAM_ERROR


class CodedError(ApiError):
    """An error whose status and code vary by endpoint (NanoMQ has many such pairs)."""

    def __init__(self, status: int, code: int, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status_value = status
        self.code_value = code
        self.extra = extra

    def body(self) -> dict[str, object]:
        return coded_body(self.code_value, self.message, **self.extra)


def error_response(exc: ApiError) -> web.Response:
    status = exc.status_value if isinstance(exc, CodedError) else exc.status
    return json_response(exc.body(), status=status, headers=exc.headers)


def auth_error_response(exc: AuthError) -> web.Response:
    return json_response(
        coded_body(exc.code, exc.message), status=401, headers={"WWW-Authenticate": exc.challenge}
    )


_HTTP_CODES = {413: REQ_PARAMS_JSON_FORMAT_ILLEGAL, 400: REQ_PARAMS_JSON_FORMAT_ILLEGAL}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def response_for(request: web.BaseRequest, exc: Exception) -> web.StreamResponse:
    """The one error path: ``exc`` as a JSON body with a code. Call it from an ``except`` block.

    An HTTPException below 400 (a redirect) is not an error: it is raised again for aiohttp.
    """
    if isinstance(exc, ApiError):
        return error_response(exc)
    if isinstance(exc, AuthError):
        return auth_error_response(exc)
    if isinstance(exc, ConnectionResetError):
        # The client went away mid-body: nobody will read this answer; not a server error.
        logger.info(
            "client %s closed the connection before its request body arrived", request.remote
        )
        return json_response(
            coded_body(REQ_PARAMS_JSON_FORMAT_ILLEGAL, "connection closed before the body arrived"),
            status=400,
        )
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        reason = exc.reason or "error"
        if exc.status == 413:
            reason = "request body is larger than http_server.max_body"
        code = _HTTP_CODES.get(exc.status, UNKNOWN_MISTAKE)
        headers = {k: v for k, v in exc.headers.items() if k == "Allow"}
        return json_response(coded_body(code, reason), status=exc.status, headers=headers)
    logger.exception("unhandled error for %s %s", request.method, request.path, exc_info=exc)
    return json_response(coded_body(UNKNOWN_MISTAKE, "internal error"), status=500)
