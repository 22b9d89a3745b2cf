"""Hot config (/reload), the live configuration, the config file (/config_update) and /ctrl."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from nanoadmin.config import ConfigError, ConfigFormat, detect_format, parse_text
from nanoadmin.config.atomic import write_atomically
from nanoadmin.errors import (
    PARAMS_HOCON_FORMAT_ILLEGAL,
    REQ_PARAM_ERROR,
    RPC_ERROR,
    WRITE_CONFIG_FAILED,
    ApiError,
    coded_body,
)
from nanoadmin.guards import RefusedChange, check_auth, check_config_change
from nanoadmin.http.pipeline import RouteMatch
from nanoadmin.http.responses import json_body, json_response, read_body
from nanoadmin.model.live_config import SECTIONS, LiveConfig
from nanoadmin.model.secrets import is_mask_echo
from nanoadmin.runtime import Runtime, load, off_the_loop
from nanoadmin.settings import http_server_posted, settings_from_tree

OK = {"code": 0}


async def get_reload(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    return json_response({"code": 0, "data": runtime.config.reload_view()})


async def post_reload(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    """Re-read the config file and keys (nanoadmin), keeping what the API changed as NanoMQ
    keeps it, then apply ``data`` as NanoMQ does."""
    body = await json_body(request, dict)
    try:
        await runtime.reload(keep_changes=True)
    except ConfigError as exc:
        raise ApiError(
            status=400,
            code=PARAMS_HOCON_FORMAT_ILLEGAL,
            message=(
                f"reload failed, previous configuration kept and data not applied: {exc} "
                "(NanoMQ does not re-read its file here: it would apply data and answer 0)"
            ),
        ) from None
    data = body.get("data")
    if isinstance(data, Mapping):
        runtime.config.apply_reload(data)
    return json_response(OK)


async def get_configuration(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    config, http = runtime.config, runtime.settings.http_server
    section = match.params.get("section")
    if section is None:
        return json_response({"code": 0, "data": config.render(http)})
    if section not in SECTIONS:
        return json_response(
            coded_body(RPC_ERROR, f"no configuration section {section!r}", data={}), status=404
        )
    return json_response({"code": 0, "data": {section: config.section(section, http)}})


def _apply_section(config: LiveConfig, name: str, value: object, *, whole: bool) -> None:
    if name == "auth" and isinstance(value, list):
        config.apply_auth(value)
    elif not isinstance(value, Mapping):
        return
    elif name == "basic":
        config.apply_basic(value)
    elif name == "tls":
        config.apply_tls(value)
    elif name == "websocket":
        config.apply_websocket(value)
    elif name == "sqlite":
        config.apply_sqlite(value)
    elif name == "auth_http" and not whole:
        # Only POST /configuration/auth_http applies it: the whole-config POST tests it as an
        # array, so never (nanomq/nanomq rest_api.c post_config: cJSON_IsArray(auth_http)
        # there, cJSON_IsObject(auth_http) for the section).
        config.apply_auth_http(value)


async def post_configuration(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    body = await json_body(request, dict)
    data = body.get("data")
    if not isinstance(data, Mapping):
        return json_response(OK)
    section = match.params.get("section")
    names = [section] if section is not None else list(SECTIONS)
    # http_server first: it is the one change that can fail (jwt keys), and it must fail alone.
    http = data.get("http_server")
    if "http_server" in names and isinstance(http, Mapping):
        current = runtime.settings.http_server
        try:
            posted = http_server_posted(current, http, keep=lambda k, v: is_mask_echo(k, v, http))
            check_auth(current, posted)
            runtime.update_http_server(posted)
        except ConfigError as exc:
            raise ApiError(
                status=400, code=REQ_PARAM_ERROR, message=f"http_server not changed: {exc}"
            ) from None
    for name in names:
        if name != "http_server" and name in data:
            _apply_section(runtime.config, name, data[name], whole=section is None)
    return json_response(OK)


def validate_config_text(raw: bytes, runtime: Runtime) -> None:
    """ConfigError unless ``raw``, written to the runtime's config file, is a config nanoadmin
    would reload (in the format that file is read in: HOCON as NanoMQ; TOML for a .toml file;
    key=value for --old_conf, or text that looks like it) and one the API may write
    (``nanoadmin.guards``).

    Messages name the key but never echo a value: it may come from an included file.
    """
    settings = runtime.settings
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("body is not UTF-8 text") from None
    if not text.strip():
        raise ConfigError("body is empty; expected the config file's text")
    path = settings.path or Path("nanomq.conf")
    fmt: ConfigFormat = "kv" if settings.forced_kv else detect_format(path, text)
    folders = runtime.operator_folders
    included: list[Path] = []
    tree = parse_text(text, fmt, path=path, source="body", confined_to=folders, included=included)
    new = replace(
        settings_from_tree(tree, fmt=fmt, path=settings.path, source="body"),
        included=tuple(included),
    )
    check_config_change(settings, new, folders)
    load(new)


async def config_update(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    """Validate the raw config text, then replace the config file atomically (D1, D2)."""
    path = runtime.settings.path
    raw = await read_body(request)
    if path is None:
        return json_response(coded_body(WRITE_CONFIG_FAILED, "the server has no config file"))
    try:
        # pyhocon takes ~10 µs a byte: parse off the event loop so other requests go on.
        await off_the_loop(validate_config_text, raw, runtime)
    except RefusedChange as exc:
        raise ApiError(
            status=400, code=PARAMS_HOCON_FORMAT_ILLEGAL, message=f"refused, file kept: {exc}"
        ) from None
    except ConfigError as exc:
        raise ApiError(
            status=400, code=PARAMS_HOCON_FORMAT_ILLEGAL, message=f"invalid config: {exc}"
        ) from None
    try:
        write_atomically(path, raw)
    except OSError as exc:
        return json_response(
            coded_body(WRITE_CONFIG_FAILED, f"cannot write {path.name}: {exc.strerror}")
        )
    return json_response(OK)


async def ctrl(runtime: Runtime, request: web.Request, match: RouteMatch) -> web.StreamResponse:
    action = match.params["action"].lower()
    if action == "stop":
        runtime.request_stop()
    elif action == "restart":
        runtime.request_restart()
    else:
        raise ApiError(
            status=404,
            code=RPC_ERROR,
            message=f"unknown action {match.params['action']!r}; expected stop or restart",
        )
    return json_response(OK)
