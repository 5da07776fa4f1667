"""`python -m devtools preview`: the sample template rendered to .eml, .html and a PNG taken by
Debian's headless Chromium (installed by `make init.chromium`)."""

from __future__ import annotations

import email.policy
import json
import shutil
from email.parser import BytesParser
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from devtools.cli import main
from devtools.preview import CHROMIUM
from devtools.template_files import SAMPLES

DATA = SAMPLES / "invoice-ready.data.json"

needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} missing: make init.chromium"
)


@needs_chromium
@pytest.mark.timeout(90)
def test_preview_writes_the_eml_the_html_and_a_non_blank_screenshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN the sample invoice-ready and its sample data WHEN previewed in fr-FR THEN the .eml
    parses to the French email, the HTML holds the data, and the PNG is an 800x1000 picture
    with more than one colour in it (pixel variance well above zero)."""
    status = main(
        ["preview", "invoice-ready", "--locale", "fr-FR", f"--data={DATA}", f"--out={tmp_path}"]
    )

    assert status == 0
    eml, html, png = (tmp_path / f"invoice-ready.fr-FR.{ext}" for ext in ("eml", "html", "png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (eml, html, png))
    message = BytesParser(policy=email.policy.default).parsebytes(eml.read_bytes())
    assert message["Subject"] == "Votre facture FA-2026-0042 est prête"
    assert "<strong>FA-2026-0042</strong>" in html.read_text(encoding="utf-8")
    with Image.open(png) as image:
        assert image.size == (800, 1000)
        stat = ImageStat.Stat(image.convert("L"))
        assert stat.var[0] > 100  # a blank (one-colour) page has 0
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or ()) > 10
    assert "wrote" in capsys.readouterr().out


def test_preview_names_a_missing_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Data without a variable the template uses: exit 1 naming `data.<name>`, nothing written."""
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"customer_name": "Ada"}), encoding="utf-8")

    status = main(["preview", "invoice-ready", f"--data={data}", f"--out={tmp_path / 'out'}"])

    assert status == 1
    assert "data.invoice_number" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
