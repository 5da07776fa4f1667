"""The `TemplateStore` contract, on the fake and on the S3 adapter over LocalStack's S3: the
unit tests trust FakeTemplateStore to answer as S3TemplateStore does.

Every test takes `make_store(files)`, a store holding `files` ({path under the prefix: text}),
and runs twice: `[fake]` in memory, `[s3]` uploaded under a fresh prefix of LocalStack's S3.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import boto3
import pytest

from devtools.template_files import MemoryTemplateStore
from notifier.adapters.outbound.s3_templates import S3TemplateStore
from notifier.domain.templates import TemplateStore
from tests.fakes import FakeTemplateStore

BUCKET = "notifier-templates-contract"
SAMPLES = MemoryTemplateStore.from_directory().files
MakeStore = Callable[[dict[str, str]], TemplateStore]


@pytest.fixture(params=["fake", "s3"])
def make_store(request: pytest.FixtureRequest) -> MakeStore:
    if request.param == "fake":
        return FakeTemplateStore

    request.getfixturevalue("localstack")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)

    def on_s3(files: dict[str, str]) -> TemplateStore:
        prefix = f"t-{uuid.uuid4().hex[:12]}"
        for path, text in files.items():
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{path}", Body=text.encode())
        return S3TemplateStore(lambda: boto3.client("s3"), f"s3://{BUCKET}/{prefix}")

    return on_s3


def test_a_template_s_default_locale_is_read_from_its_template_json(
    make_store: MakeStore,
) -> None:
    """invoice-ready declares en; an unknown template has none (None)."""
    store = make_store(SAMPLES)

    assert store.default_locale("invoice-ready") == "en"
    assert store.default_locale("no-such") is None


def test_a_locale_s_files_come_back_with_their_versions(make_store: MakeStore) -> None:
    """fr has subject, text and HTML; en no text; de nothing. Each file's version is its MD5
    (S3's ETag of a single-part upload), so fake and S3 give the same TemplateFiles."""
    store = make_store(SAMPLES)
    memory = MemoryTemplateStore(SAMPLES)

    fr = store.fetch("invoice-ready", "fr")
    en = store.fetch("invoice-ready", "en")

    assert fr == memory.fetch("invoice-ready", "fr")
    assert fr is not None
    assert (fr.text is None, fr.html is None) == (False, False)
    assert en == memory.fetch("invoice-ready", "en")
    assert en is not None
    assert en.text is None
    assert store.fetch("invoice-ready", "de") is None
    assert store.fetch("no-such", "en") is None


def test_changing_a_file_changes_the_version(make_store: MakeStore) -> None:
    """The same template with a different HTML file has a different version."""
    before = make_store(SAMPLES).fetch("invoice-ready", "fr")
    changed = {**SAMPLES, "invoice-ready/fr/html.html": "<p>{{ invoice_number }}</p>"}
    after = make_store(changed).fetch("invoice-ready", "fr")

    assert before is not None
    assert after is not None
    assert before.version != after.version
    assert after.version.startswith("invoice-ready/fr@")
