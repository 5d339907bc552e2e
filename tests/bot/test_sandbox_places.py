"""The Essex sandbox speaks Essex (issue 22, "Essex speaks West Mercia"): every prompt of every
form, and every piece of text the sandbox seeds into its database, names no West Mercia place,
and the West Mercia prompts name no Essex one. Each office's places are read from its scheme
file (its areas and the places in its `words:`), not listed by hand, so a place added to a
scheme file is checked too."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from bot.sandbox.seed import seed
from storage.models import Base
from storage.operations.people import sync_scheme
from storage.scheme import SCHEMES_DIR, Scheme, load_scheme
from tests.handlers.forms.test_office_words import _every_prompt

NOW = dt.datetime(2026, 12, 4, 17, 0, tzinfo=dt.UTC)
PLACE_WORDS = ("engagement_example", "place_example", "journey_example", "meeting_venue")
PROPER_NOUN = re.compile(r"[A-Z][a-z'’-]+(?: [A-Z][a-z'’-]+)*")


def places_of(scheme: Scheme) -> set[str]:
    """The scheme's areas, and the proper names in the places its `words:` give."""
    words = scheme.words.model_dump()
    named = {noun for key in PLACE_WORDS for noun in PROPER_NOUN.findall(words[key])}
    return set(scheme.areas) | named


def named(places: set[str], text: str) -> list[str]:
    return sorted(p for p in places if re.search(rf"\b{re.escape(p)}\b", text))


@pytest.fixture(scope="module")
def essex() -> Scheme:
    return load_scheme(SCHEMES_DIR / "essex.yaml")


@pytest.fixture(scope="module")
def west_mercia() -> Scheme:
    return load_scheme(SCHEMES_DIR / "west-mercia.yaml")


def test_the_places_are_read_from_the_scheme_files(essex, west_mercia) -> None:
    assert {"Shropshire", "Much Wenlock", "Ludlow", "Hindlip Park", "Worcester"} <= \
        places_of(west_mercia)
    assert {"Basildon", "Chelmsford", "Writtle", "Kelvedon Park"} <= places_of(essex)


def test_every_prompt_names_only_its_own_office_places(essex, west_mercia) -> None:
    assert named(places_of(west_mercia), _every_prompt(essex)) == []
    assert named(places_of(essex), _every_prompt(west_mercia)) == []


async def seeded(db, scheme: Scheme, tmp_path) -> None:
    """As the sandbox does it: the scheme into the database, then the demo's history."""
    async with db.transaction() as s:
        await sync_scheme(s, scheme)
    await seed(db, scheme, NOW, media_dir=tmp_path / "media")


async def everything_written(db) -> str:
    """Every text and JSON value in every table, as one string."""
    found: list[str] = []
    async with db.transaction() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).all():
                for value in row:
                    if isinstance(value, str):
                        found.append(value)
                    elif isinstance(value, (dict, list)):
                        found.append(json.dumps(value, ensure_ascii=False))
    return "\n".join(found)


async def test_the_essex_sandbox_seeds_no_west_mercia_place(db, essex, west_mercia,
                                                             tmp_path) -> None:
    await seeded(db, essex, tmp_path)
    written = await everything_written(db)
    assert named(places_of(west_mercia), written) == []
    assert named(places_of(essex), written)          # its own places instead
    assert essex.words.meeting_venue in written      # the quarterly meeting's venue


async def test_the_west_mercia_sandbox_keeps_its_own_places(db, essex, west_mercia,
                                                            tmp_path) -> None:
    await seeded(db, west_mercia, tmp_path)
    written = await everything_written(db)
    assert named(places_of(essex), written) == []
    assert "Leominster market stall" in written and "Hindlip Park, Worcester" in written
