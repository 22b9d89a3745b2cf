"""The OpenAPI document itself: valid, the package's version, and exactly the server's routes.

- it is a valid OpenAPI 3.1 document (openapi-spec-validator) whose examples fit their schemas;
- its operations are exactly the routes the server has (``nanoadmin.api.ROUTES``, the control
  API's ``CONTROL_ROUTES`` and the two unauthenticated extensions), so a route added without
  documentation fails here;
- every /api/v4 operation documents 401 and 413 and asks for credentials.

test_openapi_exchanges.py checks that it is true of what real servers answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_spec_validator import validate as validate_spec

from nanoadmin.api import CONTROL_ROUTES, ROUTES
from nanoadmin.api.openapi import openapi_document
from nanoadmin.app import create_app
from tests.support import basic_settings
from tests.support.openapi import (
    API,
    UNAUTHENTICATED,
    load_document,
    operations,
    resolve,
    schema_errors,
)


def test_document_is_valid_openapi_3_1() -> None:
    document = load_document()
    assert document["openapi"].startswith("3.1.")
    validate_spec(document)
    OpenAPI.from_dict(document)  # openapi-core's own checks


def test_document_version_is_the_package_version() -> None:
    from nanoadmin import __version__

    assert load_document()["info"]["version"] == __version__


def test_served_document_is_the_packaged_one() -> None:
    assert openapi_document() == load_document()


def iter_schemas(node: object, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from iter_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from iter_schemas(value, f"{where}/{index}")


def test_patterns_compile_and_examples_fit_their_schemas() -> None:
    document = load_document()
    for where, node in iter_schemas(document):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and "/schema" in where:
            re.compile(pattern)
    for path, method, operation in operations(document):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            if "example" in media:
                errors = schema_errors(document, media["schema"], media["example"])
                assert not errors, (method, path, errors)


def documented_route(method: str, pattern: str, root: str = API) -> tuple[str, str]:
    return method, root + ("" if pattern == "/" else pattern)


def test_every_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    document = load_document()
    routes = {documented_route(method, pattern) for method, pattern, _ in ROUTES}
    control = {
        documented_route(method, pattern, "/_nanoadmin/v1") for method, pattern, _ in CONTROL_ROUTES
    }
    documented = {(method, path) for path, method, _ in operations(document)}
    assert routes | control | UNAUTHENTICATED == documented
    # Outside /api/v4 the app has exactly the unauthenticated extensions and the catch-all;
    # inside, the plain routes it registers for literal paths are documented routes.
    app = create_app(basic_settings(tmp_path))
    registered = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical != "/{tail}"
    }
    inside = {route for route in registered if route[1].startswith(API + "/")}
    assert registered - inside == UNAUTHENTICATED
    assert inside
    assert inside <= routes
    # Path parameters: declared exactly for the {names} in the path, and required.
    for path, method, operation in operations(document):
        params = document["paths"][path].get("parameters", []) + operation.get("parameters", [])
        resolved = [resolve(document, p) for p in params]
        in_path = {p["name"] for p in resolved if p["in"] == "path"}
        assert in_path == set(re.findall(r"\{(\w+)\}", path)), (method, path)
        assert all(p["required"] for p in resolved if p["in"] == "path")


def test_every_api_operation_documents_401_and_413_and_auth() -> None:
    document = load_document()
    schemes = document["components"]["securitySchemes"]
    assert schemes["basicAuth"] == {**schemes["basicAuth"], "type": "http", "scheme": "basic"}
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert document["security"] == [{"basicAuth": []}, {"bearerAuth": []}]
    for path, method, operation in operations(document):
        responses = operation["responses"]
        assert "413" in responses, (method, path)
        if (method, path) in UNAUTHENTICATED:
            assert operation["security"] == []
        else:
            assert "security" not in operation
            assert responses["401"] == {"$ref": "#/components/responses/Unauthorized"}
