"""docs/data-protection.md tells a DPO where personal data is held: every table of the map of
personal data, every retention setting with the default the scheme file gives it, and the
commands for each right."""

from __future__ import annotations

from pathlib import Path

from storage import personal_data as pd
from storage.scheme import load_scheme

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "data-protection.md"


def test_every_table_of_the_map_is_named_in_the_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert sorted(t for t in pd.by_table() if f"| `{t}` |" not in text) == []


def test_every_retention_setting_is_in_the_doc_with_its_default() -> None:
    text = DOC.read_text(encoding="utf-8")
    scheme = load_scheme()
    for key in sorted({f.retention for f in pd.entries() if f.retention}):
        section, name = key.split(".")
        value = getattr(getattr(scheme, section), name)
        assert f"{name}: {value}" in text or f"`{key}` ({value}" in text or \
            f"`{key}` ({value} " in text or f"{key}` ({value}" in text, key


def test_the_doc_gives_the_commands_for_each_right() -> None:
    text = DOC.read_text(encoding="utf-8")
    for command in ("export --person", "export --mention", "find-person", "erase --person",
                    "redact --mention", "retention --dry-run", "/mine"):
        assert command in text, command
