"""Named people for operation tests: `ambassador("Shropshire")`, `commissioner()`..."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import Fund, Person, Role
from storage.operations.people import area_named, sync_scheme
from storage.scheme import Scheme

_ids = itertools.count(1000)
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


async def person(session: AsyncSession, role: Role, name: str | None = None,
                 area: str | None = None, active: bool = True) -> Person:
    area_id = (await area_named(session, area)).id if area else None
    someone = Person(name=name or f"{role.value.title()} {next(_ids)}", roles=[role.value],
                     area_id=area_id, telegram_id=next(_ids), active=active,
                     monthly_hours=40 if role is Role.AMBASSADOR else 0)
    session.add(someone)
    await session.flush()
    return someone


class Cast:
    """The usual people of a scheme, created once per test database."""

    ambassador: Person
    other_ambassador: Person
    officer: Person
    commissioning: Person
    commissioner: Person
    deputy: Person
    admin: Person

    @classmethod
    async def create(cls, db: Database, scheme: Scheme) -> Cast:
        cast = cls()
        async with db.transaction() as s:
            await sync_scheme(s, scheme)
            # The tests' clock (NOW) and the real one may fall in different financial years
            # (a fresh clone run after March 2027): both have an open fund.
            start, end = scheme.finance.financial_year(NOW.date())
            if await s.scalar(select(Fund.id).where(Fund.starts_on == start)) is None:
                s.add(Fund(name=f"{scheme.name} grant fund {start.year}", committed_pence=0,
                           size_pence=scheme.limits.fund_size_pence, starts_on=start,
                           ends_on=end))
            cast.ambassador = await person(s, Role.AMBASSADOR, "Ann Shropshire", "Shropshire")
            cast.other_ambassador = await person(s, Role.AMBASSADOR, "Bob Hereford",
                                                 "Herefordshire")
            cast.officer = await person(s, Role.OFFICER, "Olive Officer")
            cast.commissioning = await person(s, Role.COMMISSIONING, "Colin Commissioning")
            cast.commissioner = await person(s, Role.COMMISSIONER, "John Campion")
            cast.deputy = await person(s, Role.DEPUTY, "Dee Deputy")
            cast.admin = await person(s, Role.ADMIN, "Adam Admin")
        return cast

    def by_role(self, role: Role) -> Person:
        return {Role.AMBASSADOR: self.ambassador, Role.OFFICER: self.officer,
                Role.COMMISSIONING: self.commissioning, Role.COMMISSIONER: self.commissioner,
                Role.DEPUTY: self.deputy, Role.ADMIN: self.admin}[role]
