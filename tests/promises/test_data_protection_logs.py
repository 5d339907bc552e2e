"""Minimisation at the edge (issue 17): the data-protection paths — the subject-access bundle
for a person and for a member of the public, retention (the job, its report, a file it cannot
delete), erasure and redaction — log ids and counts only, and what they tell the office in
Slack names no one. Logging is configured as `python -m bot run` at DEBUG (see conftest)."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from scheduler import jobs
from storage.models import Outbox
from storage.operations import people
from storage.privacy.erasure import do_erase_person, remove_files
from storage.privacy.mentions import do_redact_mention
from storage.subject_access import mention_bundle, person_bundle, write_bundle
from tests.storage.privacy_seed import (PHONE_IN_CAPTION, PHONE_IN_FEEDBACK, PHONE_IN_GRANT,
                                        PUBLIC_EMAIL, PUBLIC_NAME, rich_history)
from tests.storage.seed import NOW


async def test_data_protection_paths_log_no_personal_data(db, scheme, tmp_path, logs) -> None:
    media = tmp_path / "media"
    history = await rich_history(db, scheme, media)
    ann = history.cast.ambassador
    personal = ["Ann Shropshire", str(ann.telegram_id), PUBLIC_NAME, PHONE_IN_FEEDBACK,
                PHONE_IN_CAPTION, PHONE_IN_GRANT, PUBLIC_EMAIL, *history.ann_texts]
    logs.typed += personal

    async with db.transaction() as s:
        write_bundle(await person_bundle(s, ann.id), tmp_path / "ann.zip", scheme)
        write_bundle(await mention_bundle(s, scheme, PUBLIC_NAME), tmp_path / "john.zip",
                     scheme)

    # Retention as the nightly job runs it, years later, with one file it cannot delete (a
    # directory where the photo was: root may delete anything else).
    stuck = history.photo_files[0]
    stuck.unlink()
    stuck.mkdir()
    (stuck / "keep").write_text("x")
    ran = await jobs.retention(jobs.JobContext(db, scheme, NOW + dt.timedelta(days=3000),
                                               chart_dir=media / "charts"))
    assert ran > 0
    assert any("could not delete a file" in line for line in logs.lines)

    async with db.transaction() as s:
        admin = await people.get_person(s, history.cast.admin.id)
        redaction = await do_redact_mention(s, scheme, texts=[PUBLIC_NAME], actor=admin,
                                            with_media=True)
    remove_files(redaction.paths, redaction.content_hashes, media)
    async with db.transaction() as s:
        admin = await people.get_person(s, history.cast.admin.id)
        erasure = await do_erase_person(s, scheme, person_id=ann.id, actor=admin)
    remove_files(erasure.paths, erasure.content_hashes, media)

    async with db.transaction() as s:
        to_office = (await s.scalars(select(Outbox).where(Outbox.event.in_(
            ["retention_report", "erase_person", "redact_mention"])))).all()
    told = json.dumps([row.payload for row in to_office], ensure_ascii=False)
    assert [p for p in personal if p in told] == []
