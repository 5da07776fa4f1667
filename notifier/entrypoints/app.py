"""The application behind every entry point: event in, response out.

Each message is handled in isolation: one bad record never fails its neighbours, and every
failure is reported so that SQS or Lambda retries it (and finally dead-letters it).
"""

from __future__ import annotations

import contextvars
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import structlog

from notifier.adapters.inbound.events import (
    EventKind,
    Inbound,
    classify,
    direct_message,
    sns_messages,
    sqs_messages,
)
from notifier.adapters.inbound.http import InvalidRequest, parse_http_event
from notifier.domain.deferral import Deferred, Forwarded, QueuedMessage, deferral_delay
from notifier.domain.errors import NotifierError, OverLimit, SendingPaused, SendThrottled
from notifier.domain.feedback import FeedbackService
from notifier.domain.model import AlreadySent, EmailSent, MessageRequest, Priority, SendEmail
from notifier.domain.ports import Metrics, Requeue, Unit
from notifier.domain.privacy import redact
from notifier.domain.service import EmailService
from notifier.domain.status import StatusChange
from notifier.domain.tracking import TENANT_TAG, Refusal, Tracker, refusal_status
from notifier.domain.validation import Validator
from notifier.entrypoints.context import DEFAULT_TIMEOUT_SECONDS, LambdaContext
from notifier.entrypoints.http_api import HttpApi
from notifier.entrypoints.problems import problem
from notifier.entrypoints.quota_monitor import QuotaWatch
from notifier.entrypoints.reporting import Envelope, Outcome, report
from notifier.entrypoints.responses import (
    BatchResponse,
    ItemFailure,
    direct_response,
    unrecognised_event,
)

log = structlog.get_logger("notifier")

RESPONSE_RESERVE_SECONDS = 1.0  # kept back from the deadline to log, flush metrics and return


class RecordsFailed(Exception):
    """Raised for SNS invocations with failed records, so Lambda's asynchronous retries and
    on-failure destination keep them."""


class App:
    """Dispatches one Lambda event; `bootstrap()` builds it once per cold start."""

    def __init__(
        self,
        *,
        validator: Validator,
        service: EmailService,
        tracking: Tracker,
        feedback: FeedbackService,
        http: HttpApi,
        requeue: Requeue,
        max_receive_count: int,
        feedback_topics: Collection[str] = (),
        metrics: Metrics,
        quota: QuotaWatch,
        send_concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._validator = validator
        self._service = service
        self._tracking = tracking
        self._feedback = feedback
        self._http = http
        self._requeue = requeue
        self._max_receive_count = max_receive_count
        self._jitter = jitter
        self._feedback_topics = frozenset(feedback_topics)
        self._metrics = metrics
        self._quota = quota
        self._clock = clock
        self._executor = ThreadPoolExecutor(
            max_workers=send_concurrency, thread_name_prefix="notifier-send"
        )
        self._cold = True

    def handle(self, event: Any, context: LambdaContext | None) -> Mapping[str, Any]:
        """Handle a direct, SQS, SNS or HTTP API event (recognised by shape)."""
        request_id = getattr(context, "aws_request_id", None) or "local"
        deadline = self._deadline(context)
        kind = classify(event)
        if self._cold:
            self._cold = False
            self._metrics.add("ColdStart", 1, Unit.COUNT)
        with structlog.contextvars.bound_contextvars(aws_request_id=request_id, source=kind.value):
            self._quota.check()  # at most one GetSendQuota per interval, never per message
            try:
                return self._dispatch(kind, event, request_id, deadline)
            finally:
                self._flush_metrics()

    def _dispatch(
        self, kind: EventKind, event: Any, request_id: str, deadline: float
    ) -> Mapping[str, Any]:
        if kind is EventKind.SQS:
            outcomes = self._process_all(
                sqs_messages(event, feedback_topics=self._feedback_topics), deadline
            )
            return BatchResponse(
                batchItemFailures=[
                    ItemFailure(itemIdentifier=o.record_id) for o in outcomes if o.error
                ]
            )
        if kind is EventKind.SNS:
            failed = [
                o.record_id
                for o in self._process_all(
                    sns_messages(event, feedback_topics=self._feedback_topics), deadline
                )
                if o.error
            ]
            if failed:
                raise RecordsFailed(
                    f"{len(failed)} SNS record(s) not processed: {', '.join(failed)}"
                )
            return {"processed": len(event["Records"])}
        if kind is EventKind.HTTP:
            try:
                request = parse_http_event(event)
            except InvalidRequest as exc:
                return problem("invalid-request", str(exc), errors=exc.errors)
            return self._http.handle(
                request, send=lambda inbound: self._process_all([inbound], deadline)[0]
            )
        if kind is EventKind.DIRECT:
            (outcome,) = self._process_all([direct_message(event, request_id)], deadline)
            return direct_response(outcome)
        log.warning("event.unrecognised", event_type=type(event).__name__)
        return unrecognised_event()

    def _process_all(self, messages: Sequence[Inbound], deadline: float) -> list[Outcome]:
        paused = threading.Event()  # SES paused sending: do not attempt the rest of the batch
        if len(messages) == 1:
            outcomes = [self._process(messages[0], deadline, paused)]
        else:
            futures = [
                self._executor.submit(
                    contextvars.copy_context().run, self._process, m, deadline, paused
                )
                for m in messages
            ]
            outcomes = [f.result() for f in futures]
        if paused.is_set():
            self._metrics.add("SendingPaused", 1, Unit.COUNT)
        for outcome in outcomes:
            report(outcome, self._metrics)
            if isinstance(outcome.sent, EmailSent):
                self._quota.count(outcome.sent.recipients)
        return outcomes

    def _process(self, inbound: Inbound, deadline: float, paused: threading.Event) -> Outcome:
        started = self._clock()
        request = inbound.request
        envelope = (
            Envelope.masked(request.sender, (*request.recipients, *request.cc, *request.bcc))
            if request is not None
            else None
        )

        def done(**result: Any) -> Outcome:
            return Outcome(
                record_id=inbound.record_id,
                envelope=envelope,
                duration_ms=(self._clock() - started) * 1000,
                **result,
            )

        with structlog.contextvars.bound_contextvars(message_id=inbound.record_id):
            try:
                if inbound.feedback is not None:
                    return done(recorded=self._feedback.record(inbound.feedback))
                if inbound.notice is not None:
                    return done(notice=inbound.notice)
                if request is None:
                    return done(error=inbound.error)
                if paused.is_set():
                    return done(
                        error=SendingPaused("not attempted: SES sending is paused", code="Paused")
                    )
                if inbound.queued is not None and self._belongs_on_bulk(request, inbound.queued):
                    copy_id = self._requeue.forward(inbound.queued, lane=Priority.BULK)
                    return done(forwarded=Forwarded(lane=Priority.BULK, copy_id=copy_id))
                command = self._validator.command(request)
                sent = self._service.send(command, deadline=deadline)
                return done(sent=sent, changes=self._sent(command, sent))
            except SendingPaused as exc:
                paused.set()
                return done(error=exc)
            except (OverLimit, SendThrottled) as exc:
                if inbound.queued is None or request is None:  # HTTP, direct: 429 or 503
                    return done(error=exc)
                return done(**self._defer(inbound.queued, request, exc))
            except NotifierError as exc:
                return done(error=exc, changes=self._refused(request, exc))
            except Exception as exc:  # a bug must fail one record, not the whole batch
                log.exception("record.unexpected_error", error_type=type(exc).__name__)
                return done(error=exc)

    def _belongs_on_bulk(self, request: MessageRequest, queued: QueuedMessage) -> bool:
        """A bulk message that came by SNS or on another queue than the bulk lane's."""
        return (
            request.bulk
            and self._requeue.has_lane(Priority.BULK)
            and self._requeue.lane_of(queued) is not Priority.BULK
        )

    def _defer(
        self, queued: QueuedMessage, request: MessageRequest, error: OverLimit | SendThrottled
    ) -> dict[str, Any]:
        """Put a message that must wait back on its queue (notifier/domain/deferral.py): a
        fresh copy while its real failures are under the queue's maxReceiveCount, else the
        original held back (its receive counted).
        A message from SNS goes on its lane's queue; with none, it fails as before and
        Lambda's asynchronous retries keep it."""
        over_limit = error if isinstance(error, OverLimit) else None
        delay = deferral_delay(
            over_limit.retry_after if over_limit else 0.0, queued.deferrals, jitter=self._jitter
        )
        deferred = Deferred(
            reason=error.reason,
            delay_seconds=delay,
            deferrals=queued.deferrals + 1,
            copied=True,
            producer=over_limit.producer if over_limit else "",
        )
        lane = Priority.BULK if request.bulk else Priority.TRANSACTIONAL
        if queued.real_failures < self._max_receive_count:
            try:
                copy_id = self._requeue.put_back(
                    queued,
                    lane=lane,
                    delay_seconds=delay,
                    deferrals=deferred.deferrals,
                    failures=queued.real_failures,
                )
                return {"deferred": attrs.evolve(deferred, copy_id=copy_id)}
            except NotifierError as exc:
                log.warning("email.requeue_failed", error=_why(exc))
        if queued.source_arn:
            try:
                self._requeue.hold(queued, delay_seconds=delay)
            except NotifierError as exc:
                log.warning("email.hold_failed", error=_why(exc))
            else:
                return {"error": error, "deferred": attrs.evolve(deferred, copied=False)}
        return {"error": error}

    def _sent(self, command: SendEmail, sent: EmailSent | AlreadySent) -> tuple[StatusChange, ...]:
        """The status record of what SES accepted. The email is out whatever happens here:
        a failure is logged and counted, never a retry that would send it again (SES's own
        Send event, where a configuration set publishes events, writes the record anyway)."""
        if not isinstance(sent, EmailSent):
            return ()
        try:
            return tuple(self._tracking.sent(command, sent))
        except Exception as exc:  # noqa: BLE001 - see the docstring
            self._metrics.add("StatusUnrecorded", 1, Unit.COUNT)
            log.error("status.unrecorded", ses_message_id=sent.ses_message_id, error=_why(exc))
            return ()

    def _refused(
        self, request: MessageRequest | None, error: NotifierError
    ) -> tuple[StatusChange, ...]:
        """The `failed` or `suppressed` record of a message refused for good, when its sender
        and idempotency key are known (best effort: the response already says what failed)."""
        refused = refusal_status(error)
        if refused is None or request is None:
            return ()
        key = self._validator.key_of(request)  # only now: it parses the sender again
        if key is None:
            return ()
        status, detail, recipients = refused
        try:
            change = self._tracking.refused(
                Refusal(
                    idempotency_key=key,
                    sender=key.partition("#")[0],
                    tenant=request.tags.get(TENANT_TAG, ""),
                    status=status,
                    detail=detail,
                    recipients=recipients,
                )
            )
        except Exception as exc:  # noqa: BLE001 - see the docstring
            self._metrics.add("StatusUnrecorded", 1, Unit.COUNT)
            log.error("status.unrecorded", error=_why(exc))
            return ()
        return (change,) if change is not None else ()

    def _deadline(self, context: LambdaContext | None) -> float:
        remaining = (
            context.get_remaining_time_in_millis() / 1000
            if context is not None and hasattr(context, "get_remaining_time_in_millis")
            else DEFAULT_TIMEOUT_SECONDS
        )
        return self._clock() + remaining - RESPONSE_RESERVE_SECONDS

    def _flush_metrics(self) -> None:
        try:
            self._metrics.flush()
        except Exception as exc:  # noqa: BLE001 - metrics must never fail the mail they describe
            log.warning(
                "metrics.flush_failed", error_type=type(exc).__name__, error=redact(str(exc))
            )


def _why(error: BaseException) -> str:
    return redact(str(error)) if isinstance(error, NotifierError) else type(error).__name__
