"""docs/openapi.yaml and the code, checked against each other both ways.

- The document is valid OpenAPI 3.1.
- Its operations are the code's routes (`ROUTES`), method and path, and the template routes
  exactly those to the function (test_template_http.py).
- Each operation documents exactly the statuses its code declares, API Gateway's own (403,
  429) aside; requests no route takes likewise (`x-notifier-unrouted`).
- Each declared status has a scenario below that makes the app answer it, and every reply in
  these unit tests is checked against the document (`Api.call`); Schemathesis fuzzes the running
  server from the document (tests/e2e/test_http_fuzz.py).
- The problem types the code answers are the ones the document lists.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openapi_spec_validator import validate

from notifier.adapters.outbound.sqs import NullEmailQueue
from notifier.domain.errors import DependencyUnavailable, SendThrottled
from notifier.domain.limits import parse_limits
from notifier.entrypoints.http_api import ROUTES, UNROUTED_STATUSES, Route
from notifier.entrypoints.problems import PROBLEM_TYPE, PROBLEMS
from tests.fakes import FakeEmailQueue, FakeSuppressionList
from tests.support import openapi
from tests.support.openapi import Reply
from tests.unit.api_support import Api, BrokenStatusStore, http_event
from tests.unit.conftest import seed_message


def test_the_document_is_valid_openapi_3_1() -> None:
    """openapi-spec-validator finds nothing wrong with it."""
    validate(openapi.document())
    assert openapi.document()["openapi"] == "3.1.0"


def test_the_documented_operations_are_the_code_s_routes() -> None:
    """Both ways: no route undocumented, no documented operation without its route."""
    documented = {key: op["operationId"] for key, op in openapi.operations().items()}

    assert documented == {(r.method, r.path): r.operation_id for r in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.operation_id)
def test_each_operation_documents_exactly_the_statuses_its_code_declares(route: Route) -> None:
    """Both ways, API Gateway's own answers (403, 429: `x-notifier-source`) aside."""
    assert openapi.function_statuses(route.method, route.path) == set(route.statuses)


def test_requests_no_route_takes_are_documented_too() -> None:
    """A malformed event (400), no such path (404), not with that method (405)."""
    assert openapi.function_statuses("GET", None) == set(UNROUTED_STATUSES)


def test_the_documented_problem_types_are_the_code_s() -> None:
    """The description's table of problem types lists each of `PROBLEMS` with its status, and
    nothing else."""
    description = openapi.document()["info"]["description"]
    rows = {
        line.split("|")[1].strip().strip("`"): int(line.split("|")[2])
        for line in description.splitlines()
        if line.startswith("| `")
    }

    assert rows == {kind: status for kind, (status, _title) in PROBLEMS.items()}
    assert (
        openapi.document()["components"]["schemas"]["Problem"]["properties"]["type"]["pattern"]
        == "^" + PROBLEM_TYPE.replace(".", "\\.") + "[a-z-]+$"
    )


Scenario = Callable[[Callable[..., Api]], Reply]
SCENARIOS: dict[tuple[str, int], Scenario] = {}
UNROUTED = "(unrouted)"


def scenario(operation: str, status: int) -> Callable[[Scenario], Scenario]:
    """Register how to make `operation` answer `status`."""

    def register(make: Scenario) -> Scenario:
        SCENARIOS[(operation, status)] = make
        return make

    return register


@scenario("sendEmail", 200)
def _sent(make: Callable[..., Api]) -> Reply:
    return make().send(seed_message())


@scenario("sendEmail", 400)
def _invalid(make: Callable[..., Api]) -> Reply:
    return make().send(seed_message(sender="nope"))


@scenario("sendEmail", 409)
def _key_reused(make: Callable[..., Api]) -> Reply:
    api = make()
    api.send(seed_message(idempotency_key="k"))
    return api.send(seed_message(subject="other"), **{"Idempotency-Key": "k"})


@scenario("sendEmail", 413)
def _too_large(make: Callable[..., Api]) -> Reply:
    return make(max_message_bytes=2048).send(seed_message(text_content="x" * 3000))


@scenario("sendEmail", 415)
def _not_json(make: Callable[..., Api]) -> Reply:
    return make().call(http_event("POST", "/v1/emails", body="{}"))


@scenario("sendEmail", 422)
def _suppressed(make: Callable[..., Api]) -> Reply:
    return make(suppression=FakeSuppressionList("user@example.com")).send(seed_message())


@scenario("sendEmail", 500)
def _bug(make: Callable[..., Api]) -> Reply:
    api = make()
    api.mailer.errors.append(RuntimeError("a bug"))  # type: ignore[arg-type]
    return api.send(seed_message())


@scenario("sendEmail", 503)
def _throttled(make: Callable[..., Api]) -> Reply:
    api = make()
    api.mailer.errors.append(SendThrottled("slow down"))
    return api.send(seed_message())


@scenario("sendEmail", 429)
def _over_limit(make: Callable[..., Api]) -> Reply:
    api = make(producer_limits=parse_limits("*=1/d"), limit_max_wait_seconds=0)
    api.send(seed_message())
    return api.send(seed_message(subject="a second message, over the day's limit"))


@scenario("enqueueEmail", 202)
def _queued(make: Callable[..., Api]) -> Reply:
    return make().enqueue(seed_message())


@scenario("enqueueEmail", 400)
def _invalid_queued(make: Callable[..., Api]) -> Reply:
    return make().enqueue(seed_message(subject=""))


@scenario("enqueueEmail", 413)
def _too_large_for_sqs(make: Callable[..., Api]) -> Reply:
    return make().enqueue(seed_message(text_content="x" * 300_000))


@scenario("enqueueEmail", 415)
def _not_json_queued(make: Callable[..., Api]) -> Reply:
    return make().call(http_event("POST", "/v1/emails/enqueue", body="{}"))


@scenario("enqueueEmail", 500)
def _queue_bug(make: Callable[..., Api]) -> Reply:
    return make(queue=FakeEmailQueue(RuntimeError("a bug"))).enqueue(seed_message())


@scenario("enqueueEmail", 501)
def _no_queue(make: Callable[..., Api]) -> Reply:
    return make(queue=NullEmailQueue()).enqueue(seed_message())


@scenario("enqueueEmail", 503)
def _queue_down(make: Callable[..., Api]) -> Reply:
    return make(queue=FakeEmailQueue(DependencyUnavailable("SQS down"))).enqueue(seed_message())


@scenario("getEmailStatus", 200)
def _found(make: Callable[..., Api]) -> Reply:
    api = make()
    return api.status(api.send(seed_message()).json["messageId"])


@scenario("getEmailStatus", 400)
def _bad_header(make: Callable[..., Api]) -> Reply:
    return make().call(http_event("GET", "/v1/emails/abc", headers={"x-trace": "a\nb"}))


@scenario("getEmailStatus", 404)
def _unknown(make: Callable[..., Api]) -> Reply:
    return make().status("unknown")


@scenario("getEmailStatus", 500)
def _store_bug(make: Callable[..., Api]) -> Reply:
    return make(statuses=BrokenStatusStore(RuntimeError("a bug"))).status("abc")


@scenario("getEmailStatus", 503)
def _store_down(make: Callable[..., Api]) -> Reply:
    return make(statuses=BrokenStatusStore(DependencyUnavailable("DynamoDB down"))).status("abc")


@scenario(UNROUTED, 400)
def _malformed_event(make: Callable[..., Api]) -> Reply:
    event = http_event("GET", "/v1/emails/abc")
    event["rawPath"] = None
    return make().call(event)


@scenario(UNROUTED, 404)
def _no_route(make: Callable[..., Api]) -> Reply:
    return make().call(http_event("GET", "/nowhere"))


@scenario(UNROUTED, 405)
def _wrong_method(make: Callable[..., Api]) -> Reply:
    return make().call(http_event("DELETE", "/v1/emails"))


def test_every_status_the_code_declares_has_a_scenario() -> None:
    """Each (operation, status) the code declares (`ROUTES`, `UNROUTED_STATUSES`, which
    test_openapi.py holds equal to the document) is made to happen below, and nothing else."""
    declared = {(route.operation_id, status) for route in ROUTES for status in route.statuses}
    declared |= {(UNROUTED, status) for status in UNROUTED_STATUSES}

    assert set(SCENARIOS) == declared


@pytest.mark.parametrize(("operation", "status"), sorted(SCENARIOS))
def test_each_declared_status_is_answered_as_documented(
    make_api: Callable[..., Api], operation: str, status: int
) -> None:
    """GIVEN the scenario for (operation, status) WHEN it runs THEN the app answers that status,
    and (as every reply here) exactly as docs/openapi.yaml documents it."""
    reply = SCENARIOS[(operation, status)](make_api)

    assert reply.status == status
