"""Templated messages: a `MessageRequest` naming a template becomes the same request with its
subject, text and HTML filled in, which then goes through the validation every hand-written
message goes through (a template is no way around it).

Locale fallback: `fr-FR` -> `fr` -> the template's default locale (its `template.json`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import attrs

from notifier.domain.errors import FieldError, InvalidMessage, PermanentError
from notifier.domain.model import MessageRequest

TEMPLATE_FIELDS = ("template", "locale", "data")
CONTENT_FIELDS = ("subject", "text_content", "html_content")


@attrs.frozen(kw_only=True)
class TemplateFiles:
    """One locale of one template, as stored; `versions` are the files' S3 version ids or
    ETags, by file name."""

    name: str
    locale: str
    subject: str
    text: str | None = None
    html: str | None = None
    versions: tuple[tuple[str, str], ...] = ()

    @property
    def version(self) -> str:
        """`NAME/LOCALE@digest`: changes whenever one of its files does."""
        joined = "\x1f".join(f"{file}={v}" for file, v in sorted(self.versions))
        digest = hashlib.sha256(joined.encode()).hexdigest()[:12]
        return f"{self.name}/{self.locale}@{digest}"


@attrs.frozen(kw_only=True)
class Rendered:
    """What a template gave for one message."""

    subject: str
    text: str | None
    html: str | None


class TemplateProblem(Exception):
    """A template could not be rendered with the message's data: `field` is `data.<name>`
    for a missing variable, `template` for an error in the template itself."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class TemplatesNotConfigured(PermanentError):
    """Raised by the null store: NOTIFIER_TEMPLATES is unset."""

    reason = "invalid"


class TemplateStore(Protocol):
    """Where templates live (an S3 prefix), one folder per template and locale."""

    def default_locale(self, name: str) -> str | None:
        """The template's default locale (its `template.json`); None if no such template.
        Raise `TemplatesNotConfigured` when there is no store at all."""
        ...

    def fetch(self, name: str, locale: str) -> TemplateFiles | None:
        """That locale's files, or None when the template has no such locale."""
        ...


class Renderer(Protocol):
    """Renders template files with a message's data (Jinja2's sandbox, in an adapter)."""

    def render(self, files: TemplateFiles, data: Mapping[str, Any]) -> Rendered:
        """The rendered parts (a text part derived from the HTML when there is no text
        template); raise `TemplateProblem` on a missing variable or a template error."""
        ...


def candidates(locale: str | None) -> Iterator[str]:
    """`fr-FR` -> `fr-FR`, `fr`: the requested locale, then its shorter prefixes."""
    if not locale:
        return
    parts = locale.split("-")
    for end in range(len(parts), 0, -1):
        yield "-".join(parts[:end])


@attrs.frozen
class Templates:
    """Expands templated requests; a request without `template` passes through untouched."""

    store: TemplateStore
    renderer: Renderer

    def expand(self, request: MessageRequest) -> tuple[MessageRequest, str]:
        """The request with its content rendered, and the template's version ("" for a
        request without template); raise `InvalidMessage` naming the field and template."""
        if request.template is None:
            return request, ""
        _check_form(request)
        name = request.template
        files = self._files(name, request.locale)
        try:
            rendered = self.renderer.render(files, request.data)
        except TemplateProblem as exc:
            raise InvalidMessage.one(
                exc.field, f"{exc.message} (template {files.version})"
            ) from None
        # A subject is one line: line breaks from the template or from `data` are folded
        # into spaces, so no value can start a header of its own.
        subject = " ".join(rendered.subject.split())
        return (
            attrs.evolve(
                request, subject=subject, text_content=rendered.text, html_content=rendered.html
            ),
            files.version,
        )

    def _files(self, name: str, locale: str | None) -> TemplateFiles:
        if not name.strip() or "/" in name or name.startswith(".") or len(name) > 128:
            raise InvalidMessage.one("template", "must be a template name (no '/', not empty)")
        if locale is not None and not _locale_ok(locale):
            raise InvalidMessage.one("locale", "must be a BCP 47 tag such as 'fr-FR'")
        try:
            default = self.store.default_locale(name)
        except TemplatesNotConfigured as exc:
            raise InvalidMessage.one("template", str(exc)) from None
        if default is None:
            raise InvalidMessage.one("template", f"no template named {name!r}")
        for candidate in (*candidates(locale), default):
            files = self.store.fetch(name, candidate)
            if files is not None:
                return files
        raise InvalidMessage.one(
            "template", f"template {name!r} has no files for its default locale {default!r}"
        )


def _locale_ok(locale: str) -> bool:
    parts = locale.split("-")
    return len(locale) <= 35 and all(
        p.isascii() and p.isalnum() and 1 <= len(p) <= 8 for p in parts
    )


def _check_form(request: MessageRequest) -> None:
    given = [field for field in CONTENT_FIELDS if getattr(request, field) is not None]
    if given:
        raise InvalidMessage(
            FieldError(
                field,
                "cannot be given with template: a templated message takes its subject,"
                " text and HTML from the template",
            )
            for field in given
        )


class NoTemplates:
    """The null store (NOTIFIER_TEMPLATES unset): every templated message is refused."""

    def default_locale(self, name: str) -> str | None:
        """Never: templates are not configured."""
        raise TemplatesNotConfigured(
            "templates are not configured on this deployment (NOTIFIER_TEMPLATES is unset)"
        )

    def fetch(self, name: str, locale: str) -> TemplateFiles | None:
        """Nothing is stored."""
        return None


class NoRenderer:
    """Goes with `NoTemplates`: nothing is ever found to render."""

    def render(self, files: TemplateFiles, data: Mapping[str, Any]) -> Rendered:
        """Unreachable: `NoTemplates` finds no files."""
        raise TemplateProblem("template", "templates are not configured")
