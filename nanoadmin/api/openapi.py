"""GET /openapi.json: the OpenAPI 3.1 document kept beside the code, served without auth."""

from __future__ import annotations

import functools
from importlib import resources

from aiohttp import web

from nanoadmin.http.pipeline import RouteMatch
from nanoadmin.http.responses import dumps
from nanoadmin.runtime import Runtime


# The document is kept as YAML, not JSON: some 2,300 lines that people edit, with comments and
# shared responses (anchors) that JSON cannot hold. PyYAML reads it once, on the first request.
@functools.cache
def openapi_document() -> dict[str, object]:
    import yaml  # on the first request for the document, not at every start

    text = resources.files("nanoadmin").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


@functools.cache
def _openapi_body() -> bytes:
    return dumps(openapi_document())


async def openapi_json(
    runtime: Runtime, request: web.Request, match: RouteMatch
) -> web.StreamResponse:
    return web.Response(body=_openapi_body(), content_type="application/json")
