"""Invites, linking accounts, away, deactivation and erasure."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import AuditEvent, Invite, Person
from storage.operations import people
from tests.storage.seed import NOW, Cast


async def invite(db, scheme, cast, role="ambassador", area="Worcestershire", now=NOW):
    async with db.transaction() as s:
        return await people.do_create_invite(s, scheme, name="  Wendy   Worcester ", role=role,
                                             area=area, actor=await s.merge(cast.officer), now=now)


async def test_invite_redeemed_once_links_the_telegram_account(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    made = await invite(db, scheme, cast)
    assert made.name == "Wendy Worcester" and len(made.code) >= 20
    async with db.transaction() as s:
        person = await people.do_redeem_invite(s, scheme, code=made.code, telegram_id=555,
                                               now=NOW)
        assert person.roles == ["ambassador"] and person.monthly_hours == 40
    with pytest.raises(Conflict, match="already been used"):
        async with db.transaction() as s:
            await people.do_redeem_invite(s, scheme, code=made.code, telegram_id=556, now=NOW)
    async with db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Person).where(
            Person.telegram_id == 556)) == 0


@pytest.mark.parametrize("code,error,sentence", [
    ("nonsense", NotFound, "isn't recognised"),
    ("", NotFound, "isn't recognised"),
])
async def test_unknown_codes_are_refused(db, scheme, code, error, sentence) -> None:
    await Cast.create(db, scheme)
    with pytest.raises(error, match=sentence):
        async with db.transaction() as s:
            await people.do_redeem_invite(s, scheme, code=code, telegram_id=1, now=NOW)


async def test_expired_and_revoked_invites_are_refused(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    old = await invite(db, scheme, cast, now=NOW - dt.timedelta(days=15))
    with pytest.raises(Conflict, match="expired"):
        async with db.transaction() as s:
            await people.do_redeem_invite(s, scheme, code=old.code, telegram_id=1, now=NOW)
    fresh = await invite(db, scheme, cast)
    async with db.transaction() as s:
        await people.do_deactivate_person(s, person_id=cast.officer.id,
                                          actor=await s.merge(cast.deputy))
    with pytest.raises(Conflict, match="withdrawn"):
        async with db.transaction() as s:
            await people.do_redeem_invite(s, scheme, code=fresh.code, telegram_id=1, now=NOW)


async def test_an_account_already_linked_cannot_redeem_again(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    made = await invite(db, scheme, cast)
    with pytest.raises(Conflict, match="already linked"):
        async with db.transaction() as s:
            await people.do_redeem_invite(s, scheme, code=made.code,
                                          telegram_id=cast.ambassador.telegram_id, now=NOW)
    async with db.transaction() as s:
        assert (await s.get(Invite, made.id)).used_at is None


async def test_ambassador_invite_needs_a_real_area(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    with pytest.raises(InvalidInput, match="needs an area"):
        await invite(db, scheme, cast, area=None)
    with pytest.raises(InvalidInput, match="not one of the scheme's areas"):
        await invite(db, scheme, cast, area="Gloucestershire")
    with pytest.raises(InvalidInput, match="not a role"):
        await invite(db, scheme, cast, role="superuser")


async def test_away_dates(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    today = NOW.date()
    with pytest.raises(InvalidInput, match="after today"):
        async with db.transaction() as s:
            await people.do_set_away(s, until=today, actor=await s.merge(cast.ambassador),
                                     today=today)
    async with db.transaction() as s:
        me = await people.do_set_away(s, until=today + dt.timedelta(days=7),
                                      actor=await s.merge(cast.ambassador), today=today)
        assert not people.is_reachable(me, today)
        assert people.is_reachable(me, today + dt.timedelta(days=7))


async def test_erase_keeps_anonymised_records_and_one_audit_line(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    async with db.transaction() as s:
        await people.do_erase_person(s, person_id=cast.ambassador.id,
                                     actor=await s.merge(cast.admin))
    async with db.transaction() as s:
        erased = await s.get(Person, cast.ambassador.id)
        assert erased.name == f"Erased person {erased.id}"
        assert erased.telegram_id is None and not erased.active
        line = await s.scalar(select(AuditEvent).where(AuditEvent.action == "erase_person"))
        assert line.actor_id == cast.admin.id
    with pytest.raises(Conflict, match="already erased"):
        async with db.transaction() as s:
            await people.do_erase_person(s, person_id=cast.ambassador.id,
                                         actor=await s.merge(cast.admin))


async def test_the_last_admin_cannot_be_erased(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    with pytest.raises(Conflict, match="last administrator"):
        async with db.transaction() as s:
            await people.do_erase_person(s, person_id=cast.admin.id,
                                         actor=await s.merge(cast.admin))
