"""Fakes for the ports: they record state, tests assert on that state."""

from __future__ import annotations

import email.policy
import itertools
import math
import threading
import time
from collections.abc import Callable, Collection, Sequence
from email.message import EmailMessage
from email.parser import BytesParser

import attrs

from devtools.template_files import MemoryTemplateStore
from notifier.adapters.inbound.message import dump_message
from notifier.adapters.outbound.sqs import SQS_MAX_MESSAGE_BYTES
from notifier.domain.deferral import QueuedMessage
from notifier.domain.errors import (
    AttachmentUnavailable,
    MessageTooLarge,
    NotifierError,
    TransientError,
)
from notifier.domain.model import MessageRequest, Priority
from notifier.domain.ports import Unit
from notifier.domain.quota import Quota
from notifier.domain.state import (
    BucketState,
    IdempotencyRecord,
    RecordStatus,
    Suppression,
    SuppressionReason,
)
from notifier.domain.status import EmailStatus, StatusChange
from notifier.domain.templates import TemplateFiles


@attrs.frozen
class SentRaw:
    raw: bytes
    source: str
    destinations: tuple[str, ...]
    configuration_set: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=email.policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


class FakeMailer:
    """Accepts every message (or raises the queued errors first) and keeps what it sent."""

    def __init__(self, *errors: NotifierError) -> None:
        self.sent: list[SentRaw] = []
        self.errors = list(errors)
        self._ids = itertools.count(1)

    def send_raw(
        self,
        *,
        raw: bytes,
        source: str,
        destinations: tuple[str, ...],
        deadline: float,
        configuration_set: str | None = None,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> str:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(SentRaw(raw, source, destinations, configuration_set, tags))
        return f"fake-ses-{next(self._ids)}"


class ManualClock:
    """Monotonic time that moves only when the test says so (`advance`)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSendQuota:
    """Answers `quota` (SES's sandbox figures unless given), or raises the queued errors first,
    one per read; counts its reads."""

    def __init__(self, quota: Quota | None = None, *errors: Exception) -> None:
        self.quota = quota or Quota(max_24_hour_send=200, max_send_rate=1, sent_last_24_hours=0)
        self.errors = list(errors)
        self.reads = 0

    def read(self) -> Quota:
        self.reads += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.quota


class FakeAttachmentStore:
    """Objects in memory, keyed by (bucket, key); records every read."""

    def __init__(self, objects: dict[tuple[str, str], bytes] | None = None) -> None:
        self.objects = dict(objects or {})
        self.reads: list[tuple[str, str]] = []

    def size(self, bucket: str, key: str) -> int:
        return len(self._get(bucket, key))

    def read(self, bucket: str, key: str) -> bytes:
        self.reads.append((bucket, key))
        return self._get(bucket, key)

    def _get(self, bucket: str, key: str) -> bytes:
        try:
            return self.objects[(bucket, key)]
        except KeyError:
            raise AttachmentUnavailable(key, f"does not exist in bucket {bucket!r}") from None


class FakeMetrics:
    """Keeps every flushed value as (name, value, unit, reason)."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, float, Unit, str | None]] = []
        self.flushed: list[tuple[str, float, Unit, str | None]] = []

    def add(self, name: str, value: float, unit: Unit, *, reason: str | None = None) -> None:
        self.pending.append((name, value, unit, reason))

    def flush(self) -> None:
        self.flushed.extend(self.pending)
        self.pending.clear()

    def total(self, name: str, reason: str | None = None) -> float:
        return sum(
            v for n, v, _u, r in self.flushed if n == name and (reason is None or r == reason)
        )


@attrs.define
class FakeContext:
    """Lambda's context: a request id and the time left."""

    aws_request_id: str = "req-1"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class FakeIdempotencyStore:
    """The conditional-write semantics of the DynamoDB adapter, in a dict."""

    def __init__(self) -> None:
        self.records: dict[str, IdempotencyRecord] = {}

    def claim(self, record: IdempotencyRecord, *, now: float) -> IdempotencyRecord | None:
        existing = self.records.get(record.key)
        if existing is not None and existing.expires_at > now:
            return existing
        self.records[record.key] = record
        return None

    def complete(
        self, key: str, *, payload_hash: str, ses_message_id: str, expires_at: float
    ) -> None:
        # Unconditional, as the adapter's UpdateItem: a record that vanished meanwhile (taken
        # over, then released) is written anew.
        self.records[key] = IdempotencyRecord(
            key=key,
            status=RecordStatus.COMPLETED,
            payload_hash=payload_hash,
            expires_at=expires_at,
            ses_message_id=ses_message_id,
        )

    def release(self, key: str) -> None:
        self.records.pop(key, None)


class FakeSuppressionList:
    """Suppressed addresses and transient bounce times, in memory, keyed lower-case as the
    adapter's items are."""

    def __init__(self, *addresses: str) -> None:
        self.entries_by_address: dict[str, Suppression] = {}
        self.bounces: dict[str, list[float]] = {}
        self.bounce_ids: dict[str, set[str]] = {}
        for address in addresses:
            self.add(Suppression(address=address, reason=SuppressionReason.BOUNCE))

    def suppressed(self, addresses: Collection[str]) -> set[str]:
        return {a for a in addresses if a.lower() in self.entries_by_address}

    def add(self, entry: Suppression) -> bool:
        address = entry.address.lower()
        self.entries_by_address[address] = attrs.evolve(entry, address=address)
        return True

    def remove(self, address: str) -> bool:
        lower = address.lower()
        self.bounces.pop(lower, None)
        return self.entries_by_address.pop(lower, None) is not None

    def entries(self) -> list[Suppression]:
        return sorted(self.entries_by_address.values(), key=lambda e: e.address)

    def count_transient_bounce(
        self, address: str, *, bounce_id: str, at: float, window_seconds: float
    ) -> int:
        # The window includes its start: a bounce exactly `window_seconds` old still counts;
        # a bounce id already counted is not counted again.
        lower = address.lower()
        known = self.bounces.get(lower, [])
        if bounce_id in self.bounce_ids.get(lower, set()):
            return sum(1 for t in known if t >= at - window_seconds)
        self.bounce_ids.setdefault(lower, set()).add(bounce_id)
        kept = [t for t in [*known, at] if t >= at - window_seconds]
        self.bounces[lower] = kept
        return len(kept)


class FakeStatusStore:
    """Status records in memory, with the DynamoDB adapter's semantics: a write succeeds only
    over the version just before it (over nothing, or an expired record, for version 1); a
    record, a key's link and a refused record expire at their `expires_at` rounded up to the
    whole second (the adapter's `ttl`), read on `clock`. Queued `errors` are raised by the
    next writes, first first."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.records: dict[str, EmailStatus] = {}  # by SES message id, expired ones included
        self.keys: dict[str, tuple[str | EmailStatus, float]] = {}  # key -> (id or record, expiry)
        self.writes: list[EmailStatus] = []  # every write that succeeded, in order
        self.errors: list[NotifierError] = []
        self.clock = clock

    def read(self, ses_message_id: str) -> EmailStatus | None:
        record = self.records.get(ses_message_id)
        return record if record is not None and self._live(record.expires_at) else None

    def write(self, record: EmailStatus) -> bool:
        if self.errors:
            raise self.errors.pop(0)
        stored = self.records.get(record.ses_message_id)
        if record.version == 1:
            free = stored is None or not self._live(stored.expires_at)
        else:
            free = stored is not None and stored.version == record.version - 1
        if not free:
            return False
        self.records[record.ses_message_id] = record
        self.writes.append(record)
        return True

    def link(self, idempotency_key: str, ses_message_id: str, *, expires_at: float) -> None:
        self.keys[idempotency_key] = (ses_message_id, expires_at)

    def keep_refused(self, record: EmailStatus) -> None:
        self.keys[record.idempotency_key] = (record, record.expires_at)

    def find(self, idempotency_key: str) -> EmailStatus | None:
        entry = self.keys.get(idempotency_key)
        if entry is None or not self._live(entry[1]):
            return None
        target = entry[0]
        return self.read(target) if isinstance(target, str) else target

    def _live(self, expires_at: float) -> bool:
        return math.ceil(expires_at) > self.clock()


class FakeLimitStore:
    """Producers' buckets in memory, with the DynamoDB adapter's conditional write (over the
    version just before, or over nothing for version 1); safe to share between threads, as
    the adapter's table is shared between environments. Counts the writes it refused."""

    def __init__(self) -> None:
        self.buckets: dict[str, BucketState] = {}
        self.lost = 0  # writes refused because another writer got there first
        self._lock = threading.Lock()

    def read(self, producer: str) -> BucketState | None:
        with self._lock:
            return self.buckets.get(producer)

    def write(self, producer: str, state: BucketState) -> bool:
        with self._lock:
            stored = self.buckets.get(producer)
            expected = None if stored is None else stored.version
            if expected != (None if state.version == 1 else state.version - 1):
                self.lost += 1
                return False
            self.buckets[producer] = state
            return True


class FakeStatusCallbacks:
    """Keeps every published (record, change); raises the queued errors first, one per call
    (a `TransientError`, as the SNS adapter raises when a callback could not be published)."""

    def __init__(self, *errors: TransientError) -> None:
        self.published: list[tuple[EmailStatus, StatusChange]] = []
        self.errors = list(errors)

    def publish(self, record: EmailStatus, changes: Sequence[StatusChange]) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.published.extend((record, change) for change in changes)

    @property
    def statuses(self) -> list[str]:
        """The status of each published change, in order."""
        return [change.status for _record, change in self.published]


class FakeEmailQueue:
    """Keeps every queued message body (the JSON the SQS adapter sends) in order; raises the
    queued errors first, one per call; refuses what SQS could not hold, as the adapter does."""

    def __init__(self, *errors: Exception) -> None:
        self.bodies: list[str] = []
        self.errors = list(errors)

    def enqueue(self, request: MessageRequest) -> str:
        if self.errors:
            raise self.errors.pop(0)
        body = dump_message(request)
        if len(body.encode("utf-8", "surrogatepass")) > SQS_MAX_MESSAGE_BYTES:
            raise MessageTooLarge.one("(body)", "is over what a queue message may hold")
        self.bodies.append(body)
        return f"fake-sqs-{len(self.bodies)}"


class FakeTemplateStore:
    """Template files in memory, in the S3 layout (`NAME/template.json`,
    `NAME/LOCALE/subject.txt`...); records each fetch."""

    def __init__(self, files: dict[str, str] | None = None) -> None:
        self._store = (
            MemoryTemplateStore(files)
            if files is not None
            else MemoryTemplateStore.from_directory()
        )
        self.fetches: list[tuple[str, str]] = []

    @property
    def files(self) -> dict[str, str]:
        return self._store.files

    def default_locale(self, name: str) -> str | None:
        return self._store.default_locale(name)

    def fetch(self, name: str, locale: str) -> TemplateFiles | None:
        self.fetches.append((name, locale))
        return self._store.fetch(name, locale)


class FakeRequeue:
    """Keeps what would go on a queue again: copies put back (with their delay and count of
    deferrals), forwards to another lane, originals held back; raises the queued errors first,
    one per `put_back`/`forward`. `lanes` maps a queue ARN to its lane."""

    def __init__(
        self, lanes: dict[str, Priority] | None = None, *errors: Exception, configured: bool = True
    ) -> None:
        self.lanes = lanes if lanes is not None else {}
        self.configured = configured
        self.errors = list(errors)
        self.put: list[tuple[QueuedMessage, Priority, int, int]] = []
        self.forwarded: list[tuple[QueuedMessage, Priority]] = []
        self.held: list[tuple[QueuedMessage, int]] = []
        self.failures: list[int] = []  # the real failures each copy carries

    def lane_of(self, message: QueuedMessage) -> Priority | None:
        return self.lanes.get(message.source_arn)

    def has_lane(self, lane: Priority) -> bool:
        return self.configured

    def put_back(
        self,
        message: QueuedMessage,
        *,
        lane: Priority,
        delay_seconds: int,
        deferrals: int,
        failures: int,
    ) -> str:
        if self.errors:
            raise self.errors.pop(0)
        self.put.append((message, lane, delay_seconds, deferrals))
        self.failures.append(failures)
        return f"fake-copy-{len(self.put) + len(self.forwarded)}"

    def forward(self, message: QueuedMessage, *, lane: Priority) -> str:
        if self.errors:
            raise self.errors.pop(0)
        self.forwarded.append((message, lane))
        return f"fake-copy-{len(self.put) + len(self.forwarded)}"

    def hold(self, message: QueuedMessage, *, delay_seconds: int) -> None:
        self.held.append((message, delay_seconds))
