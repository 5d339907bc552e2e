"""The office on Slack for tests: the real Bolt app behind a loopback aiohttp server, the Slack
emulator signing requests to it and answering its Web API calls, the Cast with Slack ids, and
a small stand-in for the outbox dispatcher that posts rows with our renderers."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from telegram import Bot

from bot.emulators.slack import SlackEmulator, SlackMessage
from bot.emulators.telegram import DEFAULT_TOKEN as TELEGRAM_TOKEN
from bot.emulators.telegram import TelegramEmulator
from handlers.slack.app import build_slack_app, slack_events_handler
from handlers.slack.render import render
from storage.db import Database
from storage.media import MediaStore, PhotoProcessor
from storage.models import AuditEvent, Outbox, Person, Role, utcnow
from storage.scheme import Scheme
from tests.storage.seed import Cast

TOKEN = "xoxb-ambassador-tests"
SECRET = "ambassador-signing-secret"
STRANGER_ID = "U0STRANGE1"
SLACK_IDS = {Role.AMBASSADOR: "U0ANNSHROP", Role.OFFICER: "U0OLIVEOFF",
             Role.COMMISSIONING: "U0COLINCOM", Role.COMMISSIONER: "U0JOHNPCC1",
             Role.DEPUTY: "U0DEEDPCC1", Role.ADMIN: "U0ADAMADM1"}
BOB = "U0BOBHEREF"
OFFICE_ROLES = (Role.OFFICER, Role.COMMISSIONING, Role.COMMISSIONER, Role.DEPUTY, Role.ADMIN)


@dataclass
class Office:
    emu: SlackEmulator
    db: Database
    scheme: Scheme
    cast: Cast
    client: AsyncWebClient
    telegram: TelegramEmulator
    dispatcher: Any = None
    posted: dict[str, tuple[str, str]] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)

    def uid(self, role: Role) -> str:
        return SLACK_IDS[role]

    def channel(self, key: str) -> str:
        return getattr(self.scheme.channels, key)

    async def deliver(self) -> None:
        """Send what the outbox holds: through the real dispatcher (scheduler/) when it is
        there, to both emulators; else with the stand-in below."""
        if self.dispatcher is not None:
            await self.dispatcher.drain(timeout=10)
            return
        await self._stand_in_deliver()

    def telegram_texts(self, person: Person) -> list[str]:
        return [m.text or "" for m in self.telegram.bot_messages(person.telegram_id)]

    async def _stand_in_deliver(self) -> None:
        """Post every pending Slack row as the dispatcher would (new post, or a rewrite of
        the post its replaces_ref names); Telegram rows stay pending for the assertions."""
        async with self.db.transaction() as s:
            rows = (await s.scalars(select(Outbox).where(
                Outbox.status == "pending", Outbox.transport == "slack")
                .order_by(Outbox.id))).all()
        for row in rows:
            rendered = render(row.event, row.payload, self.scheme.timezone)
            file = rendered.get("file")
            if row.replaces_ref and row.replaces_ref in self.posted:
                channel, ts = self.posted[row.replaces_ref]
                await self.client.chat_update(channel=channel, ts=ts, text=rendered["text"],
                                              blocks=rendered["blocks"])
            else:
                if file and os.path.exists(file["path"]):
                    await self.client.files_upload_v2(
                        file=file["path"], filename=file["filename"], title=file["title"],
                        alt_txt=file["alt_text"], channel=self.emu.channel(
                            row.destination).id)
                sent = await self.client.chat_postMessage(channel=row.destination,
                                                          text=rendered["text"],
                                                          blocks=rendered["blocks"])
                if row.ref:
                    self.posted[row.ref] = (sent["channel"], sent["ts"])
            async with self.db.transaction() as s:
                await s.execute(update(Outbox).where(Outbox.id == row.id)
                                .values(status="sent", sent_at=utcnow()))

    def last(self, channel: str) -> SlackMessage:
        message = self.emu.last_message(channel)
        assert message is not None, f"nothing in {channel}"
        return message

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        async with self.db.transaction() as s:
            order = getattr(model, "id", None)
            query = select(model).where(*where)
            return list((await s.scalars(query.order_by(order) if order is not None
                                         else query)).all())

    async def refusals(self, action: str | None = None) -> list[AuditEvent]:
        where = [AuditEvent.outcome == "refused"]
        if action:
            where.append(AuditEvent.action == action)
        return await self.rows(AuditEvent, *where)

    async def ephemeral(self, user: str, fragment: str) -> SlackMessage:
        """Wait for a new ephemeral message to `user` (since the last one this returned)
        containing `fragment`."""
        start = self.seen.get(user, 0)

        def seen() -> SlackMessage | None:
            shown = self.emu.ephemerals(user)
            for index in range(start, len(shown)):
                if fragment in shown[index].text or fragment in str(shown[index].blocks):
                    self.seen[user] = index + 1
                    return shown[index]
            return None
        try:
            return await self.emu.wait_for(seen, 5)
        except TimeoutError:
            said = [m.text for m in self.emu.ephemerals(user)]
            raise AssertionError(f"no ephemeral with {fragment!r} for {user}; got {said}") \
                from None


async def link_slack_ids(db: Database, cast: Cast) -> None:
    """Office people on Slack only; Ann on Telegram and Slack (Telegram first for news); Bob
    on Slack only."""
    async with db.transaction() as s:
        for role, slack_id in SLACK_IDS.items():
            person = cast.by_role(role)
            values: dict[str, Any] = {"slack_id": slack_id}
            if role in OFFICE_ROLES:
                values["telegram_id"] = None
            await s.execute(update(Person).where(Person.id == person.id).values(**values))
            for key, value in values.items():
                setattr(person, key, value)
        await s.execute(update(Person).where(Person.id == cast.other_ambassador.id)
                        .values(slack_id=BOB, telegram_id=None))
        cast.other_ambassador.slack_id, cast.other_ambassador.telegram_id = BOB, None


async def running_office(db: Database, scheme: Scheme, clock: Any = utcnow,
                         chart_dir: Any = None, media_dir: Any = None) -> AsyncIterator[Office]:
    """`media_dir`: where the safe-media pipeline (on threads) keeps photos sent from Slack;
    without it the Photos form points ambassadors to Telegram."""
    cast = await Cast.create(db, scheme)
    await link_slack_ids(db, cast)
    processor = (PhotoProcessor(MediaStore(media_dir), workers=1, executor="thread")
                 if media_dir is not None else None)
    async with SlackEmulator(bot_token=TOKEN, signing_secret=SECRET) as emu, \
            TelegramEmulator() as telegram, aiohttp.ClientSession() as session:
        telegram.user(cast.ambassador.telegram_id, "Ann")
        for role, slack_id in SLACK_IDS.items():
            emu.add_user(slack_id, role.value, cast.by_role(role).name)
        emu.add_user(BOB, "bob", cast.other_ambassador.name)
        emu.add_user(STRANGER_ID, "stranger", "Sam Stranger")
        for key in ("engagements", "alerts", "media", "grants", "digest"):
            emu.add_channel(getattr(scheme.channels, key))
        app = build_slack_app(db, scheme, token=TOKEN, signing_secret=SECRET,
                              api_base_url=emu.api_base_url, clock=clock, session=session,
                              telegram_bot_username="WestMerciaAmbassadorBot",
                              chart_dir=chart_dir, media_processor=processor)
        server = web.Application()
        server.router.add_post("/slack/events", slack_events_handler(app))
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        emu.app_url = f"http://{host}:{port}/slack/events"
        client = AsyncWebClient(token=TOKEN, base_url=emu.api_base_url, session=session)
        bot = Bot(TELEGRAM_TOKEN, base_url=telegram.base_url)
        office = Office(emu, db, scheme, cast, client, telegram,
                        dispatcher=_dispatcher(db, scheme, client, bot))
        try:
            yield office
        finally:
            await runner.cleanup()
            await bot.shutdown()
            if processor is not None:
                await processor.aclose()


def _dispatcher(db: Database, scheme: Scheme, client: AsyncWebClient, bot: Bot) -> Any:
    """The outbox dispatcher of scheduler/, sending to both emulators (None until it exists)."""
    try:
        from prometheus_client import CollectorRegistry
        from scheduler.dispatcher import Dispatcher, SlackSender, TelegramSender
    except ImportError:
        return None
    return Dispatcher(db, scheme, {"slack": SlackSender(client),
                                   "telegram": TelegramSender(bot)},
                      registry=CollectorRegistry(), backoff_base=0.02, backoff_cap=0.2)


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


# ---- records the tests start from (made with the operations, as the ambassadors would) -----

async def recommend_grant(office: Office, amount_pence: int = 75_000,
                          organisation: str = "Ludlow Youth Club") -> int:
    from storage.operations import grants
    async with office.db.transaction() as s:
        grant = await grants.do_recommend_grant(
            s, office.scheme, applicant_organisation=organisation,
            applicant_contact="Sam Jones, 01584 000000",
            project="Summer boxing sessions for 12–16 year olds",
            amount_pence=amount_pence, objectives=["Reassuring West Mercia's communities"],
            actor=await s.merge(office.cast.ambassador))
        return grant.id


async def refer_grant(office: Office, grant_id: int) -> None:
    from storage.operations import grants
    async with office.db.transaction() as s:
        await grants.do_refer_grant(s, office.scheme, grant_id=grant_id,
                                    actor=await s.merge(office.cast.commissioning))


async def held_engagement(office: Office, title: str = "Much Wenlock parish council") -> int:
    from storage.operations import engagements
    now = utcnow()
    async with office.db.transaction() as s:
        engagement = await engagements.do_prenotify_engagement(
            s, office.scheme, title=title, kind="Parish council meeting",
            place="Memorial Hall", starts_at=now - days(1),
            ends_at=now - days(1) + dt.timedelta(hours=2), after_the_fact=True,
            actor=await s.merge(office.cast.ambassador), now=now)
        return engagement.id


async def urgent_feedback(office: Office, detail: str = "Speeding outside the school") -> int:
    """Feedback marked urgent: a follow-up and an alert. Returns the follow-up id."""
    from storage.models import FollowUp
    from storage.operations import feedback
    engagement_id = await held_engagement(office)
    async with office.db.transaction() as s:
        filed = await feedback.do_file_feedback(
            s, office.scheme, engagement_id=engagement_id, attendees=40,
            summary="Residents worried about speeding", follow_up_needed="police_or_partner",
            follow_up_detail=detail, urgency="urgent",
            actor=await s.merge(office.cast.ambassador))
        follow_up = await s.scalar(select(FollowUp).where(FollowUp.feedback_id == filed.id))
        return follow_up.id


async def photo(office: Office, *, children: bool, consent: bool = True,
                safe_path: str | None = None) -> int:
    from storage.operations import media
    engagement_id = await held_engagement(office, "Ludlow food fair")
    async with office.db.transaction() as s:
        item = await media.do_record_media(
            s, office.scheme, engagement_id=engagement_id, kind="photo", consent_given=consent,
            children_present=children, caption="The stall", safe_path=safe_path,
            actor=await s.merge(office.cast.ambassador))
        return item.id
