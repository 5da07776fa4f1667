"""The `Renderer` port on Jinja2: its sandbox, `StrictUndefined`, autoescaping for the HTML
part only, and a text part derived from the HTML (inscriptis) when a template has none.

inscriptis (Apache-2.0, maintained by webLyzard) rather than html2text (GPL-3.0): its licence
fits a company service, and it lays out tables and lists as a reader would see them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from notifier.domain.templates import Rendered, TemplateFiles, TemplateProblem

_UNDEFINED = re.compile(r"^'([^']{1,100})' is undefined$")


class JinjaRenderer:
    """Compiles each distinct template source once (the most recent 256 per environment): a
    warm function renders without parsing again."""

    def __init__(self) -> None:
        plain = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
        html = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=True)
        self._plain = functools.lru_cache(maxsize=256)(plain.from_string)
        self._html = functools.lru_cache(maxsize=256)(html.from_string)

    def render(self, files: TemplateFiles, data: Mapping[str, Any]) -> Rendered:
        subject = self._render(self._plain, "subject.txt", files.subject, data)
        text = self._render(self._plain, "text.txt", files.text, data) if files.text else None
        html = self._render(self._html, "html.html", files.html, data) if files.html else None
        if text is None and html is not None:
            text = html_to_text(html)
        return Rendered(subject=subject, text=text, html=html)

    @staticmethod
    def _render(
        compile_: Callable[[str], jinja2.Template],
        file: str,
        source: str,
        data: Mapping[str, Any],
    ) -> str:
        try:
            return compile_(source).render(dict(data))
        except jinja2.UndefinedError as exc:
            found = _UNDEFINED.match(str(exc))
            if found:
                raise TemplateProblem(f"data.{found[1]}", "is required by the template") from None
            raise TemplateProblem("data", f"{exc} (in {file})") from None
        except SecurityError as exc:
            raise TemplateProblem("template", f"unsafe operation in {file}: {exc}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem("template", f"{file} line {exc.lineno}: {exc.message}") from None
        except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError) as exc:
            raise TemplateProblem("template", f"{file}: {type(exc).__name__}: {exc}") from None


def html_to_text(html: str) -> str:
    """The HTML as a reader sees it, in plain text."""
    from inscriptis import get_text  # imported on first use: lxml costs cold-start time

    text: str = get_text(html)
    return text.strip() + "\n"
