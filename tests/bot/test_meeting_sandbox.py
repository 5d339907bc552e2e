"""The sandbox shows a meeting the way the office would see it (issue 19): for each office, last
quarter's meeting at its own venue with who came, the notes and two actions (follow-ups of the
meeting, with owners), and the next one with the names who replied — "can't come" with its
note — on the post in the engagements channel."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import FollowUp, Meeting, Outbox
from storage.scheme import SCHEMES_DIR, load_scheme
from tests.bot.test_sandbox_places import seeded


@pytest.mark.parametrize("file", ["west-mercia.yaml", "essex.yaml"])
async def test_the_sandbox_has_a_meeting_with_names_notes_and_actions(db, tmp_path,
                                                                      file) -> None:
    scheme = load_scheme(SCHEMES_DIR / file)
    await seeded(db, scheme, tmp_path)
    async with db.transaction() as s:
        held, coming = (await s.scalars(select(Meeting).order_by(Meeting.starts_at))).all()
        actions = (await s.scalars(select(FollowUp).where(FollowUp.meeting_id == held.id)
                                   .order_by(FollowUp.id))).all()
        posts = (await s.scalars(select(Outbox).where(Outbox.event == "meeting_post")
                                 .order_by(Outbox.id))).all()
    assert held.place == coming.place == scheme.words.meeting_venue
    assert held.notes and held.decisions and len(actions) == 2
    assert all(a.owner_id and a.status == "open" for a in actions)
    held_post = [p for p in posts if p.payload["meeting_id"] == held.id][-1].payload
    assert held_post["attended"] == ["Ann Shaw", "Megan Pryce", "Olivia Hart", "Raj Patel"]
    assert [a["owner"] for a in held_post["actions"]] == ["Ann Shaw", "Olivia Hart"]
    coming_post = [p for p in posts if p.payload["meeting_id"] == coming.id][-1].payload
    assert ("Coming: Ann Shaw · Maybe: Raj Patel · Can't come: Tom Fairbairn (“At my "
            "granddaughter's school play that morning”)") in coming_post["text"]
