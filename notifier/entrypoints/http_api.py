"""The HTTP API (docs/openapi.yaml is its contract): routing, and outcomes -> responses.

An API Gateway HTTP API event (payload format 2.0) arrives here from `App`, already parsed
into an `HttpRequest`. Sending goes through the app's own pipeline (`send`), so an email sent
over HTTP is validated, deduplicated, logged, counted and tracked as one sent any other way.
Every error is `application/problem+json` (RFC 9457); field errors are its `errors` member.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs
import structlog

from notifier.adapters.inbound.events import Inbound
from notifier.adapters.inbound.http import (
    HttpRequest,
    InvalidRequest,
    UnsupportedMediaType,
    check_headers,
    message_request,
    scoped_key_of,
    tracking_id,
)
from notifier.domain.errors import InvalidMessage, NotifierError
from notifier.domain.model import AlreadySent
from notifier.domain.ports import EmailQueue, Metrics, Unit
from notifier.domain.tracking import Tracker
from notifier.domain.validation import Validator
from notifier.entrypoints.problems import HttpResponse, error_problem, json_response, problem
from notifier.entrypoints.reporting import Envelope, Outcome, report
from notifier.entrypoints.status_view import status_document

log = structlog.get_logger("notifier")

MAX_MESSAGE_ID_CHARS = 256  # longer is no SES message id nor tracking id: never looked up


@attrs.frozen
class Route:
    """One operation of docs/openapi.yaml and the statuses its code can answer."""

    method: str
    path: str  # OpenAPI's template: /v1/emails/{messageId}
    operation_id: str
    statuses: frozenset[int]

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """The path parameters when the (decoded) path segments fit this route, else None."""
        template = self.path.split("/")
        if len(segments) != len(template):
            return None
        parameters = {}
        for expected, given in zip(template, segments, strict=True):
            if expected.startswith("{") and expected.endswith("}"):
                if not given:
                    return None
                parameters[expected[1:-1]] = given
            elif expected != given:
                return None
        return parameters


ROUTES = (
    Route(
        "POST", "/v1/emails", "sendEmail", frozenset({200, 400, 409, 413, 415, 422, 429, 500, 503})
    ),
    Route(
        "POST", "/v1/emails/enqueue", "enqueueEmail", frozenset({202, 400, 413, 415, 500, 501, 503})
    ),
    Route("GET", "/v1/emails/{messageId}", "getEmailStatus", frozenset({200, 400, 404, 500, 503})),
)
# What a request no route takes is answered: an event App cannot parse (400, before routing),
# no path matches (404), or not with its method (405).
UNROUTED_STATUSES = frozenset({400, 404, 405})


class HttpApi:
    """Routes one request to its operation and maps what happened to a response."""

    def __init__(
        self,
        *,
        validator: Validator,
        tracking: Tracker,
        queue: EmailQueue,
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._validator = validator
        self._tracking = tracking
        self._queue = queue
        self._metrics = metrics
        self._clock = clock
        self._operations: dict[str, Callable[[HttpRequest, dict[str, str], Sender], HttpResponse]]
        self._operations = {
            "sendEmail": self._send,
            "enqueueEmail": self._enqueue,
            "getEmailStatus": self._status,
        }

    def handle(self, request: HttpRequest, *, send: Sender) -> HttpResponse:
        """The response to `request`; `send` runs one inbound message through the app."""
        started = self._clock()
        route, parameters, allowed = _route(request)
        if route is None:
            response = (
                problem(
                    "method-not-allowed",
                    f"{request.method} is not allowed here",
                    headers={"allow": ", ".join(allowed)},
                )
                if allowed
                else problem("not-found", "no such route: see docs/openapi.yaml")
            )
        else:
            response = self._operate(route, request, parameters, send)
        log.info(
            "http.response",
            method=request.method,
            route=route.path if route else None,
            status=response["statusCode"],
            http_request_id=request.request_id,
            duration_ms=round((self._clock() - started) * 1000, 1),
        )
        return response

    def _operate(
        self, route: Route, request: HttpRequest, parameters: dict[str, str], send: Sender
    ) -> HttpResponse:
        try:
            check_headers(request)
            return self._operations[route.operation_id](request, parameters, send)
        except InvalidRequest as exc:
            return problem("invalid-request", str(exc), errors=exc.errors)
        except UnsupportedMediaType as exc:
            return problem("unsupported-media-type", str(exc))
        except NotifierError as exc:  # reading the status record failed
            return error_problem(exc)
        except Exception as exc:  # a bug: answer 500, never a stack trace
            log.exception("http.unexpected_error", error_type=type(exc).__name__)
            return problem("internal", "internal error; see the logs for this request")

    def _send(
        self, request: HttpRequest, _parameters: dict[str, str], send: Sender
    ) -> HttpResponse:
        """POST /v1/emails: send now, through the app's pipeline."""
        try:
            inbound = Inbound(request.request_id, request=message_request(request))
        except InvalidMessage as exc:  # logged and counted as any invalid message
            inbound = Inbound(request.request_id, error=exc)
        outcome = send(inbound)
        if outcome.sent is None:
            assert outcome.error is not None
            return error_problem(outcome.error)
        body: dict[str, Any] = {"messageId": outcome.sent.ses_message_id}
        if isinstance(outcome.sent, AlreadySent):
            body["duplicate"] = True
        return json_response(200, body)

    def _enqueue(
        self, request: HttpRequest, _parameters: dict[str, str], _send: Sender
    ) -> HttpResponse:
        """POST /v1/emails/enqueue: validate, then put the message on the email queue."""
        started = self._clock()
        envelope = None
        try:
            message = message_request(request)
            envelope = Envelope.masked(
                message.sender, (*message.recipients, *message.cc, *message.bcc)
            )
            command = self._validator.command(message)
            queued = self._queue.enqueue(message)
        except NotifierError as exc:
            duration_ms = (self._clock() - started) * 1000
            outcome = Outcome(
                record_id=request.request_id, duration_ms=duration_ms, envelope=envelope, error=exc
            )
            report(outcome, self._metrics)
            return error_problem(exc)
        assert envelope is not None  # set before anything that can succeed
        tracking = tracking_id(command.idempotency_key)
        self._metrics.add("EmailsEnqueued", 1, Unit.COUNT)
        log.info(
            "email.enqueued",
            message_id=request.request_id,
            queue_message_id=queued,
            sender=envelope.sender,
            recipients=list(envelope.recipients),
        )
        return json_response(
            202,
            {"trackingId": tracking, "queueMessageId": queued},
            headers={"location": f"/v1/emails/{tracking}"},
        )

    def _status(
        self, _request: HttpRequest, parameters: dict[str, str], _send: Sender
    ) -> HttpResponse:
        """GET /v1/emails/{messageId}: the status record, by SES message id or tracking id."""
        wanted = parameters["messageId"]
        record = None
        if len(wanted) <= MAX_MESSAGE_ID_CHARS and wanted.isprintable():
            key = scoped_key_of(wanted)
            record = self._tracking.find(key) if key else self._tracking.get(wanted)
        if record is None:
            return problem(
                "not-found",
                "no status for this id: unknown, not sent yet (a queued message), or past its"
                " retention",
            )
        return json_response(200, status_document(record))


Sender = Callable[[Inbound], Outcome]


def _route(request: HttpRequest) -> tuple[Route | None, dict[str, str], list[str]]:
    """The route for the request's method and path, its path parameters, and, when only the
    method is wrong, the methods the path allows. Each segment is percent-decoded once, so an
    encoded `/` (`%2F`) stays inside its segment. As in OpenAPI, a concrete path is matched
    before a templated one: `/v1/emails/enqueue` is the enqueue route's path alone, never a
    message id."""
    segments = [urllib.parse.unquote(segment) for segment in request.path.split("/")]
    concrete = [r for r in ROUTES if "{" not in r.path and r.match(segments) is not None]
    allowed = []
    for route in concrete or ROUTES:
        parameters = route.match(segments)
        if parameters is None:
            continue
        if route.method == request.method:
            return route, parameters, []
        allowed.append(route.method)
    return None, {}, sorted(set(allowed))
