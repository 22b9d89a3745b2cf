"""/rules: in-memory CRUD when the config has a ``rules`` block, else NanoMQ's 200 code 111."""

from __future__ import annotations

from aiohttp import web

from nanoadmin.errors import (
    MISSING_KEY_REQUEST_PARAMES,
    PLUGIN_IS_CLOSED,
    REQ_PARAM_ERROR,
    ApiError,
    coded_body,
)
from nanoadmin.http.pipeline import RouteMatch
from nanoadmin.http.responses import json_body, json_response
from nanoadmin.model import ModelError
from nanoadmin.model.rules import (
    RuleActionUnsupported,
    RuleNotFound,
    RuleParamsMissing,
    RuleRejected,
    parse_rule_id,
)
from nanoadmin.runtime import Runtime

ENGINE_OFF = "the rule engine is off: the config has no rules block"


def _engine_off() -> web.Response:
    return json_response(coded_body(PLUGIN_IS_CLOSED, ENGINE_OFF))


# NanoMQ's status and code for each refusal; an unknown rule is 107, but 108 on PUT.
_CODES: dict[type[ModelError], int] = {
    RuleNotFound: MISSING_KEY_REQUEST_PARAMES,
    RuleParamsMissing: MISSING_KEY_REQUEST_PARAMES,
    RuleActionUnsupported: PLUGIN_IS_CLOSED,
    RuleRejected: REQ_PARAM_ERROR,
}


def _refused(error: ModelError, *, updating: bool = False) -> ApiError:
    code = REQ_PARAM_ERROR if updating and isinstance(error, RuleNotFound) else _CODES[type(error)]
    return ApiError(status=400, code=code, message=error.message)


async def list_rules(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    rules = runtime.loaded.rules
    if rules is None:
        return _engine_off()
    return json_response({"data": rules.list(), "code": 0})


async def get_rule(runtime: Runtime, request: web.Request, match: RouteMatch) -> web.StreamResponse:
    rules = runtime.loaded.rules
    if rules is None:
        return _engine_off()
    try:
        return json_response({"data": rules.get(parse_rule_id(match.params["ruleid"])), "code": 0})
    except ModelError as error:
        raise _refused(error) from None


def _saved(rule_json: dict[str, object]) -> web.Response:
    data = {"rawsql": rule_json["rawsql"], "id": rule_json["id"], "enabled": rule_json["enabled"]}
    return json_response({"data": data, "actions": [], "code": 0})


async def create_rule(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    body = await json_body(request, dict)
    rules = runtime.loaded.rules
    if rules is None:
        return _engine_off()
    try:
        return _saved(rules.create(body).as_json())
    except ModelError as error:
        raise _refused(error) from None


async def update_rule(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    body = await json_body(request, dict)
    rules = runtime.loaded.rules
    if rules is None:
        return _engine_off()
    try:
        return _saved(rules.update(parse_rule_id(match.params["ruleid"]), body).as_json())
    except ModelError as error:
        raise _refused(error, updating=True) from None


async def delete_rule(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    rules = runtime.loaded.rules
    if rules is None:
        return _engine_off()
    try:
        rules.delete(parse_rule_id(match.params["ruleid"]))
    except ModelError as error:
        raise _refused(error) from None
    return json_response({"code": 0})
