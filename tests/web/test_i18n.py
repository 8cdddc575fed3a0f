"""Translations: every template string goes through gettext, the extracted catalog is current, Japanese is
complete, and the language follows Accept-Language until the user switches."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from hullscan.server.web.core import HERE, translations

TEMPLATES = HERE / "templates"
PO_JA = HERE / "locale" / "ja" / "LC_MESSAGES" / "messages.po"


def _visible_text(source: str) -> str:
    text = re.sub(r"\{#.*?#\}", " ", source, flags=re.DOTALL)
    text = re.sub(r"\{%.*?%\}", " ", text, flags=re.DOTALL)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.DOTALL)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.DOTALL)
    text = re.sub(r"<[^>]+>", " ", text, flags=re.DOTALL)
    return text


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_hard_coded_words_in_templates(template: str) -> None:
    text = _visible_text((TEMPLATES / template).read_text(encoding="utf-8"))
    words = [w for w in re.findall(r"[^\W\d_]{2,}", text) if w not in {"hullscan", "CVSS"}]
    assert words == [], f"{template}: text outside _(): {words[:10]}"


def _msgids(path: Path) -> set[str]:
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id and isinstance(m.id, str)}


def test_catalog_is_current_and_japanese_complete(tmp_path: Path) -> None:
    out = tmp_path / "messages.pot"
    subprocess.run(["pybabel", "extract", "-F", "babel.cfg", "-k", "_", "-k", "N_", "-k", "gettext", "--no-location",
                    "-o", str(out), "."], cwd=HERE, check=True, capture_output=True)
    extracted = _msgids(out)
    assert len(extracted) > 250
    from babel.messages.pofile import read_po

    with PO_JA.open("rb") as fh:
        catalog = read_po(fh, locale="ja")
    translated = {m.id: m.string for m in catalog if m.id}
    missing = sorted(extracted - set(translated))
    assert missing == [], f"not in ja/messages.po (run scripts/i18n): {missing[:10]}"
    empty = sorted(k for k in extracted if not translated.get(k))
    assert empty == [], f"untranslated: {empty[:10]}"
    # placeholders survive translation
    for msgid, msgstr in translated.items():
        assert set(re.findall(r"%\((\w+)\)s", str(msgid))) == set(re.findall(r"%\((\w+)\)s", str(msgstr))), msgid


def test_compiled_at_first_use() -> None:
    ja = translations("ja")
    assert ja.gettext("Image Security") == "イメージセキュリティ"
    assert translations("en").gettext("Image Security") == "Image Security"
