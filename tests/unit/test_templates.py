"""Templated messages through the real `bootstrap()`, with a FakeTemplateStore holding the
repository's sample templates (devtools/templates): rendering, locale fallback, the errors
producers see, and the validation a rendered message goes through like any other."""

from __future__ import annotations

import email.policy
from collections.abc import Callable
from email.parser import BytesParser
from typing import Any

import pytest
from structlog.testing import capture_logs

from notifier.adapters.outbound.s3_templates import CachedTemplateStore
from notifier.adapters.rendering import JinjaRenderer
from notifier.domain.templates import TemplateFiles, candidates
from notifier.entrypoints.app import App
from tests.fakes import FakeContext, FakeMailer, FakeStatusStore, FakeTemplateStore
from tests.unit.api_support import Api

DATA = {
    "customer_name": "Ada Lovelace",
    "invoice_number": "FA-2026-0042",
    "amount": "1 234,56 €",
    "due_date": "2026-12-31",
    "download_url": "https://example.com/invoices/FA-2026-0042.pdf",
}


def templated(**changes: Any) -> dict[str, Any]:
    return {
        "sender": "noreply@acubeapi.com",
        "recipients": ["user@example.com"],
        "template": "invoice-ready",
        "locale": "fr-FR",
        "data": DATA,
        **changes,
    }


def parsed(mailer: FakeMailer) -> Any:
    (sent,) = mailer.sent
    return BytesParser(policy=email.policy.default).parsebytes(sent.raw)


@pytest.fixture
def store() -> FakeTemplateStore:
    return FakeTemplateStore()


@pytest.fixture
def app(make_app: Callable[..., App], store: FakeTemplateStore) -> App:
    return make_app(templates=store)


def test_a_templated_message_is_sent_rendered_in_its_locale(app: App, mailer: FakeMailer) -> None:
    """GIVEN invoice-ready in fr WHEN a message asks for fr-FR THEN the French subject, text
    and HTML are sent, rendered with the data."""
    response = app.handle(templated(), FakeContext())

    assert response["statusCode"] == 200
    message = parsed(mailer)
    assert message["Subject"] == "Votre facture FA-2026-0042 est prête"
    assert "Bonjour Ada Lovelace," in message.get_body(("plain",)).get_content()
    assert "<strong>FA-2026-0042</strong>" in message.get_body(("html",)).get_content()


def test_an_unknown_locale_falls_back_to_the_template_s_default(
    app: App, mailer: FakeMailer, store: FakeTemplateStore
) -> None:
    """GIVEN invoice-ready with fr and en, default en WHEN de-DE is asked THEN de-DE, de, then
    en are tried, and the English email is sent; its text part is derived from the HTML (the
    en locale has no text.txt)."""
    app.handle(templated(locale="de-DE"), FakeContext())

    assert store.fetches == [("invoice-ready", "de-DE"), ("invoice-ready", "de"),
                             ("invoice-ready", "en")]  # fmt: skip
    message = parsed(mailer)
    assert message["Subject"] == "Your invoice FA-2026-0042 is ready"
    text = message.get_body(("plain",)).get_content()
    assert "Hello Ada Lovelace," in text
    assert "<" not in text


def test_locale_candidates_shorten_the_tag() -> None:
    """fr-FR -> fr-FR, fr; zh-Hant-TW -> zh-Hant-TW, zh-Hant, zh; nothing without a locale."""
    assert list(candidates("fr-FR")) == ["fr-FR", "fr"]
    assert list(candidates("zh-Hant-TW")) == ["zh-Hant-TW", "zh-Hant", "zh"]
    assert list(candidates(None)) == []


def test_a_missing_variable_is_a_400_on_data_name_and_nothing_is_sent(
    app: App, mailer: FakeMailer
) -> None:
    """GIVEN data without invoice_number WHEN sent THEN 400 on `data.invoice_number` naming the
    template, and nothing sent."""
    data = {k: v for k, v in DATA.items() if k != "invoice_number"}

    response = app.handle(templated(data=data), FakeContext())

    assert response["statusCode"] == 400
    (error,) = response["errors"]
    assert error["field"] == "data.invoice_number"
    assert "invoice-ready/fr@" in error["message"]
    assert mailer.sent == []


def test_an_unknown_template_is_a_400_on_template(app: App, mailer: FakeMailer) -> None:
    """An unknown name is a 400 on `template` naming it."""
    response = app.handle(templated(template="no-such"), FakeContext())

    assert response["statusCode"] == 400
    assert response["errors"] == [{"field": "template", "message": "no template named 'no-such'"}]
    assert mailer.sent == []


def test_a_template_error_is_a_400_on_template(
    app: App, mailer: FakeMailer, store: FakeTemplateStore
) -> None:
    """GIVEN a template with a syntax error, and one reaching for Python internals WHEN used
    THEN each is a 400 on `template`: the sandbox refuses the second."""
    store.files["broken/template.json"] = '{"default_locale": "en"}'
    store.files["broken/en/subject.txt"] = "Hello {{ name"
    store.files["sneaky/template.json"] = '{"default_locale": "en"}'
    store.files["sneaky/en/subject.txt"] = "{{ name.__class__.__mro__ }}"

    for name in ("broken", "sneaky"):
        response = app.handle(templated(template=name, data={"name": "x"}), FakeContext())
        assert response["statusCode"] == 400, name
        assert [e["field"] for e in response["errors"]] == ["template"]
    assert mailer.sent == []


def test_both_forms_at_once_are_a_400_naming_each_field(app: App, mailer: FakeMailer) -> None:
    """template with subject and html_content: a 400 on each of the two."""
    response = app.handle(templated(subject="Hi", html_content="<p>x</p>"), FakeContext())

    assert response["statusCode"] == 400
    assert [e["field"] for e in response["errors"]] == ["subject", "html_content"]
    assert mailer.sent == []


def test_without_template_nor_subject_the_subject_is_required(app: App) -> None:
    """A message with neither form names `subject`; `data` without template is refused."""
    response = app.handle(
        {"sender": "noreply@acubeapi.com", "recipients": ["u@example.com"], "data": {"a": 1}},
        FakeContext(),
    )

    assert response["statusCode"] == 400
    assert {e["field"] for e in response["errors"]} >= {"subject", "data"}


def test_without_a_template_store_a_templated_message_says_templates_are_not_configured(
    make_app: Callable[..., App], mailer: FakeMailer
) -> None:
    """GIVEN no NOTIFIER_TEMPLATES (the null store) WHEN a templated message comes THEN 400 on
    `template` saying so."""
    response = make_app().handle(templated(), FakeContext())

    assert response["statusCode"] == 400
    (error,) = response["errors"]
    assert error["field"] == "template"
    assert "not configured" in error["message"]
    assert mailer.sent == []


def test_data_cannot_inject_a_header_through_the_subject(app: App, mailer: FakeMailer) -> None:
    """GIVEN CR/LF and a Bcc header in a value the subject uses WHEN sent THEN the parsed raw
    email has one subject line, no Bcc header, and only the recipient as destination."""
    data = {**DATA, "invoice_number": "42\r\nBcc: attacker@evil.example\r\nX-Injected: yes"}

    response = app.handle(templated(data=data), FakeContext())

    assert response["statusCode"] == 200
    message = parsed(mailer)
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert "\n" not in message["Subject"]
    assert message["Subject"].startswith("Votre facture 42 Bcc: attacker@evil.example")
    assert mailer.sent[0].destinations == ("user@example.com",)


def test_data_is_escaped_in_the_html_part_only(app: App, mailer: FakeMailer) -> None:
    """Autoescape is on for HTML only: markup in data is text in the HTML, kept as is in the
    plain text part."""
    app.handle(templated(data={**DATA, "customer_name": "<b>Ada</b>"}), FakeContext())

    message = parsed(mailer)
    assert "&lt;b&gt;Ada&lt;/b&gt;" in message.get_body(("html",)).get_content()
    assert "Bonjour <b>Ada</b>," in message.get_body(("plain",)).get_content()


def test_a_rendered_message_goes_through_the_same_validation(
    app: App, mailer: FakeMailer, store: FakeTemplateStore
) -> None:
    """A template whose subject renders empty, or over 998 characters, is refused as a
    hand-written subject would be; so is a bad recipient."""
    store.files["empty/template.json"] = '{"default_locale": "en"}'
    store.files["empty/en/subject.txt"] = "{{ s }}"
    store.files["empty/en/text.txt"] = "body"

    assert app.handle(templated(template="empty", data={"s": " "}), FakeContext())["errors"] == [
        {"field": "subject", "message": "must not be empty"}
    ]
    long = app.handle(templated(template="empty", data={"s": "x" * 999}), FakeContext())
    assert [e["field"] for e in long["errors"]] == ["subject"]
    bad = app.handle(templated(recipients=["not an address"]), FakeContext())
    assert [e["field"] for e in bad["errors"]] == ["recipients[0]"]
    assert mailer.sent == []


def test_the_template_version_is_logged_and_kept_in_the_status_record(
    make_app: Callable[..., App], store: FakeTemplateStore
) -> None:
    """The canonical line and the status record carry NAME/LOCALE@digest."""
    statuses = FakeStatusStore()
    app = make_app(templates=store, statuses=statuses)

    with capture_logs() as logs:
        app.handle(templated(locale="fr"), FakeContext())

    (line,) = [entry for entry in logs if entry["event"] == "email.processed"]
    assert line["template_version"].startswith("invoice-ready/fr@")
    record = statuses.read("fake-ses-1")
    assert record is not None
    assert record.template_version == line["template_version"]


def test_the_cache_keeps_answers_for_its_freshness_then_reads_again() -> None:
    """GIVEN a 60 s cache WHEN the same files are asked for within 60 s THEN the store is read
    once; after 60 s it is read again (a changed template shows within a minute)."""
    store = FakeTemplateStore()
    now = [0.0]
    cached = CachedTemplateStore(store, seconds=60, clock=lambda: now[0])

    cached.fetch("invoice-ready", "fr")
    now[0] = 59.0
    cached.fetch("invoice-ready", "fr")
    now[0] = 60.0
    cached.fetch("invoice-ready", "fr")

    assert store.fetches == [("invoice-ready", "fr")] * 2


def test_the_version_changes_with_any_file() -> None:
    """Two files' versions make the digest; changing either changes it."""
    one = TemplateFiles(name="t", locale="en", subject="s", versions=(("subject.txt", "a"),))
    two = TemplateFiles(name="t", locale="en", subject="s", versions=(("subject.txt", "b"),))
    assert one.version != two.version
    assert one.version.startswith("t/en@")


def test_the_html_only_template_gets_a_readable_text_part() -> None:
    """The derived text keeps the words and the link target's label, without markup."""
    files = TemplateFiles(
        name="t", locale="en", subject="s", html="<h1>Hi {{ n }}</h1><ul><li>one</li></ul>"
    )
    rendered = JinjaRenderer().render(files, {"n": "Ada"})
    assert rendered.text is not None
    assert "Hi Ada" in rendered.text
    assert "one" in rendered.text
    assert "<" not in rendered.text


def test_through_the_http_api_a_missing_variable_is_a_400_problem_on_data_name(
    make_api: Callable[..., Api], mailer: FakeMailer
) -> None:
    """POST /v1/emails with data lacking due_date: a 400 problem (as docs/openapi.yaml says)
    whose errors name `data.due_date`; a complete one is sent (201/202 per the document)."""
    api = make_api(templates=FakeTemplateStore())
    data = {k: v for k, v in DATA.items() if k != "due_date"}

    refused = api.send(templated(data=data))
    sent = api.send(templated())

    assert refused.status == 400
    assert [e["field"] for e in refused.json["errors"]] == ["data.due_date"]
    assert sent.status < 300
    assert len(mailer.sent) == 1


def test_the_enqueue_route_queues_a_templated_message_as_sent_after_checking_it(
    make_api: Callable[..., Api],
) -> None:
    """The enqueue route renders and validates first (a missing variable is a 400 now, not a
    dead letter later), then queues the message as the producer wrote it."""
    api = make_api(templates=FakeTemplateStore())

    refused = api.enqueue(templated(data={}))
    queued = api.enqueue(templated())

    assert refused.status == 400
    assert queued.status == 202
    (body,) = api.queue.bodies
    assert '"template":"invoice-ready"' in body
    assert '"subject"' not in body
