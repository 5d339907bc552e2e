"""The media rules under every order of events (issue 16, cases 3 and 4), by the operations:

* the latest answer is never lost and the stricter one wins: after any sequence of re-sent
  answers, consent is given only if every answer gave it, children present if any said so;
* an office action acts on the state its button was shown: if that state moved on it is
  refused as already decided and changes nothing, whatever else happened;
* a state, once left, never comes back — so a state carried in a button identifies the post
  it was shown on (no stale button can pass for a fresh one);
* nothing is ever approved without consent, or with children and no guardian consent.

Random sequences (a fixed seed, so a failure reproduces) of the ambassador answering again,
guardian consent recorded, approve and refuse — on buttons shown at any earlier moment."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select

from storage.errors import AlreadyDecided, Conflict
from storage.models import AuditEvent, Media, Outbox
from storage.operations import engagements, media
from tests.storage.seed import NOW, Cast

SEQUENCES, STEPS = 30, 7


@pytest.fixture
async def cast(db, scheme) -> Cast:
    return await Cast.create(db, scheme)


async def an_engagement(db, scheme, cast) -> int:
    async with db.transaction() as s:
        return (await engagements.do_prenotify_engagement(
            s, scheme, title="Clun show", kind="Community event", place="Showground",
            starts_at=NOW - dt.timedelta(hours=5), ends_at=NOW - dt.timedelta(hours=3),
            after_the_fact=True, actor=await s.merge(cast.ambassador), now=NOW)).id


async def current(db, media_id: int) -> Media:
    async with db.transaction() as s:
        return await s.get(Media, media_id)


async def counts(db) -> tuple[int, int]:
    async with db.transaction() as s:
        return (await s.scalar(select(func.count()).select_from(AuditEvent)),
                await s.scalar(select(func.count()).select_from(Outbox)))


async def test_random_orders_of_events_keep_every_media_rule(db, scheme, cast) -> None:
    engagement_id = await an_engagement(db, scheme, cast)
    rng = random.Random(16)
    for sequence in range(SEQUENCES):
        photo_hash = f"{sequence:064x}"
        consents, childrens = [rng.random() < 0.7], [rng.random() < 0.5]
        async with db.transaction() as s:
            item = await media.do_record_media(
                s, scheme, engagement_id=engagement_id, kind="photo",
                consent_given=consents[0], children_present=childrens[0],
                content_hash=photo_hash, actor=await s.merge(cast.ambassador))
        shown = [media.state_of(item)]     # every state a post has shown, in order
        for _ in range(STEPS):
            move = rng.choice(["answer", "guardian", "approve", "reject"])
            before = await current(db, item.id)
            if move == "answer":
                consents.append(rng.random() < 0.5)
                childrens.append(rng.random() < 0.5)
                async with db.transaction() as s:
                    await media.do_record_media(
                        s, scheme, engagement_id=engagement_id, kind="photo",
                        consent_given=consents[-1], children_present=childrens[-1],
                        content_hash=photo_hash, actor=await s.merge(cast.ambassador))
            else:
                button = rng.choice(shown)          # perhaps an older copy of the post
                stale = button != media.state_of(before)
                audits = await counts(db)
                try:
                    async with db.transaction() as s:
                        officer = await s.merge(cast.officer)
                        if move == "guardian":
                            await media.do_record_guardian_consent(
                                s, scheme, media_id=item.id, actor=officer, shown=button)
                        else:
                            await media.do_review_media(
                                s, scheme, media_id=item.id, approve=move == "approve",
                                actor=officer, shown=button)
                except AlreadyDecided as refusal:
                    assert stale or before.review_status != "pending", (move, button)
                    assert refusal.by and refusal.decision
                    assert await counts(db) == audits  # nothing written
                except Conflict:
                    # The children or consent rule, only on the state as it is now.
                    assert not stale and move == "approve"
                else:
                    assert not stale and before.review_status == "pending"
            now = await current(db, item.id)
            assert now.consent_given == all(consents)
            assert now.children_present == any(childrens)
            if now.review_status == "approved":
                assert now.consent_given and (not now.children_present or now.guardian_consent)
            state = media.state_of(now)
            if state != shown[-1]:
                assert state not in shown, f"state {state} came back after {shown}"
                shown.append(state)


async def test_photos_for_an_engagement_still_to_come_are_refused_and_nothing_is_written(
        db, scheme, cast) -> None:
    """The rule lives here, not only in /photos's list: a draft kept from before, or an
    engagement moved to a later date after it was picked, meets the same refusal."""
    async with db.transaction() as s:
        coming = await engagements.do_prenotify_engagement(
            s, scheme, title="Tenbury fair", kind="Community event", place="Market square",
            starts_at=NOW + dt.timedelta(days=2), ends_at=NOW + dt.timedelta(days=2, hours=2),
            actor=await s.merge(cast.ambassador), now=NOW)
    before = await counts(db)
    with pytest.raises(Conflict) as refused:
        async with db.transaction() as s:
            await media.do_record_media_items(
                s, scheme, engagement_id=coming.id, consent_given=True,
                children_present=False, actor=await s.merge(cast.ambassador), now=NOW,
                items=[{"kind": "photo", "content_hash": "f" * 64}])
    assert refused.value.args[0] == (
        "That engagement hasn't started yet (it starts Thu 26 Nov 2026, 12:00); photos and "
        "videos can be added once it has.")
    assert await counts(db) == before
