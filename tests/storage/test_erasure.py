"""Erasure leaves nothing behind: after `erase`, no table (every column, JSON included) and no
file under the media directory holds the person's name, chat id, free text or photos."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select

from storage.models import FollowUp, FormDraft, Outbox, Person
from storage.operations import follow_ups, people
from storage.privacy.erasure import CANCELLED, do_erase_person, remove_files
from tests.storage.privacy_seed import dump_database, dump_files, rich_history
from tests.storage.seed import NOW

PLACEHOLDER = "Text erased on 24 Nov 2026 at the person's request."


def _occurrences(rows: list[tuple[str, str]], identifiers: list[str],
                 chat_id: str) -> list[tuple[str, str]]:
    found = []
    for table, text in rows:
        lowered = text.casefold()
        found += [(table, i) for i in identifiers if i.casefold() in lowered]
        if re.search(rf"(?<![0-9]){chat_id}(?![0-9])", text):
            found.append((table, chat_id))
    return found


async def test_erasure_leaves_no_occurrence_in_any_table_or_file(db, scheme, tmp_path) -> None:
    media_root = tmp_path / "media"
    history = await rich_history(db, scheme, media_root)
    cast = history.cast
    ann_id, chat_id = cast.ambassador.id, str(cast.ambassador.telegram_id)
    photo_hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in history.photo_files}
    content_hash = history.photo_files[0].stem
    identifiers = ["Ann Shropshire", *history.ann_texts, content_hash]

    before = await dump_database(db)
    assert {t for t, _ in _occurrences(before, identifiers, chat_id)} >= {
        "people", "invites", "engagements", "feedback", "follow_ups", "media", "outbox",
        "audit_events", "form_drafts", "hours_entries", "schedule_marks"}
    assert len(history.photo_files) == 3  # original, safe copy, thumbnail

    async with db.transaction() as s:
        done = await do_erase_person(s, scheme, person_id=ann_id,
                                     actor=await people.get_person(s, cast.admin.id), now=NOW)
    remove_files(done.paths, done.content_hashes, media_root)

    assert _occurrences(await dump_database(db), identifiers, chat_id) == []
    files = dump_files(media_root)
    assert [f for f in files if f[1] in photo_hashes or content_hash in f[0]] == []

    async with db.transaction() as s:
        ann = await s.get(Person, ann_id)
        assert ann.name == f"Erased person {ann_id}" and ann.erased_at is not None
        assert (await s.scalars(select(FormDraft).where(FormDraft.person_id == ann_id))).all() \
            == []
        # The pending message to her is cancelled; delivered ones keep the fact of delivery.
        to_her = (await s.scalars(select(Outbox).where(
            Outbox.destination == f"[erased person {ann_id}]"))).all()
        assert {m.status for m in to_her} == {"sent", CANCELLED}
        assert all(m.payload["text"] == PLACEHOLDER for m in to_her)
    # Bob's records are his as they were.
    bob_rows = [t for t in await dump_database(db) if "Bob Hereford met people" in t[1]]
    assert {t for t, _ in bob_rows} >= {"feedback", "outbox"}
    assert any("Call back" in text for t, text in bob_rows if t == "outbox")


async def test_the_office_still_sees_and_closes_the_follow_up(db, scheme, tmp_path) -> None:
    history = await rich_history(db, scheme, tmp_path / "media")
    cast = history.cast
    async with db.transaction() as s:
        await do_erase_person(s, scheme, person_id=cast.ambassador.id,
                              actor=await people.get_person(s, cast.admin.id), now=NOW)
    async with db.transaction() as s:
        follow_up = await s.get(FollowUp, history.follow_up_id)
        assert follow_up.status == "open" and follow_up.detail == PLACEHOLDER
        await follow_ups.do_complete_follow_up(
            s, scheme, follow_up_id=follow_up.id,
            actor=await people.get_person(s, cast.officer.id), now=NOW)
    async with db.transaction() as s:
        assert (await s.get(FollowUp, history.follow_up_id)).status == "done"
        last = await s.scalar(select(Outbox).order_by(Outbox.id.desc()).limit(1))
        assert PLACEHOLDER in last.payload["text"]
        assert "Ann Shropshire" not in str(last.payload)


async def test_one_audit_line_naming_no_one(db, scheme, tmp_path) -> None:
    history = await rich_history(db, scheme, tmp_path / "media")
    cast = history.cast
    async with db.transaction() as s:
        await do_erase_person(s, scheme, person_id=cast.ambassador.id,
                              actor=await people.get_person(s, cast.admin.id), now=NOW)
    rows = [t for t in await dump_database(db) if t[0] == "audit_events"
            and '"erase_person"' in t[1]]
    assert len(rows) == 1
    assert str(cast.ambassador.telegram_id) not in rows[0][1]
    assert "Shropshire" not in rows[0][1].replace('"Shropshire"', "")
