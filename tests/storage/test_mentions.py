"""Members of the public: find-person finds every mention however the number or name is
written; redact --mention leaves none in any table (JSON included) and says which photos'
captions named them."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.errors import InvalidInput
from storage.models import Media
from storage.operations import people
from storage.privacy.erasure import remove_files
from storage.privacy.mentions import do_redact_mention, find_mentions
from storage.privacy.needles import Needle, normalise_email, normalise_phone
from tests.storage.privacy_seed import (PHONE_IN_CAPTION, PHONE_IN_FEEDBACK, PHONE_IN_GRANT,
                                        PUBLIC_EMAIL, PUBLIC_NAME, dump_database, dump_files,
                                        rich_history)
from tests.storage.seed import NOW

REMOVED = "[removed on 24 Nov 2026 at the person's request]"
DIGITS = "7700900123"


def _public_occurrences(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    found = []
    for table, text in rows:
        if PUBLIC_NAME.casefold() in text.casefold() or PUBLIC_EMAIL.casefold() in \
                text.casefold():
            found.append((table, "name or e-mail"))
        if DIGITS in re.sub(r"[\s()+-]", "", text).replace("447700", "07700"):
            found.append((table, "phone"))
    return found


async def test_find_person_finds_the_phone_however_it_is_written(db, scheme, tmp_path) -> None:
    await rich_history(db, scheme, tmp_path / "media")
    async with db.transaction() as s:
        by_phone = await find_mentions(s, scheme, "07700 900123")
        by_name = await find_mentions(s, scheme, "john SMITH")
        by_email = await find_mentions(s, scheme, "john.smith@example.ORG")
    places = {(m.table, m.field) for m in by_phone}
    assert {("feedback", "summary"), ("media", "caption"),
            ("grant_recommendations", "applicant_contact")} <= places
    assert any(m.table == "outbox" and m.field.startswith("payload.") for m in by_phone)
    assert {("feedback", "summary"), ("media", "caption"),
            ("grant_recommendations", "applicant_contact")} <= {(m.table, m.field)
                                                               for m in by_name}
    assert {(m.table, m.field) for m in by_email} >= {
        ("grant_recommendations", "applicant_contact")}
    summary = next(m for m in by_phone if (m.table, m.field) == ("feedback", "summary"))
    assert PHONE_IN_FEEDBACK in summary.excerpt and len(summary.excerpt) < 100


async def test_redact_mention_leaves_no_occurrence(db, scheme, tmp_path) -> None:
    media_root = tmp_path / "media"
    history = await rich_history(db, scheme, media_root)
    assert {t for t, _ in _public_occurrences(await dump_database(db))} >= {
        "feedback", "media", "grant_recommendations", "outbox"}
    async with db.transaction() as s:
        done = await do_redact_mention(s, scheme, texts=[PUBLIC_NAME, PHONE_IN_GRANT,
                                                         PUBLIC_EMAIL],
                                       actor=await people.get_person(s, history.cast.admin.id),
                                       now=NOW)
    assert done.photos == [history.media_id]
    assert _public_occurrences(await dump_database(db)) == []
    async with db.transaction() as s:
        media = await s.get(Media, history.media_id)
        assert media.caption == f"Farmer {REMOVED} at his gate ({REMOVED})"
        assert media.safe_path  # the photo stays until someone looks at it
    # The ambassador's own words around the mention stay.
    rows = await dump_database(db)
    assert any("of Lyonshall Farm raised speeding" in text for t, text in rows
               if t == "feedback")
    assert sum('"redact_mention"' in text for t, text in rows if t == "audit_events") == 1
    assert len(dump_files(media_root)) == 3


async def test_redact_with_media_deletes_the_photos_named(db, scheme, tmp_path) -> None:
    media_root = tmp_path / "media"
    history = await rich_history(db, scheme, media_root)
    photo = {hashlib.sha256(p.read_bytes()).hexdigest() for p in history.photo_files}
    content_hash = history.photo_files[0].stem
    async with db.transaction() as s:
        done = await do_redact_mention(s, scheme, texts=PHONE_IN_CAPTION, with_media=True,
                                       actor=await people.get_person(s, history.cast.admin.id),
                                       now=NOW)
    remove_files(done.paths, done.content_hashes, media_root)
    assert [f for f in dump_files(media_root) if f[1] in photo] == []
    rows = await dump_database(db)
    assert [t for t, text in rows if content_hash in text] == []
    assert [t for t, text in rows if str(history.photo_files[1]) in text] == []


async def test_a_search_too_short_is_refused_with_a_sentence(db, scheme) -> None:
    async with db.transaction() as s:
        with pytest.raises(InvalidInput, match="too short to search"):
            await find_mentions(s, scheme, " J ")


_uk_mobile = st.integers(min_value=0, max_value=999).map(lambda n: f"7700900{n:03d}")


def _written(national: str, style: int) -> str:
    return [f"0{national}", f"+44{national}", f"0{national[:4]} {national[4:]}",
            f"+44 {national[:4]} {national[4:]}", f"(0){national[:4]}-{national[4:7]}-"
            f"{national[7:]}", f"0044 {national}"][style]


@given(_uk_mobile, st.integers(0, 5), st.integers(0, 5), st.text(max_size=20),
       st.text(max_size=20))
def test_a_phone_number_is_found_however_it_is_written(national, asked, written, before,
                                                       after) -> None:
    assert normalise_phone(_written(national, asked)) == f"+44{national}"
    needle = Needle.from_query(_written(national, asked))
    text = f"{before} call {_written(national, written)} today {after}"
    assert needle.found_in(text)
    other = f"+44{int(national) + 1 if national[-1] != '9' else int(national) - 1}"
    assert not Needle("phone", other).found_in(text.replace(before, "").replace(after, ""))


@given(st.from_regex(r"[a-z][a-z0-9.]{0,10}@[a-z]{2,8}\.(org|co\.uk|com)", fullmatch=True),
       st.booleans())
def test_an_email_address_is_found_in_any_case(address, upper) -> None:
    written = address.upper() if upper else address
    assert normalise_email(written) == address.casefold()
    assert Needle.from_query(address).found_in(f"Contact: {written}, evenings")
    assert not Needle.from_query(address).found_in(f"Contact: x{address}")


@given(st.text(max_size=60))
def test_anything_typed_is_searched_or_refused_with_a_sentence(typed) -> None:
    from storage.privacy.mentions import needles_for
    try:
        [needle] = needles_for(typed)
    except InvalidInput as refusal:
        assert "too short to search" in str(refusal)
        return
    assert needle.kind in ("name", "email", "phone")
    needle.spans(f"{typed} and more")
