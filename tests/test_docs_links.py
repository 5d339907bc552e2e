"""The repository stands alone: the README and docs/ point only at files inside it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A markdown link or image target that is not a web address or an anchor.
LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")
# A path in backticks that names a file of the project (it has a folder and an extension).
CODE_PATH = re.compile(r"`(\.{0,2}/?[\w.-]+(?:/[\w.-]+)+\.(?:md|py|yaml|yml|service|png|ini))`")


def _targets(doc: Path) -> list[tuple[str, Path]]:
    """Each target with the file it names: a link is relative to its document (as a
    markdown viewer reads it), a path in backticks to the repository's root (as a reader
    typing commands there reads it) unless it starts with a dot."""
    text = doc.read_text(encoding="utf-8")
    links = [(t, doc.parent / t.split("#")[0]) for t in LINK.findall(text)]
    paths = [(t, (doc.parent if t.startswith(".") else ROOT) / t)
             for t in CODE_PATH.findall(text)]
    return links + paths


def test_every_document_names_only_files_in_the_repository() -> None:
    missing = []
    for doc in DOCS:
        for target, path in _targets(doc):
            if not path.resolve().is_relative_to(ROOT) or not path.exists():
                missing.append(f"{doc.relative_to(ROOT)} → {target}")
    assert missing == []


def test_the_link_check_sees_a_path_outside() -> None:
    assert "../shared/DESIGN.md" in CODE_PATH.findall("see `../shared/DESIGN.md`")
    assert LINK.findall("[x](docs/a.md) [y](https://x.org)") == ["docs/a.md"]
