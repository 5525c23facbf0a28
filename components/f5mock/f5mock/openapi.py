"""OpenAPI 3.0 description generated from the route table and the request models."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic.json_schema import models_json_schema

from f5mock.render import VERSION

if TYPE_CHECKING:
    from f5mock.api import Route

_ERROR = {"$ref": "#/components/schemas/Error"}
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
    "required": ["code", "message"],
}


def _operation(route: Route) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", route.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}} for name in route.query
    ]
    answers = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    if route.method == "DELETE":
        answers = {"description": "Deleted (empty body)"}
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{route.operation}",
        "summary": route.summary,
        "responses": {"200": answers},
    }
    for status in ("400", "401", "404", "409"):
        operation["responses"][status] = {
            "description": "BIG-IP error",
            "content": {"application/json": {"schema": _ERROR}},
        }
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}}},
        }
    if not route.authenticated:
        operation["security"] = []
    return operation


def document(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    models = sorted({route.body for route in routes if route.body is not None}, key=lambda m: m.__name__)
    _, schemas = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
    )
    components = dict(schemas.get("$defs", {}))
    components["Error"] = _ERROR_SCHEMA
    return {
        "openapi": "3.0.3",
        "info": {"title": "envbuilder mock F5 BIG-IP (iControl REST subset)", "version": VERSION},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "token": {"type": "apiKey", "in": "header", "name": "X-F5-Auth-Token"},
            },
        },
        "security": [{"basic": []}, {"token": []}],
    }
