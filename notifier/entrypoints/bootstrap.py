"""The composition root: settings from the environment, real adapters, one `App`.

Tests pass fakes for any port; everything not passed is built here, inside the function,
never at import time.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import datetime

import botocore.session

from notifier.adapters.addresses import EmailValidatorAddresses
from notifier.adapters.outbound.aws import RegionNotSet, aws_session, client
from notifier.adapters.outbound.dynamodb import DynamoDbIdempotencyStore, DynamoDbSuppressionList
from notifier.adapters.outbound.dynamodb.limits import DynamoDbLimitStore
from notifier.adapters.outbound.dynamodb.status import DynamoDbStatusStore
from notifier.adapters.outbound.metrics import CloudWatchApiMetrics, EmfMetrics, NullMetrics
from notifier.adapters.outbound.null_state import NullIdempotencyStore, NullSuppressionList
from notifier.adapters.outbound.pacing import AdaptiveConcurrency
from notifier.adapters.outbound.s3 import S3AttachmentStore
from notifier.adapters.outbound.s3_templates import CachedTemplateStore, S3TemplateStore
from notifier.adapters.outbound.ses import SesMailer
from notifier.adapters.outbound.ses_quota import SesSendQuota
from notifier.adapters.outbound.sns import NullStatusCallbacks, SnsStatusCallbacks
from notifier.adapters.outbound.sqs import NullEmailQueue, SqsEmailQueue, SqsRequeue
from notifier.domain.budget import ByteBudget
from notifier.domain.feedback import FeedbackService
from notifier.domain.limiter import Limiter, NullLimiter, ProducerLimiter
from notifier.domain.model import Priority
from notifier.domain.policy import Policy
from notifier.domain.ports import (
    AddressParser,
    AttachmentStore,
    EmailQueue,
    IdempotencyStore,
    LimitStore,
    Mailer,
    Metrics,
    Requeue,
    SendQuota,
    StatusCallbacks,
    StatusStore,
    SuppressionList,
)
from notifier.domain.service import EmailService, utc_now
from notifier.domain.templates import NoRenderer, NoTemplates, Templates, TemplateStore
from notifier.domain.tracking import NullTracker, StatusService, Tracker
from notifier.domain.validation import Validator
from notifier.entrypoints.app import App
from notifier.entrypoints.http_api import HttpApi
from notifier.entrypoints.logs import configure_logging
from notifier.entrypoints.quota_monitor import NullQuotaMonitor, QuotaMonitor, QuotaWatch
from notifier.entrypoints.settings import MetricsMode, Settings, SettingsError

# GetSendQuota is asked at the start of an invocation: a slow answer must not eat its time.
QUOTA_READ_TIMEOUT_SECONDS = 2.0


def bootstrap(
    settings: Settings | None = None,
    *,
    mailer: Mailer | None = None,
    attachments: AttachmentStore | None = None,
    metrics: Metrics | None = None,
    addresses: AddressParser | None = None,
    idempotency: IdempotencyStore | None = None,
    suppression: SuppressionList | None = None,
    statuses: StatusStore | None = None,
    callbacks: StatusCallbacks | None = None,
    queue: EmailQueue | None = None,
    requeue: Requeue | None = None,
    limits: LimitStore | None = None,
    templates: TemplateStore | None = None,
    send_quota: SendQuota | None = None,
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    configure_logs: bool = True,
) -> App:
    """Build the application; a bad setting raises `SettingsError` with one clear message.

    The SES quota is watched on the account the SES mailer built here sends through: a caller
    that passes its own `mailer` passes `send_quota` too, or the quota is not watched."""
    settings = settings if settings is not None else Settings.from_env()
    if configure_logs:
        configure_logging(settings.log_level)
    session = functools.cache(_aws_session)  # only when a real adapter needs AWS
    pool = settings.send_concurrency  # every send thread may hold a connection of each client
    governor = AdaptiveConcurrency(settings.send_concurrency, clock=monotonic)
    if mailer is None:
        mailer = SesMailer(
            client(session(), "ses", retries=1, pool=pool),
            max_attempts=settings.ses_max_attempts,
            configuration_set=settings.ses_configuration_set,
            clock=monotonic,
            pacing=governor,
        )
        # Its own client, made at the first check: shorter timeouts than a send's.
        send_quota = send_quota or SesSendQuota(
            lambda: client(session(), "ses", retries=1, read_timeout=QUOTA_READ_TIMEOUT_SECONDS)
        )
    if attachments is None:
        # Created on first use: most messages have no attachment, and it saves the cold start.
        attachments = S3AttachmentStore(lambda: client(session(), "s3", retries=3, pool=pool))
    if metrics is None:
        metrics = _metrics(settings, session)
    if addresses is None:
        addresses = EmailValidatorAddresses()
    table = settings.state_table
    dynamodb = functools.cache(lambda: client(session(), "dynamodb", retries=3, pool=pool))
    if table:
        idempotency = idempotency or DynamoDbIdempotencyStore(dynamodb(), table)
        suppression = suppression or DynamoDbSuppressionList(dynamodb(), table)
        statuses = statuses or DynamoDbStatusStore(dynamodb(), table)
        if not settings.producer_limits.empty:
            limits = limits or DynamoDbLimitStore(dynamodb(), table)
    if callbacks is None and settings.status_topic_arn:
        topic = settings.status_topic_arn
        # Created on first use: only a status change publishes.
        callbacks = SnsStatusCallbacks(
            lambda: client(session(), "sns", retries=3, pool=pool), topic
        )
    sqs = functools.cache(lambda: client(session(), "sqs", retries=3, pool=pool))
    if queue is None and settings.queue_url:
        # Created on first use: only the HTTP API's enqueue route sends to the queue.
        queue = SqsEmailQueue(sqs, settings.queue_url, bulk_queue_url=settings.bulk_queue_url)
    if requeue is None:
        # Created on first use: only a message that must wait, or a bulk one on the
        # transactional lane, is put on a queue again.
        lanes = {Priority.TRANSACTIONAL: settings.queue_url, Priority.BULK: settings.bulk_queue_url}
        requeue = SqsRequeue(sqs, lanes)
    # No state table: null objects, so that nothing downstream branches on a missing store.
    idempotency = idempotency or NullIdempotencyStore()
    suppression = suppression or NullSuppressionList()
    queue = queue or NullEmailQueue()
    tracking: Tracker = (
        StatusService(
            store=statuses,
            callbacks=callbacks or NullStatusCallbacks(),
            retention_seconds=settings.status_retention_days * 24 * 3600,
            clock=clock,
        )
        if statuses is not None
        else NullTracker()
    )
    policy = Policy(
        max_recipients=settings.max_recipients,
        max_message_bytes=settings.max_message_bytes,
        allowed_senders=settings.allowed_senders,
        attachment_buckets=frozenset(settings.attachment_buckets),
    )
    limiter: Limiter = NullLimiter()
    if not settings.producer_limits.empty:
        if limits is None:
            raise SettingsError(
                "invalid settings: NOTIFIER_PRODUCER_LIMITS needs NOTIFIER_STATE_TABLE, where"
                " the producers' counts are kept across execution environments"
            )
        limiter = ProducerLimiter(limits, settings.producer_limits)
    service = EmailService(
        mailer=mailer,
        attachments=attachments,
        policy=policy,
        idempotency=idempotency,
        suppression=suppression,
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
        budget=ByteBudget(settings.max_bytes_in_flight),
        limiter=limiter,
        limit_max_wait=settings.limit_max_wait_seconds,
        clock=clock,
    )
    feedback = FeedbackService(
        suppression=suppression,
        tracking=tracking,
        transient_bounce_limit=settings.transient_bounce_limit,
        clock=clock,
    )
    validator = Validator(policy, addresses, _templates(settings, templates, session))
    quota: QuotaWatch = (
        QuotaMonitor(
            send_quota,
            metrics,
            every_seconds=settings.quota_check_seconds,
            concurrency_limit=lambda: governor.limit,
            clock=monotonic,
        )
        if send_quota is not None and settings.quota_check_seconds
        else NullQuotaMonitor()
    )
    return App(
        validator=validator,
        service=service,
        tracking=tracking,
        feedback=feedback,
        http=HttpApi(validator=validator, tracking=tracking, queue=queue, metrics=metrics),
        requeue=requeue,
        max_receive_count=settings.max_receive_count,
        feedback_topics=settings.feedback_topic_arns,
        metrics=metrics,
        quota=quota,
        send_concurrency=settings.send_concurrency,
    )


def _templates(
    settings: Settings,
    store: TemplateStore | None,
    session: Callable[[], botocore.session.Session],
) -> Templates:
    """Templates from NOTIFIER_TEMPLATES (or the store a test passes), read through a cache;
    without either, the null store refuses every templated message."""
    if store is None and settings.templates:
        pool = settings.send_concurrency
        store = S3TemplateStore(
            lambda: client(session(), "s3", retries=3, pool=pool), settings.templates
        )
    if store is None:
        return Templates(NoTemplates(), NoRenderer())
    # Imported only when templates are configured: Jinja2 costs about 45 ms of a cold start.
    from notifier.adapters.rendering import JinjaRenderer

    return Templates(CachedTemplateStore(store), JinjaRenderer())


def _aws_session() -> botocore.session.Session:
    try:
        return aws_session()
    except RegionNotSet as exc:
        raise SettingsError(f"invalid settings: {exc}") from None


def _metrics(settings: Settings, session: Callable[[], botocore.session.Session]) -> Metrics:
    if settings.metrics_mode is MetricsMode.API:
        return CloudWatchApiMetrics(
            client(session(), "cloudwatch", retries=3, pool=settings.send_concurrency),
            settings.metrics_namespace,
        )
    if settings.metrics_mode is MetricsMode.EMF:
        return EmfMetrics(settings.metrics_namespace)
    return NullMetrics()
