"""docs/openapi.yaml as the tests read it: operations, documented responses, and a check of
one response against what the document says of its status (content type, required headers,
body schema), with jsonschema_rs, a second validator beside the one Schemathesis uses."""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import jsonschema_rs
import yaml

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
GATEWAY_ONLY = "x-notifier-source"  # responses API Gateway answers, never the function
UNROUTED = "x-notifier-unrouted"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document."""
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation, by (METHOD, path template)."""
    return {
        (method.upper(), path): operation
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def resolve(node: Mapping[str, Any]) -> dict[str, Any]:
    """A `$ref` (local) followed to what it names."""
    while "$ref" in node:
        target: Any = document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return dict(node)


def responses(method: str, path: str | None) -> dict[str, dict[str, Any]]:
    """The responses documented for an operation (path None: for a request no route takes),
    `$ref`s resolved, keyed by status."""
    declared = document()[UNROUTED] if path is None else operations()[(method, path)]["responses"]
    return {status: resolve(response) for status, response in declared.items()}


def function_statuses(method: str, path: str | None) -> set[int]:
    """The statuses documented as the function's answers (API Gateway's own left out)."""
    return {
        int(status)
        for status, response in responses(method, path).items()
        if GATEWAY_ONLY not in response
    }


def operation_for(method: str, raw_path: str) -> tuple[str, str] | None:
    """The documented (METHOD, template) a request matches (each path segment
    percent-decoded), or None. As OpenAPI says, a concrete path is matched before a templated
    one: a path that is some operation's concrete path matches no templated operation."""
    segments = [urllib.parse.unquote(segment) for segment in raw_path.split("/")]

    def fits(template: str) -> bool:
        expected = template.split("/")
        return len(expected) == len(segments) and all(
            (e.startswith("{") and given) or e == given
            for e, given in zip(expected, segments, strict=True)
        )

    paths = [template for _method, template in operations() if fits(template)]
    concrete = [template for template in paths if "{" not in template]
    for found_method, template in operations():
        if found_method == method and template in (concrete or paths):
            return found_method, template
    return None


@attrs.frozen
class Reply:
    """An HTTP response as the function (or the server) gave it."""

    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").partition(";")[0].strip()


def nonconformities(method: str, path: str | None, reply: Reply) -> list[str]:
    """How `reply` departs from what the document says of its status for that operation
    (`path` None: a request no route takes); empty when it conforms."""
    documented = responses(method, path)
    where = f"{method} {path or '(unrouted)'} -> {reply.status}"
    response = documented.get(str(reply.status))
    if response is None:
        return [f"{where}: status not documented (documented: {sorted(documented)})"]
    if GATEWAY_ONLY in response:
        return [f"{where}: documented as API Gateway's answer, not the function's"]
    found = []
    for name, header in response.get("headers", {}).items():
        if resolve(header).get("required") and name.lower() not in reply.headers:
            found.append(f"{where}: required header {name} missing")
    content = response.get("content", {})
    if reply.content_type not in content:
        return [*found, f"{where}: content type {reply.content_type!r} not in {sorted(content)}"]
    schema = content[reply.content_type]["schema"]
    validator = jsonschema_rs.Draft202012Validator(
        {**schema, "components": document()["components"]}, validate_formats=True
    )
    found += [
        f"{where}: {error.message} at {list(error.instance_path)}"
        for error in validator.iter_errors(reply.json)
    ]
    return found
