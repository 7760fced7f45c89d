"""Contract check of the history requests sent to the fake GitLab: each operation exists in
GitLab's API description (``/work/shared/specs/gitlab-rest-subset.json``, Swagger 2.0, or the
documented issue operations its README lists), and every query parameter is one GitLab
declares, with an allowed value where the description has an enum. GitLab writes
``scope[]=a&scope[]=b`` for its array parameters; that is ``scope`` here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from fakes.http_server import Request

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "gitlab-rest-subset.json"
CHECKED = re.compile(r"/api/v4/projects/[^/]+/(?:pipelines|jobs|issues(?:/\d+)?)")
# Not in GitLab's generated file; the spec README summarises the Issues API page.
ISSUES = {
    ("GET", "/api/v4/projects/{id}/issues"): {
        "state",
        "labels",
        "search",
        "iids",
        "order_by",
        "sort",
        "page",
        "per_page",
    },
    ("POST", "/api/v4/projects/{id}/issues"): set(),
    ("PUT", "/api/v4/projects/{id}/issues/{issue_iid}"): set(),
}


@cache
def _spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return data


def _template(request: Request) -> str:
    path = re.sub(r"^/api/v4/projects/[^/]+", "/api/v4/projects/{id}", request.path)
    return re.sub(r"/issues/\d+$", "/issues/{issue_iid}", path)


def check_request(request: Request) -> list[str]:
    """Problems with one request to a checked operation (empty when GitLab accepts it)."""
    where = f"{request.method} {request.path}"
    template = _template(request)
    names = {name.removesuffix("[]") for name in request.query}
    if (request.method, template) in ISSUES:
        allowed = ISSUES[(request.method, template)]
        return [f"{where}: unknown query parameter {n!r}" for n in sorted(names - allowed)]
    operation = _spec()["paths"].get(template, {}).get(request.method.lower())
    if operation is None:
        return [f"{where}: no such operation in GitLab's API description"]
    params = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    problems = [f"{where}: unknown query parameter {n!r}" for n in sorted(names - set(params))]
    for name, values in request.query.items():
        declared = params.get(name.removesuffix("[]"), {})
        allowed_values = declared.get("enum") or (declared.get("items") or {}).get("enum")
        problems += [
            f"{where}: {name}={value!r} is not one of {allowed_values}"
            for value in values
            if allowed_values and value not in allowed_values
        ]
    return problems


def check_requests(requests: Iterable[Request]) -> list[str]:
    """One readable problem per bad history request (other routes are not checked here)."""
    problems: list[str] = []
    for request in requests:
        if CHECKED.fullmatch(request.path):
            problems += check_request(request)
    return problems
