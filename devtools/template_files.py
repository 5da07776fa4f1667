"""Templates as files: the repository's samples (devtools/templates), read for `preview` and
uploaded to S3 by `provision --sample-templates`, in the layout NOTIFIER_TEMPLATES holds
(README "Templates")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from notifier.domain.templates import TemplateFiles

SAMPLES = Path(__file__).parent / "templates"
_PARTS = (("subject.txt", "subject"), ("text.txt", "text"), ("html.html", "html"))


class MemoryTemplateStore:
    """The `TemplateStore` port over `{path: text}` (paths relative to the prefix); each file's
    version is its MD5, as S3's ETag of an object uploaded in one part."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)

    @classmethod
    def from_directory(cls, root: Path = SAMPLES) -> MemoryTemplateStore:
        """Every template file under `root`."""
        return cls(
            {
                path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
                for path in sorted(root.glob("*/**/*"))
                if path.is_file() and path.name in {"template.json", *dict(_PARTS)}
            }
        )

    def default_locale(self, name: str) -> str | None:
        manifest = self.files.get(f"{name}/template.json")
        if manifest is None:
            return None
        locale: Any = json.loads(manifest).get("default_locale")
        return locale if isinstance(locale, str) else None

    def fetch(self, name: str, locale: str) -> TemplateFiles | None:
        found = {part: self.files.get(f"{name}/{locale}/{file}") for file, part in _PARTS}
        if found["subject"] is None:
            return None
        return TemplateFiles(
            name=name,
            locale=locale,
            subject=found["subject"],
            text=found["text"],
            html=found["html"],
            versions=tuple(
                (file, hashlib.md5(text.encode()).hexdigest())  # noqa: S324 - S3's ETag
                for file, part in _PARTS
                if (text := found[part]) is not None
            ),
        )
