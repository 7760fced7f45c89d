"""Contract check: every request sent to the fake GitHub must be one real GitHub would accept.

The fake is lenient on purpose (it ignores what it does not model), so a test passing against
it proves little about the wire format. This module checks each recorded request against
GitHub's own OpenAPI description (``/work/shared/specs/github-rest-subset.json``, see the
README there) with ``openapi-core``: the operation exists, path and query parameters have the
right types and enum values, the JSON body validates. Two gaps of that check are closed here:

- GitHub's request schemas do not say ``additionalProperties: false``, so a typo such as
  ``{"bdy": ...}`` would validate; keys that the schema does not list are reported;
- unknown query parameters are ignored by OpenAPI validation; they are reported too.

Parameters marked ``x-multi-segment`` (``{ref}``, ``{path}``) may contain slashes on the wire;
they are percent-encoded before ``openapi-core`` (whose templates match one segment) sees them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.testing import MockRequest

from fakes.http_server import Request

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "github-rest-subset.json"
HOST = "https://api.github.com"  # the spec's server; the fake's own address does not matter
BLOBS = "/_blobs/"  # the fake's stand-in for the log blob host: not part of the API


@dataclass(frozen=True)
class Extra:
    """A real GitHub operation that the spec subset left out, with what it may carry."""

    method: str
    pattern: str
    why: str
    query: frozenset[str] = frozenset()
    body: frozenset[str] = frozenset()


_REPO = r"/repos/[^/]+/[^/]+"
# Real operations outside the subset. Each is on docs.github.com; the subset was cut to what the
# adapter was planned to call, and these came along with PyGithub or with later features.
EXTRAS = (
    Extra("GET", _REPO, "Get a repository: PyGithub's get_repo() fetches it before anything"),
    Extra(
        "GET",
        _REPO + r"/actions/jobs/\d+",
        "Get a job for a workflow run: PyGithub's get_workflow_job() (non-lazy) fetches it",
    ),
    Extra(
        "GET",
        _REPO + r"/check-runs/\d+/annotations",
        "List check run annotations: a job's check run holds the error annotations",
        query=frozenset({"per_page", "page"}),
    ),
    Extra(
        "GET",
        _REPO + r"/git/commits/[0-9a-f]{40}",
        "Get a commit: the fix commit's base tree comes from the failing commit",
    ),
    Extra(
        "POST",
        _REPO + r"/issues/\d+/labels",
        "Add labels to an issue (or PR): labels on fix PRs",
        body=frozenset({"labels"}),
    ),
    Extra(
        "POST",
        _REPO + r"/pulls/\d+/requested_reviewers",
        "Request reviewers for a pull request: reviewers on fix PRs",
        body=frozenset({"reviewers", "team_reviewers"}),
    ),
)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    regex: re.Pattern[str]
    multi: frozenset[str]  # names of the x-multi-segment path parameters
    query: frozenset[str]
    body_schema: dict[str, Any] | None
    literal: int  # characters outside parameters: the most specific template wins


@cache
def _spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return data


@cache
def _openapi() -> OpenAPI:
    # The description is GitHub's own and already valid: skip validating the spec itself.
    # (None turns it off at run time; the stubs only admit a class or Unset.)
    return OpenAPI.from_dict(_spec(), config=Config(spec_validator_cls=None))  # type: ignore[arg-type]


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = _spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _template_regex(template: str, multi: frozenset[str]) -> str:
    """``{name}`` becomes a named group: one segment, or several for x-multi-segment."""

    def group(match: re.Match[str]) -> str:
        name = match[1]
        return f"(?P<{name}>.+)" if name in multi else f"(?P<{name}>[^/]+)"

    return re.sub(r"\\\{(\w+)\\\}", group, re.escape(template))


@cache
def _operations() -> tuple[Operation, ...]:
    found: list[Operation] = []
    for template, item in _spec()["paths"].items():
        shared = [_resolve(p) for p in item.get("parameters", [])]
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = shared + [_resolve(p) for p in operation.get("parameters", [])]
            multi = frozenset(p["name"] for p in params if p.get("x-multi-segment"))
            regex = _template_regex(template, multi)
            body = _resolve(operation.get("requestBody", {})).get("content", {})
            schema = body.get("application/json", {}).get("schema")
            found.append(
                Operation(
                    method.upper(),
                    template,
                    re.compile(regex),
                    multi,
                    frozenset(p["name"] for p in params if p["in"] == "query"),
                    _resolve(schema) if schema else None,
                    len(re.sub(r"\{\w+\}", "", template)),
                )
            )
    return tuple(found)


def _find(request: Request) -> tuple[Operation, re.Match[str]] | None:
    matches = [
        (op, m)
        for op in _operations()
        if op.method == request.method and (m := op.regex.fullmatch(request.path))
    ]
    return max(matches, key=lambda pair: pair[0].literal) if matches else None


def _schema_keys(schema: Any) -> tuple[dict[str, Any], bool]:
    """The properties a schema (with its allOf/anyOf/oneOf) lists, and whether it is open."""
    schema = _resolve(schema)
    if not isinstance(schema, dict):
        return {}, True
    props: dict[str, Any] = dict(schema.get("properties", {}))
    extra = schema.get("additionalProperties")
    is_open = bool(extra) or ("properties" not in schema and schema.get("type") != "object")
    for branch in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(branch, []):
            sub_props, sub_open = _schema_keys(sub)
            props.update(sub_props)
            is_open = is_open and sub_open
    return props, is_open


def _unknown_keys(schema: Any, value: Any, where: str) -> list[str]:
    """Keys in ``value`` that ``schema`` does not list, as dotted paths, recursively."""
    schema = _resolve(schema)
    if not isinstance(schema, dict):
        return []
    if isinstance(value, list):
        items = schema.get("items")
        if items is None:
            for branch in ("allOf", "anyOf", "oneOf"):
                items = items or next(
                    (_resolve(s).get("items") for s in schema.get(branch, [])), None
                )
        return [p for i, v in enumerate(value) for p in _unknown_keys(items, v, f"{where}[{i}]")]
    if not isinstance(value, dict):
        return []
    props, is_open = _schema_keys(schema)
    problems: list[str] = []
    for key, sub in value.items():
        if key in props:
            problems += _unknown_keys(props[key], sub, f"{where}.{key}")
        elif not is_open:
            problems.append(f"{where}.{key}")
    return problems


def _describe(error: Exception) -> str:
    cause = error.__cause__
    details = [getattr(e, "message", str(e)) for e in getattr(cause, "schema_errors", ()) or ()]
    text = str(error) if not details else f"{str(error).split(':')[0]}: {'; '.join(details)}"
    if cause is not None and not details:
        text += f" ({cause})"
    return text


def _check_extra(request: Request, extra: Extra, body: Any) -> list[str]:
    where = f"{request.method} {request.path}"
    problems = [
        f"{where}: unknown query parameter {q!r}" for q in request.query if q not in extra.query
    ]
    if isinstance(body, dict):
        problems += [f"{where}: unknown body key 'body.{k}'" for k in body if k not in extra.body]
    return problems


def check_request(request: Request) -> list[str]:
    """Problems with one request (empty when GitHub would accept it)."""
    where = f"{request.method} {request.path}"
    try:
        body = request.json
    except ValueError:
        return [f"{where}: body is not JSON"]
    for extra in EXTRAS:
        if extra.method == request.method and re.fullmatch(extra.pattern, request.path):
            return _check_extra(request, extra, body)
    found = _find(request)
    if found is None:
        return [f"{where}: no such operation in GitHub's REST API description"]
    operation, match = found
    path = operation.template
    for name, value in match.groupdict().items():
        encoded = quote(unquote(value), safe="") if name in operation.multi else value
        path = path.replace(f"{{{name}}}", encoded)
    problems = [
        f"{where}: unknown query parameter {q!r} for {operation.method} {operation.template}"
        for q in request.query
        if q not in operation.query
    ]
    mock = MockRequest(
        HOST,
        request.method,
        path,
        args=dict(request.query),
        data=request.body or None,
        content_type=request.headers.get("content-type", "application/json").lower(),
    )
    try:
        _openapi().validate_request(mock)
    except Exception as error:  # openapi-core raises a family of errors; all are findings
        problems.append(f"{where}: {_describe(error)}")
    if body is not None and operation.body_schema is not None:
        problems += [
            f"{where}: unknown body key {key!r} (not in {operation.method} {operation.template})"
            for key in _unknown_keys(operation.body_schema, body, "body")
        ]
    return problems


def check_requests(requests: Iterable[Request]) -> list[str]:
    """One readable problem per bad request sent to the API (the fake's blob URLs skipped)."""
    problems: list[str] = []
    for request in requests:
        if not request.path.startswith(BLOBS):
            problems += check_request(request)
    return problems
