"""Engagements: pre-notify, edit before held, cancel, mark held."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit, snapshot
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Engagement, EngagementStatus, Feedback, Person, utcnow
from storage.operations.people import area_named
from storage.parsers import format_when, too_early_sentence
from storage.permissions import Action, require
from storage.scheme import Scheme

EDITABLE = ("title", "kind", "place", "starts_at", "ends_at", "expected_audience", "area_id",
            "latitude", "longitude")
MAX_LENGTH_HOURS = 24


def _check_text(value: str, what: str, limit: int) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise InvalidInput(f"Please give the {what}.", field=what)
    if len(value) > limit:
        raise InvalidInput(f"The {what} can be up to {limit} characters; yours has "
                           f"{len(value):,}.", field=what)
    return value


def _check_times(starts_at: dt.datetime, ends_at: dt.datetime, *, now: dt.datetime,
                 after_the_fact: bool, tz: str, not_before: dt.datetime | None = None) -> None:
    if ends_at <= starts_at:
        raise InvalidInput("The end must be after the start "
                           f"({format_when(starts_at, tz)}).", field="ends_at")
    if ends_at - starts_at > dt.timedelta(hours=MAX_LENGTH_HOURS):
        raise InvalidInput(f"An engagement can last up to {MAX_LENGTH_HOURS} hours; please "
                           "split longer ones.", field="ends_at")
    if not after_the_fact and starts_at <= now:
        raise InvalidInput("Pre-notification is for engagements still to come; that time has "
                           "passed. Use /feedback to report one that already happened.",
                           field="starts_at")
    if after_the_fact and starts_at > now:
        raise InvalidInput("That start time is still to come; report it after it has "
                           "happened, or pre-notify it instead.", field="starts_at")
    if after_the_fact and not_before is not None and starts_at < not_before:
        raise InvalidInput(too_early_sentence(starts_at, not_before, tz), field="starts_at")


def _check_latlon(latitude: float | None, longitude: float | None) -> tuple[float | None,
                                                                            float | None]:
    if latitude is None or longitude is None:
        return None, None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidInput("That location is not on the map.", field="location")
    # Stored coarsely (about 1 km): where the meeting was, not whose house it was in.
    return round(latitude, 2), round(longitude, 2)


async def do_prenotify_engagement(
        session: AsyncSession, scheme: Scheme, *, title: str, kind: str, place: str,
        starts_at: dt.datetime, ends_at: dt.datetime, area: str | None = None,
        expected_audience: int | None = None, latitude: float | None = None,
        longitude: float | None = None, after_the_fact: bool = False, actor: Person,
        now: dt.datetime | None = None) -> Engagement:
    """Give notice of an engagement (or, with after_the_fact, report one already held)."""
    require(actor, Action.OWN_RECORDS, target_type="engagements")
    now = now or utcnow()
    title = _check_text(title, "title", 200)
    place = _check_text(place, "place", 200)
    if kind not in scheme.engagement_kinds:
        raise InvalidInput(f"Please choose the kind of engagement from: "
                           f"{', '.join(scheme.engagement_kinds)}.", field="kind")
    _check_times(starts_at, ends_at, now=now, after_the_fact=after_the_fact,
                 tz=scheme.timezone, not_before=scheme.earliest_report(now))
    if expected_audience is not None and not 0 <= expected_audience <= 100_000:
        raise InvalidInput("Please give the expected audience as a number from 0 to 100,000.",
                           field="expected_audience")
    if area:
        area_id = (await area_named(session, area)).id
    elif actor.area_id is not None:
        area_id = actor.area_id
    else:
        raise InvalidInput("Please choose the area.", field="area")
    latitude, longitude = _check_latlon(latitude, longitude)
    engagement = Engagement(
        ambassador_id=actor.id, area_id=area_id, title=title, kind=kind, place=place,
        starts_at=starts_at, ends_at=ends_at, expected_audience=expected_audience,
        latitude=latitude, longitude=longitude, reported_after=after_the_fact,
        status=(EngagementStatus.HELD if after_the_fact else EngagementStatus.PLANNED).value,
        notice_given_at=None if after_the_fact else now, created_at=now, updated_at=now)
    session.add(engagement)
    await session.flush()
    await session.refresh(engagement, ["area"])
    audit(session, actor, "report_engagement" if after_the_fact else "prenotify_engagement",
          target=engagement, after=snapshot(engagement, *EDITABLE, "status"))
    if not after_the_fact:
        when = format_when(starts_at, scheme.timezone)
        outbox.to_channel(
            session, scheme, "engagements", "engagement_prenotified",
            f"Coming up: {title} ({kind}) at {place}, {engagement.area.name}, {when}. "
            f"Notified by {actor.name}.",
            data={"engagement_id": engagement.id, "area": engagement.area.name,
                  "ambassador": actor.name, "title": title, "kind": kind, "place": place,
                  "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                  "expected_audience": expected_audience},
            ref=f"engagement:{engagement.id}:notice")
    return engagement


async def get_own_engagement(session: AsyncSession, engagement_id: int, actor: Person,
                             action: Action = Action.OWN_RECORDS) -> Engagement:
    engagement = await session.get(Engagement, engagement_id)
    if engagement is None:
        raise NotFound("That engagement no longer exists.")
    require(actor, action, target_type="engagements", target_id=engagement_id,
            owner_id=engagement.ambassador_id)
    return engagement


async def do_edit_engagement(session: AsyncSession, scheme: Scheme, *, engagement_id: int,
                             changes: dict[str, object], actor: Person,
                             now: dt.datetime | None = None) -> Engagement:
    """Correct a planned engagement; once held or cancelled it is part of the record."""
    now = now or utcnow()
    engagement = await get_own_engagement(session, engagement_id, actor)
    if engagement.status != EngagementStatus.PLANNED:
        raise Conflict(f"That engagement is already {engagement.status}, so it can't be "
                       "changed any more.")
    unknown = set(changes) - set(EDITABLE) - {"area"}
    if unknown:
        raise InvalidInput(f"These can't be changed here: {', '.join(sorted(unknown))}.")
    before = snapshot(engagement, *EDITABLE)
    for name, value in changes.items():
        if name in ("title", "place"):
            value = _check_text(str(value), name, 200)
        elif name == "kind" and value not in scheme.engagement_kinds:
            raise InvalidInput("Please choose the kind of engagement from the list.",
                               field="kind")
        elif name == "area":
            name, value = "area_id", (await area_named(session, str(value))).id
        setattr(engagement, name, value)
    engagement.latitude, engagement.longitude = _check_latlon(engagement.latitude,
                                                              engagement.longitude)
    _check_times(engagement.starts_at, engagement.ends_at, now=now, after_the_fact=False,
                 tz=scheme.timezone)
    after = snapshot(engagement, *EDITABLE)
    changed = {k: v for k, v in after.items() if before[k] != v}
    if not changed:
        return engagement
    audit(session, actor, "edit_engagement", target=engagement,
          before={k: before[k] for k in changed}, after=changed)
    outbox.to_channel(session, scheme, "engagements", "engagement_changed",
                      f"Changed by {actor.name}: {engagement.title}, now "
                      f"{format_when(engagement.starts_at, scheme.timezone)} at "
                      f"{engagement.place}.",
                      data={"engagement_id": engagement.id, "changes": sorted(changed)})
    return engagement


async def do_cancel_engagement(session: AsyncSession, scheme: Scheme, *, engagement_id: int,
                               reason: str | None, actor: Person) -> Engagement:
    engagement = await get_own_engagement(session, engagement_id, actor)
    if engagement.status != EngagementStatus.PLANNED:
        raise Conflict(f"That engagement is already {engagement.status}.")
    before = snapshot(engagement, "status")
    engagement.status = EngagementStatus.CANCELLED.value
    engagement.cancel_reason = " ".join((reason or "").split())[:500] or None
    audit(session, actor, "cancel_engagement", target=engagement, before=before,
          after=snapshot(engagement, "status"), reason=engagement.cancel_reason)
    outbox.to_channel(session, scheme, "engagements", "engagement_cancelled",
                      f"Cancelled by {actor.name}: {engagement.title} "
                      f"({format_when(engagement.starts_at, scheme.timezone)}).",
                      data={"engagement_id": engagement.id})
    return engagement


async def do_mark_engagement_held(session: AsyncSession, *, engagement_id: int, actor: Person,
                                  now: dt.datetime | None = None) -> Engagement:
    now = now or utcnow()
    engagement = await get_own_engagement(session, engagement_id, actor)
    if engagement.status == EngagementStatus.HELD:
        return engagement
    if engagement.status != EngagementStatus.PLANNED:
        raise Conflict(f"That engagement was {engagement.status}, so it can't be marked held.")
    if engagement.starts_at > now:
        raise InvalidInput("That engagement hasn't started yet.")
    before = snapshot(engagement, "status")
    engagement.status = EngagementStatus.HELD.value
    audit(session, actor, "mark_engagement_held", target=engagement, before=before,
          after=snapshot(engagement, "status"))
    return engagement


async def engagements_awaiting_feedback(session: AsyncSession, actor: Person, *,
                                        now: dt.datetime | None = None,
                                        days: int = 60) -> list[Engagement]:
    """The ambassador's engagements that have started, were not cancelled, and lack feedback."""
    now = now or utcnow()
    rows = await session.scalars(
        select(Engagement)
        .outerjoin(Feedback, Feedback.engagement_id == Engagement.id)
        .where(Engagement.ambassador_id == actor.id, Feedback.id.is_(None),
               Engagement.status != EngagementStatus.CANCELLED.value,
               Engagement.starts_at <= now,
               Engagement.starts_at >= now - dt.timedelta(days=days))
        .order_by(Engagement.starts_at.desc()))
    return list(rows.all())


async def recent_engagements(session: AsyncSession, actor: Person, *,
                             now: dt.datetime | None = None, days_back: int = 60,
                             limit: int = 8) -> list[Engagement]:
    """The ambassador's engagements that have started (not cancelled), latest first: there
    can be no photos yet of one that is still to come."""
    now = now or utcnow()
    rows = await session.scalars(
        select(Engagement).where(
            Engagement.ambassador_id == actor.id,
            Engagement.status != EngagementStatus.CANCELLED.value,
            Engagement.starts_at >= now - dt.timedelta(days=days_back),
            Engagement.starts_at <= now)
        .order_by(Engagement.starts_at.desc()).limit(limit))
    return list(rows.all())
