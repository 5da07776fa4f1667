"""Fuzzing the handler: whatever event arrives, the response keeps its contract.

The app is the real composition root with the fakes (tests/unit/conftest.py); hypothesis
builds the events. Every message starts as the valid sample and has some fields replaced by
hostile values (wrong JSON types, line breaks, NUL, lone surrogates, encoded words, huge
strings, several addresses in one) or dropped; SQS bodies are also non-JSON, invalid UTF-8
(as Lambda hands it over: a `str` with surrogate escapes), deeply nested or SNS envelopes.

Properties checked on every example:
- SQS: a `batchItemFailures` naming only the batch's own records (the empty id only for a
  record without a usable `messageId`), every record either sent or reported, never raises;
- direct: a `statusCode` in {200, 400, 409, 422, 500, 503}, and with these fakes never 500;
- SNS: returns with every record processed, or raises `RecordsFailed` for those that were not;
- anything not sent got nothing to SES; every response survives Lambda's marshalling;
- no log line holds a full address, a body or attachment bytes.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from notifier.entrypoints.app import App, RecordsFailed
from tests.fakes import FakeAttachmentStore, FakeContext, FakeMailer
from tests.unit.conftest import seed_message
from tests.unit.test_injection import leaked

EVENTS = Path(__file__).parent.parent / "events"
SQS_RECORD = json.loads((EVENTS / "sqs.json").read_text(encoding="utf-8"))["Records"][0]
SNS_RECORD = json.loads((EVENTS / "sns.json").read_text(encoding="utf-8"))["Records"][0]
TOPIC_ARN = SNS_RECORD["Sns"]["TopicArn"]

# Planted in address fields only, bodies and the attachment: none may reach a log in full.
PLANTED = ("alice.martin@example.com", "bob.dupont@example.org", "c.durand+factures@example.net")
# Address forms the log redaction is known to miss (see test_injection's privacy cases).
EXOTIC = ('"alice martin"@example.com', "alice@[192.0.2.7]")
BODY_MARKER = "corps-confidentiel-7f3a"
BUCKET = "acube-invoices"
ATTACHMENT_KEY = "invoices/confidentiel.pdf"
ATTACHMENT = b"%PDF-1.4 piece-jointe-confidentielle-91c2"
SECRETS = (
    *PLANTED,
    "user@example.com",
    "noreply@acubeapi.com",
    BODY_MARKER,
    ATTACHMENT.decode(),
    base64.b64encode(ATTACHMENT).decode(),
)
DIRECT_STATUSES = {200, 400, 409, 422, 500, 503}  # 409: an idempotency key reused
LAMBDA_MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # synchronous invocation payload limit

# One app per test, reused by every example (each example resets the fakes it reads):
# building one per example would leave a thread pool behind each time.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- strategies ---------------------------------------------------------------------------

HOSTILE_PIECES = st.sampled_from(
    [
        "\r", "\n", "\r\n", "\x00", "\t", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028",
        "\u2029", "\ufeff", "\u202e", "\ud800", "\udfff", "=?utf-8?q?", "=0D=0A", "?=", "<",
        ">", ",", ";", ":", '"', "\\", "@", "Bcc: ", "é", "中", "😀", " ", "..", "[", "]",
    ]
)  # fmt: skip
lone_surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=4)
surrogate_escaped = st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape"))
# Huge ASCII only: a huge non-ASCII address is the dedicated timing test below.
huge_ascii = st.tuples(
    st.sampled_from([998, 999, 5_000, 70_000, 300_000]), st.sampled_from(["x", "@", " ", "a."])
).map(lambda t: t[1] * t[0])
hostile_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(st.text(max_size=6), HOSTILE_PIECES), max_size=8).map("".join),
    lone_surrogates,
    surrogate_escaped,
    huge_ascii,
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), hostile_text)
json_keys = st.one_of(
    st.sampled_from(["recipient", "to", "from", "body", "Subject", "", "\ud800"]),
    # Optional fields the sample leaves out: any JSON value for them.
    st.sampled_from(["idempotency_key", "configuration_set", "tags", "list_unsubscribe"]),
    st.text(max_size=10),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(json_keys, inner, max_size=3),
    max_leaves=8,
)


def nested(depth: int) -> list[Any]:
    """A list nested `depth` deep, built without recursion."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


# Lambda decodes the payload with a recursive JSON decoder (Python's limit, about 1,000
# levels): no deeper object reaches the handler. Deeper *text* is in the SQS bodies below.
deep_values = st.integers(min_value=1, max_value=500).map(nested)
wrong_types = st.one_of(json_values, deep_values)


def _join(parts: tuple[str, str, str]) -> str:
    return parts[1].join((parts[0], parts[2]))


planted = st.sampled_from(PLANTED)
addresses = st.one_of(
    planted,
    planted.map(lambda a: f"Alice Martin <{a}>"),
    st.tuples(planted, hostile_text).map(lambda t: f'"{t[1]}" <{t[0]}>'),
    st.tuples(planted, hostile_text).map(lambda t: f"{t[1]} <{t[0]}>"),
    st.tuples(planted, hostile_text).map(lambda t: t[0] + t[1]),
    st.tuples(
        planted, st.sampled_from([", ", ";", "\r\nBcc: ", " ", "> <", "\u2028"]), planted
    ).map(_join),
    hostile_text,
)
address_lists = st.one_of(
    st.lists(addresses, max_size=4),
    st.lists(  # around the 50-recipient limit
        st.integers(min_value=0, max_value=999).map(lambda i: f"client.{i}@example.com"),
        min_size=49,
        max_size=55,
        unique=True,
    ),
    wrong_types,
)
bodies = st.one_of(
    st.just(f"Votre facture est prête. {BODY_MARKER}"),
    hostile_text.map(lambda t: f"{BODY_MARKER} {t}"),
    st.sampled_from([10_000, 1_000_000]).map(lambda n: BODY_MARKER + "é" * n),
    st.sampled_from(["", "   ", None]),
    wrong_types,
)
attachment_items = st.one_of(
    st.fixed_dictionaries(
        {"key": st.one_of(st.sampled_from([ATTACHMENT_KEY, "missing.pdf", "", "/"]), hostile_text)},
        optional={
            "filename": st.one_of(st.just("facture.pdf"), hostile_text, wrong_types),
            "content_type": st.one_of(
                st.sampled_from(["application/pdf", "multipart/mixed", "text/html"]),
                hostile_text,
                wrong_types,
            ),
            "extra": json_values,
        },
    ),
    wrong_types,
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "sender": st.one_of(st.just("noreply@acubeapi.com"), addresses, wrong_types),
    "recipients": address_lists,
    "cc": address_lists,
    "bcc": address_lists,
    "reply_to": address_lists,
    "subject": st.one_of(hostile_text, st.just("é" * 999), wrong_types),
    "text_content": bodies,
    "html_content": bodies,
    "bucket_name": st.one_of(st.sampled_from([BUCKET, "other-bucket", ""]), hostile_text),
    "attachments": st.one_of(st.lists(attachment_items, max_size=3), wrong_types),
}
_DROP = object()


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """The valid sample message with a few fields replaced by hostile values or dropped."""
    message = seed_message(
        recipients=["user@example.com"],
        text_content=f"Votre facture est prête. {BODY_MARKER}",
        html_content=f"<p>{BODY_MARKER}</p>",
    )
    for field in draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=4)):
        value = draw(st.one_of(st.just(_DROP), FIELDS[field]))
        if value is _DROP:
            message.pop(field, None)
        else:
            message[field] = value
    extra = draw(
        st.dictionaries(json_keys.filter(lambda k: k != "Records"), json_values, max_size=2)
    )
    return {**message, **extra}


def _to_json(message: dict[str, Any], ascii_only: bool) -> str:
    return json.dumps(message, ensure_ascii=ascii_only)


def _deep_body(depth: int, shape: str) -> str:
    if shape == "list":
        return "[" * depth + "]" * depth
    if shape == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return '{"recipients":' + "[" * depth + "]" * depth + "}"


message_bodies = st.builds(_to_json, messages(), st.booleans())
raw_bodies = st.one_of(
    message_bodies,
    message_bodies.map(
        lambda body: json.dumps({"Type": "Notification", "TopicArn": TOPIC_ARN, "Message": body})
    ),
    hostile_text,
    surrogate_escaped,
    st.builds(
        _deep_body,
        st.integers(min_value=1, max_value=200_000),
        st.sampled_from(["list", "object", "field"]),
    ),
    st.sampled_from(
        ["", "null", "NaN", "[1e999]", "1" * 5_000, '"\\ud800"', '{"sender": "\\udc80"}', "{}"]
    ),
    st.just("x" * 262_144),  # SQS's largest body
)

# How a record can be broken; None (most often) leaves it intact.
FLAWS = (None, None, None, None, "no-id", "empty-id", "number-id", "no-body", "number-body")
FLAWS_MAKING_NON_SQS = ("other-source", "sns-record", "not-an-object")
FAILING_FLAWS = {"no-body", "number-body", *FLAWS_MAKING_NON_SQS}


def flawed(record: dict[str, Any], flaw: str | None) -> Any:
    """The record with one flaw applied."""
    match flaw:
        case "no-id":
            return {k: v for k, v in record.items() if k != "messageId"}
        case "empty-id":
            return {**record, "messageId": ""}
        case "number-id":
            return {**record, "messageId": 42}
        case "no-body":
            return {k: v for k, v in record.items() if k != "body"}
        case "number-body":
            return {**record, "body": 42}
        case "other-source":
            return {**record, "eventSource": "aws:kinesis"}
        case "sns-record":
            return SNS_RECORD
        case "not-an-object":
            return ["not", "a", "record"]
    return record


@st.composite
def sqs_batches(draw: st.DrawFn) -> tuple[list[Any], list[str | None]]:
    """Up to 10 records (the first always SQS-shaped, so the event is an SQS batch) and the
    flaw of each."""
    records, flaws = [], []
    for index in range(draw(st.integers(min_value=1, max_value=10))):
        record = {**SQS_RECORD, "messageId": f"msg-{index}", "body": draw(raw_bodies)}
        choices = FLAWS if index == 0 else FLAWS + FLAWS_MAKING_NON_SQS
        flaw = draw(st.sampled_from(choices))
        records.append(flawed(record, flaw))
        flaws.append(flaw)
    return records, flaws


def usable_id(record: Any) -> str:
    """What the batch response may call this record: its messageId, or "" if it has none."""
    value = record.get("messageId") if isinstance(record, dict) else None
    return value if isinstance(value, str) else ""


def lambda_wire(response: Any) -> bytes:
    """The response as Lambda's Python 3.12 runtime sends it: JSON with ensure_ascii=False
    (awslambdaric's marshaller), encoded as UTF-8."""
    return json.dumps(response, ensure_ascii=False).encode("utf-8")


def add_attachment(store: FakeAttachmentStore) -> None:
    store.objects[(BUCKET, ATTACHMENT_KEY)] = ATTACHMENT


# --- properties ---------------------------------------------------------------------------


@FUZZ
@given(batch=sqs_batches())
def test_an_sqs_batch_reports_only_its_own_records_and_never_raises(
    app: App, mailer: FakeMailer, store: FakeAttachmentStore, batch: tuple[list[Any], list[Any]]
) -> None:
    """Every record is either sent or named in batchItemFailures, by its own messageId, or by
    the empty id when it has none (Lambda then fails the whole batch, deleting nothing)."""
    records, flaws = batch
    mailer.sent.clear()
    add_attachment(store)
    with capture_logs() as logs:
        response = app.handle({"Records": records}, FakeContext())

    assert set(response) == {"batchItemFailures"}
    failures = response["batchItemFailures"]
    assert all(set(item) == {"itemIdentifier"} for item in failures)
    ids = [item["itemIdentifier"] for item in failures]
    allowed = {usable_id(record) for record in records}
    assert set(ids) <= allowed, f"ids not in the batch: {set(ids) - allowed}"
    named = [i for i in ids if i]
    assert len(named) == len(set(named)), "a record reported twice"
    assert len(ids) + len(mailer.sent) == len(records), "a record neither sent nor reported"
    for record, flaw in zip(records, flaws, strict=True):
        if flaw in FAILING_FLAWS:
            assert usable_id(record) in ids
    assert len(lambda_wire(response)) < LAMBDA_MAX_RESPONSE_BYTES
    assert leaked(logs, SECRETS) == set()


@FUZZ
@given(event=st.one_of(messages(), json_values.filter(lambda v: not isinstance(v, dict))))
def test_a_direct_invocation_always_gets_a_status_never_a_traceback(
    app: App, mailer: FakeMailer, store: FakeAttachmentStore, event: Any
) -> None:
    """A status in {200, 400, 409, 422, 500, 503}; nothing sent unless 200; field-level
    errors otherwise. With fakes that never fail, hostile input is a 400, never a 500 (a bug)."""
    mailer.sent.clear()
    add_attachment(store)
    with capture_logs() as logs:
        response = app.handle(event, FakeContext())

    status = response["statusCode"]
    assert status in DIRECT_STATUSES
    if status == 200:
        assert set(response) <= {"statusCode", "messageId", "duplicate"}
        assert len(mailer.sent) == 1
    else:
        assert set(response) == {"statusCode", "errors"}
        assert mailer.sent == []
        assert response["errors"]
        for error in response["errors"]:
            assert isinstance(error["message"], str)
            assert error["message"]
            assert error["field"] is None or isinstance(error["field"], str)
    assert status != 500, f"hostile input ended as an internal error: {logs!r}"
    assert len(lambda_wire(response)) < LAMBDA_MAX_RESPONSE_BYTES
    assert leaked(logs, SECRETS) == set()


sns_messages = st.one_of(message_bodies, hostile_text, surrogate_escaped, wrong_types)


@st.composite
def sns_events(draw: st.DrawFn) -> dict[str, Any]:
    records = []
    for index in range(draw(st.integers(min_value=1, max_value=5))):
        sns = {**SNS_RECORD["Sns"], "MessageId": f"sns-{index}", "Message": draw(sns_messages)}
        flaw = draw(st.sampled_from([None, None, "no-id", "no-sns", "sns-not-object"]))
        if flaw == "no-id":
            del sns["MessageId"]
        record = {**SNS_RECORD, "Sns": sns}
        if flaw == "no-sns":
            del record["Sns"]
        elif flaw == "sns-not-object":
            record["Sns"] = draw(json_scalars)
        records.append(record)
    return {"Records": records}


@FUZZ
@given(event=sns_events())
def test_an_sns_event_either_returns_or_raises_records_failed(
    app: App, mailer: FakeMailer, event: dict[str, Any]
) -> None:
    """All sent: it returns. Any record not sent: `RecordsFailed` counting exactly those, so
    Lambda retries the event; no other exception escapes."""
    mailer.sent.clear()
    total = len(event["Records"])
    failure: RecordsFailed | None = None
    with capture_logs() as logs:
        try:
            response = app.handle(event, FakeContext())
        except RecordsFailed as exc:
            failure = exc

    if failure is None:
        assert response == {"processed": total}
        assert len(mailer.sent) == total
    else:
        failed = re.match(r"(\d+) SNS record", str(failure))
        assert failed is not None, str(failure)
        assert int(failed[1]) == total - len(mailer.sent) > 0
    assert leaked(logs, SECRETS) == set()


unknown_events = st.one_of(
    json_values.filter(lambda v: not isinstance(v, dict)),
    st.fixed_dictionaries({"Records": st.one_of(st.just([]), json_scalars)}),
    st.fixed_dictionaries(
        {
            "Records": st.lists(
                st.one_of(
                    st.fixed_dictionaries(
                        {
                            "eventSource": st.one_of(
                                st.sampled_from(["aws:kinesis", "aws:s3", "AWS:SQS", "", "sqs"]),
                                json_values,
                            ),
                            "body": message_bodies,
                        }
                    ),
                    json_scalars,
                ),
                min_size=1,
                max_size=4,
            )
        }
    ),
    # SNS records mixed with records from another source are not an SNS event.
    st.lists(
        st.fixed_dictionaries(
            {"EventSource": st.one_of(st.sampled_from(["aws:s3", "aws:kinesis", ""]), json_values)}
        ),
        min_size=1,
        max_size=3,
    ).map(lambda others: {"Records": [SNS_RECORD, *others]}),
)


@FUZZ
@given(event=unknown_events)
def test_an_event_of_no_known_shape_is_a_400(app: App, mailer: FakeMailer, event: Any) -> None:
    """Not a message, not an SQS batch, not an SNS notification: 400, nothing sent."""
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list) and any(
        isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records
    ):
        return  # json_values drew a real SQS record: the SQS test covers those
    mailer.sent.clear()
    with capture_logs():
        response = app.handle(event, FakeContext())
    assert response["statusCode"] == 400, response
    assert mailer.sent == []
    lambda_wire(response)


@pytest.mark.parametrize("dressing", ["{}", "Alice <{}>", '"Alice" <{}>', "{}é", "x{}", "{}\x00"])
@pytest.mark.parametrize("address", PLANTED + EXOTIC)
def test_no_address_form_reaches_the_logs_in_full(app: App, address: str, dressing: str) -> None:
    """Every address form, valid or refused, bare or dressed, in any address field, is masked
    in every log line."""
    value = dressing.format(address)
    for field in ("sender", "recipients", "cc", "bcc", "reply_to"):
        with capture_logs() as logs:
            app.handle(
                seed_message(**{field: value if field == "sender" else [value]}), FakeContext()
            )
        assert leaked(logs, [address]) == set(), f"{address!r} in {field}: {logs!r}"


# --- examples the properties rest on ------------------------------------------------------


def handled(app: App, event: Any) -> Any:
    """The response, with the logs captured (and so neither printed nor rendered)."""
    with capture_logs():
        return app.handle(event, FakeContext())


def test_a_record_without_a_usable_message_id_fails_the_whole_batch(
    app: App, mailer: FakeMailer
) -> None:
    """GIVEN a batch with a valid record and a broken one that has no messageId
    THEN the valid one is sent and the broken one is reported with the empty id, which Lambda
    reads as "the whole batch failed": nothing is deleted, the valid record comes back too."""
    good = {**SQS_RECORD, "messageId": "good", "body": json.dumps(seed_message())}
    broken = {k: v for k, v in SQS_RECORD.items() if k != "messageId"} | {"body": "{"}
    response = handled(app, {"Records": [good, broken]})
    assert response == {"batchItemFailures": [{"itemIdentifier": ""}]}
    assert len(mailer.sent) == 1


def test_invalid_utf8_in_an_sqs_body_is_a_failed_record(app: App, mailer: FakeMailer) -> None:
    """Bytes that are not UTF-8 reach the handler as surrogate escapes: reported, not sent."""
    body = json.dumps(seed_message(subject="Facture \udcff\udcfe"), ensure_ascii=False)
    record = {**SQS_RECORD, "messageId": "bad-utf8", "body": body}
    response = handled(app, {"Records": [record]})
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad-utf8"}]}
    assert mailer.sent == []


@pytest.mark.parametrize(
    "source", [["aws:sqs"], {"source": "aws:sqs"}], ids=["list-source", "object-source"]
)
def test_a_records_event_with_a_non_text_source_is_a_400(app: App, source: Any) -> None:
    """A direct invocation can carry any JSON under `Records`: an event source that is a list
    or an object is an unknown shape (400), not a TypeError escaping the handler."""
    response = handled(app, {"Records": [{"eventSource": source}]})
    assert response["statusCode"] == 400


def test_a_field_name_that_is_not_unicode_still_gets_a_sendable_400(app: App) -> None:
    """JSON may escape a lone surrogate in a key ("\\ud800"); Lambda decodes it as such. The
    400 naming that unknown field must still survive Lambda's UTF-8 marshalling."""
    response = handled(app, seed_message(**{"\ud800": 1}))
    assert response["statusCode"] == 400
    lambda_wire(response)


def test_the_response_to_a_huge_invalid_message_fits_lambdas_payload_limit(app: App) -> None:
    """400 KB of empty recipients (a direct payload may be 6 MB): the 400 that lists the
    problems must stay under Lambda's 6 MB response limit, or the caller gets no answer."""
    response = handled(app, seed_message(recipients=[""] * 100_000))
    assert response["statusCode"] == 400
    assert len(lambda_wire(response)) < LAMBDA_MAX_RESPONSE_BYTES


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recipients", ["é" * 12_000]),
        ("sender", "é" * 12_000),
        ("cc", ["Zoé " * 3_000 + "<a@example.com"]),
    ],
    ids=["recipient", "sender", "cc-unclosed-name"],
)
def test_a_huge_non_ascii_address_is_refused_quickly(app: App, field: str, value: Any) -> None:
    """12,000 characters are refused in well under half a second. (A 256 KiB SQS body holds
    ten times more: anything quadratic then outlives the function's timeout, and takes the
    whole batch with it, on every retry.)"""
    response, seconds = timed(lambda: handled(app, seed_message(**{field: value})))
    assert response["statusCode"] == 400
    assert seconds < 0.5, f"{seconds:.1f} s to refuse one address"


def test_a_huge_unknown_field_name_is_refused_quickly(app: App) -> None:
    """An unknown field named by 25,000 characters is refused (and logged) in well under half
    a second; the same key at SQS's 256 KiB would otherwise take minutes."""
    response, seconds = timed(lambda: handled(app, seed_message(**{"k" * 25_000: 1})))
    assert response["statusCode"] == 400
    assert seconds < 0.5, f"{seconds:.1f} s to refuse one unknown field"
