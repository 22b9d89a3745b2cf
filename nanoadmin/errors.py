"""NanoMQ's result codes and the one family of errors that carry them to an answer."""

from __future__ import annotations

from collections.abc import Mapping

SUCCEED = 0
RPC_ERROR = 101
UNKNOWN_MISTAKE = 102
WRONG_USERNAME_OR_PASSWORD = 103
EMPTY_USERNAME_OR_PASSWORD = 104
MISSING_KEY_REQUEST_PARAMES = 107
REQ_PARAM_ERROR = 108
REQ_PARAMS_JSON_FORMAT_ILLEGAL = 109
PLUGIN_IS_CLOSED = 111
CLIENT_IS_OFFLINE = 112
ILLEGAL_SUBJECT = 115
TOKEN_EXPIRED = 116
PARAMS_HOCON_FORMAT_ILLEGAL = 117
WRITE_CONFIG_FAILED = 118


def coded_body(code: int, message: str, **rest: object) -> dict[str, object]:
    """``{"code": N, "message": ...}`` then any extra keys: D3 puts the message right after code."""
    return {"code": code, "message": message, **rest}


class ApiError(Exception):
    """An error answered as ``{"code": code, "message": ...}`` with HTTP ``status``.

    Subclasses fix the usual pairs; NanoMQ has many one-off pairs, which pass ``status`` and
    ``code`` to the constructor instead.
    """

    status: int = 400
    code: int = UNKNOWN_MISTAKE

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: object,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = headers
        self.extra = extra

    def body(self) -> dict[str, object]:
        return coded_body(self.code, self.message, **self.extra)


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


class AuthError(ApiError):
    """Authentication failed: 401 with NanoMQ's ``code`` and a ``WWW-Authenticate`` challenge."""

    status = 401

    def __init__(self, code: int, message: str, challenge: str) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": challenge})
        self.challenge = challenge
