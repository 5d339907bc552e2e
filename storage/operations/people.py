"""People: the scheme's set-up, invites, linking accounts, away, deactivation, erasure
(erasure itself lives in storage.privacy.erasure, driven by the personal-data map)."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import audit, snapshot
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Area, FormDraft, Fund, Invite, Person, PlanObjective, Role, utcnow
from storage.operations.funds import fund_as_of
from storage.parsers import clean_text
from storage.permissions import Action, require
from storage.privacy.erasure import do_erase_person  # noqa: F401 — people.do_erase_person
from storage.scheme import Scheme

CLI_ADMIN_NAME = "Command line"
OFFICE_ROLES = (Role.OFFICER, Role.COMMISSIONING, Role.COMMISSIONER, Role.DEPUTY, Role.ADMIN)


async def sync_scheme(session: AsyncSession, scheme: Scheme) -> Fund:
    """Make the database's areas, objectives and fund match the scheme file.

    Entries removed from the file are made inactive, never deleted: old records still name them.
    """
    for model, names in ((Area, scheme.areas), (PlanObjective, scheme.plan_objectives)):
        existing = {row.name: row for row in (await session.scalars(select(model))).all()}
        for name in names:
            if name in existing:
                existing[name].active = True
            else:
                session.add(model(name=name, active=True))
        for name, row in existing.items():
            if name not in names:
                row.active = False
    fund_name = f"{scheme.name} grant fund"
    fund = await session.scalar(select(Fund).where(Fund.name == fund_name))
    limits = scheme.limits
    if fund is None:
        any_fund = await session.scalar(select(Fund).order_by(Fund.starts_on.desc()).limit(1))
        if any_fund is not None:
            return any_fund
        # The first fund: the financial year we are in (later ones: `python -m bot fund open`).
        starts, ends = scheme.finance.financial_year(utcnow().astimezone(scheme.tz).date())
        fund = Fund(name=fund_name, size_pence=limits.fund_size_pence, committed_pence=0,
                    starts_on=starts, ends_on=ends)
        session.add(fund)
    elif fund.size_pence != limits.fund_size_pence:
        if limits.fund_size_pence < fund.committed_pence:
            raise InvalidInput(f"The scheme's fund_size is less than the £{fund.committed_pence/100:,.2f} "
                               "already approved; the fund cannot shrink below what is committed.")
        fund.size_pence = limits.fund_size_pence
    await session.flush()
    return fund


async def the_fund(session: AsyncSession, scheme: Scheme, on: dt.date | None = None) -> Fund:
    """The fund to show on `on` (today in the scheme's zone): the one whose period holds it,
    else the last before it (approvals check the period strictly: operations.funds)."""
    day = on or utcnow().astimezone(scheme.tz).date()
    fund = await fund_as_of(session, day)
    if fund is None:
        fund = await sync_scheme(session, scheme)
    return fund


async def area_named(session: AsyncSession, name: str) -> Area:
    area = await session.scalar(select(Area).where(Area.name == name, Area.active.is_(True)))
    if area is None:
        names = (await session.scalars(select(Area.name).where(Area.active.is_(True)))).all()
        raise InvalidInput(f"{name!r} is not one of the scheme's areas ({', '.join(names)}).")
    return area


async def cli_admin(session: AsyncSession) -> Person:
    """The person the command line acts as, so its changes are audited like anyone's."""
    admin = await session.scalar(select(Person).where(Person.name == CLI_ADMIN_NAME,
                                                      Person.telegram_id.is_(None),
                                                      Person.slack_id.is_(None)))
    if admin is None:
        admin = Person(name=CLI_ADMIN_NAME, roles=[Role.ADMIN.value], active=True)
        session.add(admin)
        await session.flush()
    return admin


async def person_by_telegram(session: AsyncSession, telegram_id: int) -> Person | None:
    return await session.scalar(select(Person).where(Person.telegram_id == telegram_id))


async def person_by_slack(session: AsyncSession, slack_id: str) -> Person | None:
    return await session.scalar(select(Person).where(Person.slack_id == slack_id))


async def get_person(session: AsyncSession, person_id: int) -> Person:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"There is no person with id {person_id}.")
    return person


async def do_create_invite(session: AsyncSession, scheme: Scheme, *, name: str, role: str,
                           area: str | None, actor: Person,
                           now: dt.datetime | None = None) -> Invite:
    """Invite someone: single use, expires after the scheme's invite_valid_days."""
    require(actor, Action.INVITE, target_type="invites")
    now = now or utcnow()
    name = " ".join(clean_text(name).split())
    if not name or len(name) > 120:
        raise InvalidInput("Please give the person's name (up to 120 characters).")
    try:
        role_value = Role(role.strip().lower())
    except ValueError:
        raise InvalidInput(f"{role!r} is not a role; choose one of: "
                           f"{', '.join(r.value for r in Role)}.") from None
    if role_value is Role.ADMIN and not actor.has_role(Role.ADMIN):
        raise InvalidInput("Administrators can only be invited from the command line.")
    area_row = None
    if role_value is Role.AMBASSADOR:
        if not area:
            raise InvalidInput("An ambassador needs an area; choose one of: "
                               f"{', '.join(scheme.areas)}.")
        area_row = await area_named(session, area)
    elif area:
        area_row = await area_named(session, area)
    invite = Invite(code=secrets.token_urlsafe(18), name=name, role=role_value.value,
                    area_id=area_row.id if area_row else None, created_by_id=actor.id,
                    created_at=now,
                    expires_at=now + dt.timedelta(days=scheme.limits.invite_valid_days))
    session.add(invite)
    await session.flush()
    audit(session, actor, "create_invite", target=invite,
          after=snapshot(invite, "name", "role", "area_id", "expires_at"))
    return invite


async def do_redeem_invite(session: AsyncSession, scheme: Scheme, *, code: str,
                           telegram_id: int | None = None, slack_id: str | None = None,
                           now: dt.datetime | None = None) -> Person:
    """Link a Telegram or Slack account to the invited person; the code then stops working."""
    now = now or utcnow()
    if (telegram_id is None) == (slack_id is None):
        raise InvalidInput("An invite is redeemed from exactly one app.")
    code = (code or "").strip()
    invite = await session.scalar(select(Invite).where(Invite.code == code)) if code else None
    if invite is None:
        raise NotFound("That invite code isn't recognised. Please use the link the office "
                       "sent you, or ask them for a new one.")
    if invite.used_at is not None:
        raise Conflict("That invite has already been used. Please ask the office for a new "
                       "one if you need it.")
    if invite.revoked_at is not None:
        raise Conflict("That invite was withdrawn by the office. Please ask them for a new one.")
    if invite.expires_at <= now:
        raise Conflict("That invite has expired. Please ask the office for a new one.")
    existing = (await person_by_telegram(session, telegram_id) if telegram_id is not None
                else await person_by_slack(session, slack_id or ""))
    if existing is not None:
        raise Conflict("This account is already linked to the scheme; there is nothing more "
                       "to do.")
    person = Person(name=invite.name, roles=[invite.role], area_id=invite.area_id,
                    telegram_id=telegram_id, slack_id=slack_id, active=True,
                    monthly_hours=(scheme.limits.hours_per_month
                                   if invite.role == Role.AMBASSADOR.value else 0))
    session.add(person)
    await session.flush()
    # Single use even under a race: only one transaction can flip used_at from NULL.
    claimed = await session.execute(update(Invite).where(Invite.id == invite.id,
                                                         Invite.used_at.is_(None))
                                    .values(used_at=now, used_by_id=person.id))
    if claimed.rowcount != 1:
        raise Conflict("That invite has already been used.")
    audit(session, person, "redeem_invite", target=invite,
          after={"person_id": person.id, "app": "telegram" if telegram_id else "slack"})
    return person


async def do_deactivate_person(session: AsyncSession, *, person_id: int, actor: Person,
                               reason: str | None = None) -> Person:
    """Deactivate: no more messages, nudges or access; invites they issued are revoked."""
    require(actor, Action.DEACTIVATE, target_type="people", target_id=person_id)
    person = await get_person(session, person_id)
    if not person.active:
        raise Conflict(f"{person.name} is already deactivated.")
    if person.id == actor.id:
        raise InvalidInput("You can't deactivate yourself; ask another officer.")
    before = snapshot(person, "active")
    person.active = False
    await session.execute(update(Invite).where(Invite.created_by_id == person.id,
                                               Invite.used_at.is_(None),
                                               Invite.revoked_at.is_(None))
                          .values(revoked_at=utcnow()))
    await session.execute(FormDraft.__table__.delete().where(FormDraft.person_id == person.id))
    audit(session, actor, "deactivate_person", target=person, before=before,
          after=snapshot(person, "active"), reason=reason)
    return person


async def do_set_away(session: AsyncSession, *, until: dt.date | None, actor: Person,
                      today: dt.date | None = None) -> Person:
    """Pause nudges and reminders until a date (None: back now)."""
    require(actor, Action.OWN_RECORDS, target_type="people", target_id=actor.id)
    today = today or utcnow().date()
    if until is not None and until <= today:
        raise InvalidInput("Please give a date after today for when you are back.")
    if until is not None and until > today + dt.timedelta(days=365):
        raise InvalidInput("You can be away for up to a year at a time.")
    before = snapshot(actor, "away_until")
    actor.away_until = until
    audit(session, actor, "set_away", target=actor, before=before,
          after=snapshot(actor, "away_until"))
    return actor


def is_reachable(person: Person, today: dt.date) -> bool:
    """Whether nudges and reminders may go to this person today (not away, not deactivated)."""
    return person.active and (person.away_until is None or person.away_until <= today)


async def active_people_with_role(session: AsyncSession, role: Role) -> list[Person]:
    people = (await session.scalars(select(Person).where(Person.active.is_(True))
                                    .order_by(Person.id))).all()
    return [p for p in people if p.has_role(role)]
