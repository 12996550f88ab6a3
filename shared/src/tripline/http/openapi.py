"""A thin route registry that publishes OpenAPI 3.1 from the views' own pydantic models.

Views say what they accept and answer with ``@documented(...)``; ``build_openapi`` walks the Flask
URL map, so a route that exists is documented where it is defined and nowhere else.
Operational endpoints (``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``) are left out
on purpose: they are not routed publicly and are not part of the client contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, TypeVar, cast

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from werkzeug.routing import Rule

from tripline.http.problems import PROBLEM_CONTENT_TYPE, TYPE_PREFIX

F = TypeVar("F", bound=Callable[..., Any])
Responses = Mapping[int, type[BaseModel] | None]
Refs = Mapping[tuple[type[BaseModel], JsonSchemaMode], str]  # (model, mode) -> component name

_OPERATION_ATTR = "__tripline_operation__"
_REF_TEMPLATE = "#/components/schemas/{model}"
_IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})
_OPERATIONAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
# Werkzeug rule variables: <name>, <converter:name>, <converter(args):name>.
_RULE_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "uuid": {"type": "string", "format": "uuid"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
}
_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "examples": [TYPE_PREFIX + "not_found"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["not_found"]},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


@dataclass(frozen=True, slots=True)
class Operation:
    """What one view accepts and answers, as declared by ``@documented``."""

    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: Responses = field(default_factory=lambda: {200: None})
    auth: bool = True
    tags: tuple[str, ...] = ()
    idempotency_key: bool = False


Route = tuple[Rule, str, Operation]  # one method of one URL rule, with its declaration


def documented(
    summary: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: Responses | None = None,
    auth: bool = True,
    tags: tuple[str, ...] = (),
    idempotency_key: bool = False,
) -> Callable[[F], F]:
    """Record a view's contract for ``build_openapi``; a ``None`` response model means no body."""
    # Errors the declaration implies (400 for input, 401/403 for auth, 409/422 for idempotency)
    # are added by build_openapi; views list the others, such as {404: None}, in ``responses``.
    operation = Operation(summary, body, query, dict(responses or {200: None}), auth, tuple(tags), idempotency_key)

    def record(view: F) -> F:
        # functools.wraps copies __dict__, so this survives decorators applied on top.
        setattr(view, _OPERATION_ATTR, operation)
        return view

    return record


def build_openapi(app: Flask, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every documented route of ``app``."""
    routes = list(_documented_routes(app))
    schemas, refs = _component_schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, operation in routes:
        path_item = paths.setdefault(_openapi_path(rule), {})
        path_item[method.lower()] = _operation_object(rule, method, operation, refs, schemas)
    _drop_query_models(schemas, refs, routes)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": {**schemas, "Problem": _PROBLEM_SCHEMA},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def undocumented_rules(app: Flask, *, allowed: frozenset[str] = frozenset()) -> list[str]:
    """Rules without ``@documented``, for a test that keeps the published contract complete."""
    skipped = _OPERATIONAL_PATHS | allowed
    return sorted(
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and rule.rule not in skipped
        for method in _methods(rule)
        if _operation_for(app, rule, method) is None
    )


def _documented_routes(app: Flask) -> list[Route]:
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in _methods(rule):
            operation = _operation_for(app, rule, method)
            if operation is not None:
                found.append((rule, method, operation))
    return found


def _methods(rule: Rule) -> list[str]:
    return sorted(set(rule.methods or ()) - _IGNORED_METHODS)


def _operation_for(app: Flask, rule: Rule, method: str) -> Operation | None:
    view = app.view_functions.get(rule.endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is not None:  # a MethodView documents each method separately
        view = getattr(view_class, method.lower(), None)
    operation: Operation | None = getattr(view, _OPERATION_ATTR, None)
    return operation


def _component_schemas(routes: list[Route]) -> tuple[dict[str, Any], Refs]:
    """JSON schemas of every model in one pass, so shared models become one component."""
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = set()
    for _, _, operation in routes:
        for model in (operation.body, operation.query):
            if model is not None:
                wanted.add((model, "validation"))
        wanted.update((m, "serialization") for m in operation.responses.values() if m is not None)
    if not wanted:
        return {}, {}
    ordered = sorted(wanted, key=lambda item: (item[0].__module__, item[0].__qualname__, item[1]))
    mapping, document = models_json_schema(ordered, ref_template=_REF_TEMPLATE)
    refs = {
        cast(tuple[type[BaseModel], JsonSchemaMode], key): str(schema["$ref"]).rsplit("/", 1)[-1]
        for key, schema in mapping.items()
    }
    schemas: dict[str, Any] = dict(document.get("$defs", {}))
    return schemas, refs


def _drop_query_models(schemas: dict[str, Any], refs: Refs, routes: list[Route]) -> None:
    """Query models become parameters, not components; keep only what some body or response uses."""
    queries, payloads = set(), set()
    for _, _, op in routes:
        if op.query is not None:
            queries.add(refs[(op.query, "validation")])
        if op.body is not None:
            payloads.add(refs[(op.body, "validation")])
        payloads.update(refs[(m, "serialization")] for m in op.responses.values() if m is not None)
    for name in queries - payloads:
        schemas.pop(name, None)


def _operation_object(
    rule: Rule, method: str, operation: Operation, refs: Refs, schemas: Mapping[str, Any]
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": _operation_id(rule, method),
        "summary": operation.summary,
        "parameters": _path_parameters(rule) + _query_parameters(operation, refs, schemas),
        "responses": _responses(operation, refs),
    }
    if operation.idempotency_key:
        document["parameters"].append(_IDEMPOTENCY_KEY_PARAMETER)
    if not document["parameters"]:
        del document["parameters"]
    if operation.tags:
        document["tags"] = list(operation.tags)
    if operation.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(refs[(operation.body, "validation")])}},
        }
    if operation.auth:
        document["security"] = [{"bearerAuth": []}]
    return document


def _operation_id(rule: Rule, method: str) -> str:
    endpoint = rule.endpoint.replace(".", "_")
    methods = _methods(rule)
    return endpoint if len(methods) == 1 else f"{endpoint}_{method.lower()}"


def _openapi_path(rule: Rule) -> str:
    return _RULE_VARIABLE.sub(lambda match: "{" + match["name"] + "}", rule.rule)


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    return [
        {
            "name": match["name"],
            "in": "path",
            "required": True,
            "schema": _CONVERTER_SCHEMAS.get(match["converter"] or "", {"type": "string"}),
        }
        for match in _RULE_VARIABLE.finditer(rule.rule)
    ]


def _query_parameters(operation: Operation, refs: Refs, schemas: Mapping[str, Any]) -> list[dict[str, Any]]:
    if operation.query is None:
        return []
    model_schema = schemas[refs[(operation.query, "validation")]]
    required = set(model_schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": schema}
        for name, schema in model_schema.get("properties", {}).items()
    ]


def _responses(operation: Operation, refs: Refs) -> dict[str, Any]:
    statuses: dict[int, type[BaseModel] | None] = dict(operation.responses)
    implied: list[int] = []
    if operation.body is not None or operation.query is not None:
        implied.append(400)
    if operation.body is not None:
        implied += [413, 415]
    if operation.auth:
        implied += [401, 403]
    if operation.idempotency_key:
        implied += [400, 409, 422]
    for status in implied:
        statuses.setdefault(status, None)
    return {str(status): _response(status, statuses[status], refs) for status in sorted(statuses)}


def _response(status: int, model: type[BaseModel] | None, refs: Refs) -> dict[str, Any]:
    response: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if model is not None:
        response["content"] = {"application/json": {"schema": _ref(refs[(model, "serialization")])}}
    elif status >= 400:
        response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": _ref("Problem")}}
    return response


def _ref(name: str) -> dict[Literal["$ref"], str]:
    return {"$ref": _REF_TEMPLATE.format(model=name)}
