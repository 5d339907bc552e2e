"""The sandbox's demo scheme: who is in it, and a few weeks of what they did.

Everything is created through the storage operations — invites redeemed, engagements
pre-notified, feedback filed, follow-ups handled, grants recommended and decided, hours and
expenses logged, a meeting scheduled — each at a plausible moment before now, so the rules
hold, the audit trail reads like a real month and the outbox holds the posts the office would
have seen. The people are the same for every scheme; the places are the scheme's own: the
towns of its areas (West Mercia's are named below, another scheme's story happens in its own
areas) and the meeting venue and journey of its `words:`, so the Essex sandbox shows no
West Mercia place. Objectives and lists come from the scheme file too.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.media import MediaStore, PhotoProcessor
from storage.models import FollowUp, Person, Role
from storage.operations import (engagements, expenses, feedback, follow_ups, grants, hours,
                                meeting_notes, meetings, people)
from storage.scheme import Scheme

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoPerson:
    key: str
    name: str
    role: Role
    area_index: int | None = None        # the scheme's n-th area (ambassadors)
    telegram_id: int | None = None       # ambassadors are on Telegram…
    slack_id: str | None = None          # …the office is on Slack


AMBASSADORS = (
    DemoPerson("ann", "Ann Shaw", Role.AMBASSADOR, 0, telegram_id=7_100_001),
    DemoPerson("raj", "Raj Patel", Role.AMBASSADOR, 1, telegram_id=7_100_002),
    DemoPerson("megan", "Megan Pryce", Role.AMBASSADOR, 2, telegram_id=7_100_003),
    DemoPerson("tom", "Tom Fairbairn", Role.AMBASSADOR, 3, telegram_id=7_100_004),
)
OFFICE = (
    DemoPerson("officer", "Olivia Hart", Role.OFFICER, slack_id="U0SBOFFICER"),
    DemoPerson("commissioning", "Colin Marsh", Role.COMMISSIONING, slack_id="U0SBCOMMISS"),
    DemoPerson("commissioner", "Helen Ward", Role.COMMISSIONER, slack_id="U0SBCOMMISR"),
    DemoPerson("deputy", "Dev Sharma", Role.DEPUTY, slack_id="U0SBDEPUTY1"),
)
PEOPLE = AMBASSADORS + OFFICE
ROLE_TITLES = {Role.OFFICER: "Engagement officer", Role.COMMISSIONING: "Commissioning officer",
               Role.COMMISSIONER: "Commissioner", Role.DEPUTY: "Deputy Commissioner"}


# The towns of West Mercia's areas the demo story visits, in the order it visits them. For an
# area not listed here (another scheme's) the story's towns are the scheme's areas, starting
# at the ambassador's own.
TOWNS = {"Shropshire": ("Much Wenlock", "Bridgnorth", "Church Stretton"),
         "Telford and Wrekin": ("Telford", "Oakengates"),
         "Herefordshire": ("Ross-on-Wye", "Kington", "Leominster", "Hereford"),
         "Worcestershire": ("Evesham", "Droitwich Spa", "Malvern", "Worcester")}
BY_KEY = {who.key: who for who in AMBASSADORS}


def town(scheme: Scheme, key: str, nth: int = 0) -> str:
    """The `nth` town of the ambassador's part of the scheme."""
    who = BY_KEY[key]
    towns = TOWNS.get(area_of(scheme, who) or "")
    if towns:
        return towns[nth % len(towns)]
    return scheme.areas[((who.area_index or 0) + nth) % len(scheme.areas)]


def area_of(scheme: Scheme, who: DemoPerson) -> str | None:
    if who.area_index is None:
        return None
    return scheme.areas[who.area_index % len(scheme.areas)]


async def is_seeded(db: Database) -> bool:
    async with db.transaction() as s:
        first = AMBASSADORS[0].telegram_id
        return await s.scalar(select(Person.id).where(Person.telegram_id == first)) is not None


async def seed(db: Database, scheme: Scheme, now: dt.datetime,
               media_dir: Path | None = None) -> None:
    """Create the demo people and their history, everything dated before `now`; with
    `media_dir`, also a claim with its receipt photo waiting for the office."""
    history = _History(db, scheme, now)
    await history.people()
    await history.engagements_and_feedback()
    await history.grants()
    await history.hours_expenses_and_meetings()
    if media_dir is not None:
        await history.claim_with_receipt(media_dir)
    log.info("sandbox seeded: %d people and a few weeks of history", len(PEOPLE))


def _pick(options: list[str], wanted: list[str], count: int = 1) -> list[str]:
    """The wanted names the scheme has, else its first `count` (another scheme file)."""
    found = [name for name in wanted if name in options]
    return found or options[:count]


class _History:
    def __init__(self, db: Database, scheme: Scheme, now: dt.datetime) -> None:
        self.db, self.scheme, self.now = db, scheme, now
        self.today = now.astimezone(scheme.tz).date()
        self.ids: dict[str, int] = {}
        self.engagement_ids: dict[str, int] = {}

    def at(self, days: int, hour: int, minute: int = 0) -> dt.datetime:
        """A local wall-clock time `days` from today, as aware UTC."""
        day = self.today + dt.timedelta(days=days)
        local = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.scheme.tz)
        return local.astimezone(dt.UTC)

    async def person(self, s: AsyncSession, key: str) -> Person:
        return await people.get_person(s, self.ids[key])

    def town(self, key: str, nth: int = 0) -> str:
        return town(self.scheme, key, nth)

    def kind(self, wanted: str) -> str:
        return _pick(self.scheme.engagement_kinds, [wanted])[0]

    def groups(self, *wanted: str) -> list[str]:
        return _pick(self.scheme.demographic_groups, list(wanted))

    def topics(self, *wanted: str) -> list[str]:
        return _pick(self.scheme.topics, list(wanted))

    def objectives(self, *wanted: str) -> list[str]:
        return _pick(self.scheme.plan_objectives, list(wanted))

    # -- people ------------------------------------------------------------------------------

    async def people(self) -> None:
        """Invited by the command line's admin and linked, as `python -m bot invite` does."""
        joined = self.now - dt.timedelta(days=45)
        async with self.db.transaction() as s:
            admin = await people.cli_admin(s)
            for who in PEOPLE:
                invite = await people.do_create_invite(
                    s, self.scheme, name=who.name, role=who.role.value,
                    area=area_of(self.scheme, who), actor=admin, now=joined)
                person = await people.do_redeem_invite(
                    s, self.scheme, code=invite.code, telegram_id=who.telegram_id,
                    slack_id=who.slack_id, now=joined + dt.timedelta(hours=2))
                self.ids[who.key] = person.id

    # -- engagements, feedback, follow-ups ---------------------------------------------------

    async def engagement(self, key: str, who: str, title: str, kind: str, place: str,
                         starts: dt.datetime, hours_long: float, audience: int | None,
                         notice_days: int = 7) -> None:
        async with self.db.transaction() as s:
            e = await engagements.do_prenotify_engagement(
                s, self.scheme, title=title, kind=self.kind(kind), place=place,
                starts_at=starts, ends_at=starts + dt.timedelta(hours=hours_long),
                expected_audience=audience, actor=await self.person(s, who),
                now=min(starts - dt.timedelta(days=notice_days), self.now))
            self.engagement_ids[key] = e.id

    async def feedback(self, key: str, who: str, at: dt.datetime, *, attendees: int,
                       summary: str, groups: list[str], topics: list[str],
                       outcomes: str | None = None, follow_up: str = "none",
                       detail: str | None = None, urgency: str = "routine",
                       minutes: int | None = None) -> int | None:
        async with self.db.transaction() as s:
            fb = await feedback.do_file_feedback(
                s, self.scheme, engagement_id=self.engagement_ids[key], attendees=attendees,
                summary=summary, groups=groups, topics=topics, outcomes=outcomes,
                follow_up_needed=follow_up, follow_up_detail=detail, urgency=urgency,
                minutes_spent=minutes, actor=await self.person(s, who), now=at)
            found = await s.scalar(select(FollowUp.id).where(FollowUp.feedback_id == fb.id))
        return found

    async def handle(self, follow_up_id: int | None, who: str, at: dt.datetime,
                     operation: Callable[..., object], **extra: object) -> None:
        if follow_up_id is None:
            return
        async with self.db.transaction() as s:
            await operation(s, self.scheme, follow_up_id=follow_up_id,
                            actor=await self.person(s, who), now=at, **extra)

    async def engagements_and_feedback(self) -> None:
        at, t = self.at, self.town
        await self.engagement("wenlock", "ann", f"{t('ann')} parish council",
                              "Parish council meeting", self.scheme.words.place_example,
                              at(-20, 19), 2, 20)
        routine = await self.feedback(
            "wenlock", "ann", at(-19, 10), attendees=18,
            groups=self.groups("Rural communities", "Older people"),
            topics=self.topics("Road safety", "Rural crime"),
            summary="Councillors raised speeding on the High Street at school times and "
                    f"thefts from farm outbuildings on the {t('ann', 1)} road.",
            outcomes="Agreed to share how to set up a Community Speedwatch group.",
            follow_up="office", detail="Send the clerk the Speedwatch sign-up pack.",
            minutes=150)
        await self.handle(routine, "officer", at(-17, 11), follow_ups.do_complete_follow_up,
                          note="Pack sent to the parish clerk.")

        await self.engagement("bridgnorth", "ann", f"{t('ann', 1)} Rotary business breakfast",
                              "Business visit", f"Crown Hotel, {t('ann', 1)}", at(-9, 7, 30),
                              1.5, 30)
        await self.feedback(
            "bridgnorth", "ann", at(-9, 12), attendees=26, groups=self.groups("Businesses"),
            topics=self.topics("Fraud and scams"),
            summary="Talked through invoice-redirection fraud; two members had been "
                    "targeted this year.",
            outcomes="Rotary will circulate Action Fraud's business guide.", minutes=120)

        await self.engagement("woodside", "raj", "Woodside youth club",
                              "School or youth group", f"Woodside Youth Centre, {t('raj')}",
                              at(-15, 18), 2, 30)
        attention = await self.feedback(
            "woodside", "raj", at(-14, 9), attendees=31,
            groups=self.groups("Young people"),
            topics=self.topics("Anti-social behaviour", "Drugs"),
            summary="Young people said they avoid the Woodside shops after 9pm because of "
                    "dealing, and feel the police only come when something has happened.",
            outcomes="Youth workers will run a session with the Safer Neighbourhood Team.",
            follow_up="police_or_partner",
            detail="Ask the Safer Neighbourhood Team for visible evening patrols near the "
                   "Woodside shops.", urgency="attention", minutes=180)
        await self.handle(attention, "officer", at(-14, 11),
                          follow_ups.do_acknowledge_follow_up)

        await self.engagement("mosque", "raj", f"{t('raj')} Central Mosque open day",
                              "Community event", f"{t('raj')} Central Mosque", at(-6, 11), 4,
                              100)
        await self.feedback(
            "mosque", "raj", at(-6, 17), attendees=120,
            groups=self.groups("Faith groups", "Ethnic minority communities"),
            topics=self.topics("Visibility of police"),
            summary="Warm welcome; visitors asked how to report hate incidents and were "
                    "pleased to meet the local PCSO.", minutes=270)

        await self.engagement("ross", "megan", f"{t('megan')} older people's forum",
                              "Surgery or drop-in", f"Larruped Hall, {t('megan')}", at(-12, 14),
                              1.5, 15)
        forum = await self.feedback(
            "ross", "megan", at(-12, 18), attendees=16, groups=self.groups("Older people"),
            topics=self.topics("Fraud and scams"),
            summary="Doorstep traders and courier-fraud calls were the main worries.",
            outcomes="Forum will invite Trading Standards in the spring.", follow_up="office",
            detail="Send the forum the 'Take Five' leaflets (40 copies).", minutes=120)
        await self.handle(forum, "officer", at(-11, 10), follow_ups.do_acknowledge_follow_up)

        await self.engagement("kington", "megan", f"{t('megan', 1)} farmers' breakfast",
                              "Community event", f"{t('megan', 1)} Livestock Market", at(-4, 8),
                              2, 25)
        await self.feedback(  # the urgent one: left open for the office to act on
            "kington", "megan", at(-3, 9), attendees=22,
            groups=self.groups("Rural communities", "Businesses"),
            topics=self.topics("Rural crime"),
            summary=f"Three farms near {t('megan', 1)} lost quad bikes in one week. Farmers "
                    "say 101 calls go unanswered for up to an hour and they have stopped "
                    "reporting.",
            outcomes="Farmers agreed to join the Rural Crime WhatsApp group.",
            follow_up="commissioner",
            detail="Farmers ask the Commissioner to raise 101 answer times with the Chief "
                   "Constable before the lambing season.", urgency="urgent", minutes=150)

        await self.engagement("evesham", "tom", f"{t('tom')} Good Neighbours coffee morning",
                              "Community event", f"{t('tom')} Methodist Church", at(-13, 10), 2,
                              30)
        await self.feedback(
            "evesham", "tom", at(-13, 15), attendees=35,
            groups=self.groups("Older people", "Victims of crime"),
            topics=self.topics("Fraud and scams"),
            summary="Several people had received 'bank safe account' calls; one had lost "
                    "£2,000.", outcomes="Good Neighbours want to run scam-awareness sessions.",
            minutes=150)
        # Held yesterday, no feedback yet: the nudge falls due when the clock moves on.
        await self.engagement("droitwich", "tom", f"{t('tom', 1)} parish council",
                              "Parish council meeting", f"{t('tom', 1)} Town Hall", at(-1, 19),
                              2, 15, notice_days=6)

        for key, who, title, kind, place, starts, length in (
                ("stretton", "ann", f"{t('ann', 2)} school assembly", "School or youth group",
                 f"{t('ann', 2)} School", at(3, 9), 1),
                ("oakengates", "raj", f"{t('raj', 1)} partners' meeting", "Partner meeting",
                 f"{t('raj', 1)} Theatre", at(2, 14), 1),
                ("leominster", "megan", f"{t('megan', 2)} market stall", "Community event",
                 f"Market Square, {t('megan', 2)}", at(5, 10), 4),
                ("malvern", "tom", f"{t('tom', 2)} business crime forum", "Business visit",
                 f"{t('tom', 2)} Library", at(8, 18, 30), 2)):
            await self.engagement(key, who, title, kind, place, starts, length, None,
                                  notice_days=2)

    # -- grants ------------------------------------------------------------------------------

    async def grants(self) -> None:
        at, t = self.at, self.town
        async with self.db.transaction() as s:
            football = await grants.do_recommend_grant(
                s, self.scheme, applicant_organisation=f"{t('ann')} Juniors FC",
                applicant_contact="Sue Evans, 07700 900123",
                project="Floodlight hire so the under-14s can train on winter evenings "
                        "instead of gathering in the square.", amount_pence=60_000,
                objectives=self.objectives("Reassuring West Mercia's communities"),
                engagement_id=self.engagement_ids["wenlock"],
                actor=await self.person(s, "ann"), now=at(-18, 20))
        async with self.db.transaction() as s:
            await grants.do_refer_grant(s, self.scheme, grant_id=football.id,
                                        note="Clear community benefit; costs checked.",
                                        actor=await self.person(s, "commissioning"))
        async with self.db.transaction() as s:
            await grants.do_approve_grant(s, self.scheme, grant_id=football.id,
                                          actor=await self.person(s, "commissioner"),
                                          now=at(-14, 16))

        async with self.db.transaction() as s:
            scams = await grants.do_recommend_grant(
                s, self.scheme, applicant_organisation=f"{t('tom')} Good Neighbours",
                applicant_contact="Pat Morris, pat.morris@example.org",
                project="Six scam-awareness sessions for older residents with Trading "
                        "Standards, with printed guides to keep by the phone.",
                amount_pence=95_000,
                objectives=self.objectives("Putting victims and survivors first",
                                           "Reassuring West Mercia's communities"),
                engagement_id=self.engagement_ids["evesham"],
                actor=await self.person(s, "tom"), now=at(-11, 9))
        async with self.db.transaction() as s:
            await grants.do_add_deputy_recommendation(
                s, self.scheme, grant_id=scams.id,
                recommendation="Strongly support: fraud against older people is rising here.",
                actor=await self.person(s, "deputy"))
        async with self.db.transaction() as s:  # waiting for the Commissioner's decision
            await grants.do_refer_grant(s, self.scheme, grant_id=scams.id,
                                        actor=await self.person(s, "commissioning"))

        async with self.db.transaction() as s:  # waiting for the commissioning team
            await grants.do_recommend_grant(
                s, self.scheme, applicant_organisation="Woodside Community Garden",
                applicant_contact="Imran Khan, 07700 900456",
                project="Solar lighting along the garden path, where young people gather "
                        "after dark, so the garden can stay open in the evenings.",
                amount_pence=40_000,
                objectives=self.objectives("Building a more secure West Mercia"),
                engagement_id=self.engagement_ids["woodside"],
                actor=await self.person(s, "raj"), now=at(-5, 10))

    # -- a claim with a receipt, waiting for Approve / Query / Reject -------------------------

    async def claim_with_receipt(self, media_dir: Path) -> None:
        processor = PhotoProcessor(MediaStore(media_dir), workers=1, executor="thread")
        try:
            ticket = receipt_jpeg(self.town("tom", 3), self.town("tom", 2))
            photo = await processor.process(ticket, "receipt.jpg")
        finally:
            await processor.aclose()
        async with self.db.transaction() as s:
            await expenses.do_claim_expense(
                s, self.scheme, kind="travel", amount_pence=1240,
                incurred_on=self.today - dt.timedelta(days=3),
                description=f"Train from {self.town('tom', 3)} to {self.town('tom', 2)} for the "
                            "Good Neighbours meeting",
                receipt_path=str(photo.safe_path), receipt_thumb_path=str(photo.thumb_path),
                actor=await self.person(s, "tom"), today=self.today)

    # -- hours, expenses, a meeting ----------------------------------------------------------

    async def hours_expenses_and_meetings(self) -> None:
        t = self.town
        logged = {"ann": [(-20, 180, f"{t('ann')} parish council"), (-9, 150, "Rotary"),
                          (-7, 120, "Emails and planning")],
                  "raj": [(-15, 210, "Woodside youth club"), (-6, 300, "Mosque open day")],
                  "megan": [(-12, 150, "Older people's forum"),
                            (-4, 240, f"{t('megan', 1)}, with travel"),
                            (-2, 90, "Follow-up calls")],
                  "tom": [(-13, 180, "Good Neighbours coffee morning"), (-8, 60, "Phone calls")]}
        async with self.db.transaction() as s:
            for who, entries in logged.items():
                actor = await self.person(s, who)
                for days, minutes, what in entries:
                    await hours.do_log_hours(s, worked_on=self.today + dt.timedelta(days=days),
                                             minutes=minutes, description=what, actor=actor,
                                             today=self.today)
            await expenses.do_claim_expense(
                s, self.scheme, kind="mileage", amount_pence=None, miles_tenths=460,
                incurred_on=self.today - dt.timedelta(days=4),
                description=f"{t('megan', 3)} to {t('megan', 1)} and back for the farmers' "
                            "breakfast",
                actor=await self.person(s, "megan"), today=self.today)
        await self.meetings()

    async def meetings(self) -> None:
        """Last quarter's meeting with who came, its notes and two actions; the next one with
        the replies so far (a "can't come" with its note), at the scheme's own venue."""
        venue = self.scheme.words.meeting_venue
        async with self.db.transaction() as s:
            officer = await self.person(s, "officer")
            held = await meetings.do_schedule_meeting(
                s, self.scheme, kind="quarterly", title="Quarterly ambassadors' meeting",
                place=venue, starts_at=self.at(-20, 10), ends_at=self.at(-20, 12),
                actor=officer, now=self.now - dt.timedelta(days=40))
            coming = await meetings.do_schedule_meeting(
                s, self.scheme, kind="quarterly", title="Quarterly ambassadors' meeting",
                place=venue, starts_at=self.at(9, 10), ends_at=self.at(9, 12, 30),
                actor=officer, now=self.now - dt.timedelta(days=10))
            for meeting, replies, when in (
                    (held, {"ann": "yes", "raj": "yes", "megan": "yes",
                            "tom": ("no", "Caring for my mother that week")},
                     self.now - dt.timedelta(days=35)),
                    (coming, {"ann": "yes", "raj": "maybe",
                              "tom": ("no", "At my granddaughter's school play that morning")},
                     self.now - dt.timedelta(days=8))):
                for who, reply in replies.items():
                    answer, note = reply if isinstance(reply, tuple) else (reply, None)
                    await meetings.do_rsvp(s, self.scheme, meeting_id=meeting.id, answer=answer,
                                           note=note, actor=await self.person(s, who), now=when)
        async with self.db.transaction() as s:
            await meeting_notes.do_record_meeting_notes(
                s, self.scheme, meeting_id=held.id,
                attended_ids=[self.ids[k] for k in ("ann", "raj", "megan", "officer")],
                notes="Each area shared its successes: parish councils are asking for more "
                      "visits, and the youth clubs want a session on staying safe online.\n"
                      "Rural crime and speeding came up in every area.",
                decisions="Ambassadors will offer an online-safety session to youth clubs "
                          "this quarter.",
                actions=[meeting_notes.ActionItem(
                             "Send the youth clubs the online-safety session outline",
                             self.ids["ann"], self.today + dt.timedelta(days=5)),
                         meeting_notes.ActionItem(
                             "Ask the roads policing team for the speeding figures by area",
                             self.ids["officer"], self.today + dt.timedelta(days=12))],
                actor=await self.person(s, "officer"), now=self.now - dt.timedelta(days=19))


def receipt_jpeg(start: str, end: str) -> bytes:
    """A plausible till receipt, drawn (the demo has no real one to show)."""
    image = Image.new("RGB", (420, 560), "white")
    draw = ImageDraw.Draw(image)
    lines = ["RAILWAY TICKET", "", start[:24], f"  to {end}"[:26],
             "Off-peak day return", "", "1 x Adult          £12.40", "",
             "TOTAL              £12.40", "Paid by card", "", "Thank you for travelling"]
    for number, line in enumerate(lines):
        draw.text((30, 30 + 38 * number), line, fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
