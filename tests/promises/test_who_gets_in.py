"""Who gets in (issue 9, DESIGN §7–§8) through both transports: unknown Telegram users,
deactivated people, each role for each action, forged Slack signatures, stale timestamps, a
Telegram webhook with the wrong secret — all refused, all audited, nothing leaked."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update

from bot.emulators.telegram import TelegramEmulator
from bot.runner import run
from bot.settings import Settings
from handlers.telegram.router import INACTIVE, STRANGER
from storage.models import (AuditEvent, Engagement, ExpenseClaim, FormDraft,
                            GrantRecommendation, HoursEntry, Invite, Outbox, Person,
                            ProcessedUpdate, Role)
from storage.permissions import WHY, Action
from tests.handlers.slack.harness import SECRET, STRANGER_ID, Office
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, buttons, said
from tests.promises.logs import SECRETS, TYPED, WEBHOOK_SECRET
from tests.storage.seed import NOW, Cast

A, O, C, P, D, X = (Role.AMBASSADOR, Role.OFFICER, Role.COMMISSIONING, Role.COMMISSIONER,
                    Role.DEPUTY, Role.ADMIN)
RECORDS = (Engagement, HoursEntry, GrantRecommendation, ExpenseClaim, FormDraft, Invite)


async def count(db, model, *where) -> int:
    async with db.transaction() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def refusals(db, action: str) -> list[AuditEvent]:
    async with db.transaction() as s:
        return list((await s.scalars(select(AuditEvent).where(
            AuditEvent.outcome == "refused", AuditEvent.action == action)
            .order_by(AuditEvent.id))).all())


async def records(db) -> dict[str, int]:
    return {m.__tablename__: await count(db, m) for m in RECORDS}


def no_leak(text: str, cast: Cast) -> None:
    """A refusal names nobody and nothing of the scheme's, and no secret."""
    for secret in SECRETS:
        assert secret not in text
    for someone in (cast.ambassador, cast.officer, cast.commissioner, cast.deputy):
        assert someone.name not in text
    assert "Traceback" not in text and "Error" not in text


@pytest.fixture
async def telegram(db, scheme):
    cast = await Cast.create(db, scheme)
    async with TelegramEmulator(token=TOKEN) as emu:
        bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
        yield emu, cast
        await bot.stop()


async def test_an_unknown_telegram_user_gets_one_sentence_for_anything(telegram, db) -> None:
    emu, cast = telegram
    mallory = emu.user(66_666, "Mallory")
    before = await records(db)
    await mallory.send_text("/start")
    await mallory.send_text("/menu")
    await mallory.send_text(f"{TYPED} give me the records of Ann Shropshire")
    await mallory.send_text("/start NOT-A-CODE")
    await mallory.send_text("/hours")
    await mallory.send_sticker()
    # A button press forged from a form's callback data (Submit of form sequence 1).
    await emu.wait_for(lambda: mallory.bot_messages(), 10)
    emu._press_button(mallory, mallory.chat, mallory.bot_messages()[0], "f|1|submit|")
    await emu.wait_for(lambda: len(mallory.bot_messages()) >= 7, 10)
    replies = [m.text for m in mallory.bot_messages()]
    assert replies[3] != STRANGER and "invite" in replies[3].lower()  # the code, refused
    assert [r for i, r in enumerate(replies) if i != 3] == [STRANGER] * 6
    assert all(not m.buttons for m in mallory.bot_messages())
    for reply in replies:
        no_leak(reply, cast)
    assert await records(db) == before
    knocks = await refusals(db, "telegram_stranger")
    assert len(knocks) == 7
    assert {k.actor_label for k in knocks} == {"telegram user 66666"}
    assert all(TYPED not in (k.reason or "") for k in knocks)


async def test_a_deactivated_person_is_refused_mid_form_and_audited(telegram, db) -> None:
    emu, cast = telegram
    ann = emu.user(cast.ambassador.telegram_id, "Ann")
    await ann.send_command("/hours")
    await said(ann, "Which day?")
    await ann.press("Today")
    await said(ann, "How long did you work?")
    async with db.transaction() as s:
        await s.execute(update(Person).where(Person.id == cast.ambassador.id)
                        .values(active=False))
    before = await records(db)
    sent = len(ann.bot_messages())
    await ann.send_text("2")
    await said(ann, "not active")
    await ann.press("◀ Back", ann.bot_messages()[-2])
    await ann.send_command("/grant")
    await ann.send_command("/mine")
    await emu.wait_for(lambda: len(ann.bot_messages()) >= sent + 4, 10)
    assert [m.text for m in ann.bot_messages()[sent:]] == [INACTIVE] * 4
    assert await records(db) == before  # the draft stays; nothing new
    knocks = await refusals(db, "telegram_inactive")
    assert [k.actor_id for k in knocks] == [cast.ambassador.id] * 4


@pytest.mark.parametrize("role", [O, C, P, D, X])
async def test_office_roles_on_telegram_cannot_file_an_ambassadors_records(
        telegram, db, role) -> None:
    """Only ambassadors file engagements, hours, grants... (DESIGN §8); someone of the office
    who has linked Telegram is told why in one line when they start, and it is audited."""
    emu, cast = telegram
    someone = cast.by_role(role)
    phone = emu.user(someone.telegram_id, someone.name)
    before = await records(db)
    expected = []
    for command in ("/hours", "/prenotify", "/feedback", "/photos", "/expenses", "/away",
                    "/grant"):
        action = Action.RECOMMEND_GRANT if command == "/grant" else Action.OWN_RECORDS
        await phone.send_command(command)
        refusal = await said(phone, WHY[action])
        no_leak(refusal.text, cast)
        assert not refusal.buttons
        expected.append((someone.id, action.value))
    await phone.send_command("/menu")
    await said(phone, "What would you like to do?")
    await phone.press("⏱ Log hours")
    await said(phone, WHY[Action.OWN_RECORDS])
    expected.append((someone.id, Action.OWN_RECORDS.value))
    assert await records(db) == before
    async with db.transaction() as s:
        audited = [(e.actor_id, e.action) for e in (await s.scalars(select(AuditEvent).where(
            AuditEvent.outcome == "refused").order_by(AuditEvent.id))).all()]
    assert audited == expected


# ---- Slack: each role for each slash command and form ----------------------------------------

COMMANDS = {"stats": (Action.SEE_ALL, {O, P, D, X}),
            "invite": (Action.INVITE, {O, D, X}),
            "meetings": (Action.MANAGE_MEETINGS, {O, D, X}),
            "export": (Action.EXPORT, {X}),
            "digest": (Action.SEE_ALL, {O, P, D, X})}


async def test_slack_commands_and_forms_by_every_role(office: Office) -> None:
    emu, db = office.emu, office.db
    expected_refusals: list[tuple[int, str]] = []
    for sub, (action, allowed) in COMMANDS.items():
        for role in (A, O, C, P, D, X):
            user = office.uid(role)
            answer = await emu.slash_command(user, "/ambassadors", sub)
            assert answer.status == 200
            if role in allowed:
                continue
            said = await office.ephemeral(user, WHY[action])
            no_leak(said.text, office.cast)
            expected_refusals.append((office.cast.by_role(role).id, action.value))
    # An ambassador's form, opened by each office role from the DM menu's button.
    await emu.send_dm(office.uid(A), f"{TYPED} hi")
    await office.deliver()
    menu = await emu.wait_for(lambda: [m for m in emu.messages(emu.user(office.uid(A))
                                                                .dm_channel)
                                       if emu.buttons(m)])
    for role in (O, C, P, D, X):
        user = office.uid(role)
        await emu.click(user, menu[-1], "open_form_hours")
        await office.ephemeral(user, WHY[Action.OWN_RECORDS])
        expected_refusals.append((office.cast.by_role(role).id, Action.OWN_RECORDS.value))
    async with db.transaction() as s:
        audited = [(e.actor_id, e.action) for e in (await s.scalars(select(AuditEvent).where(
            AuditEvent.outcome == "refused").order_by(AuditEvent.id))).all()]
    assert sorted(audited) == sorted(expected_refusals)
    assert await count(db, Invite) == 0 and await count(db, HoursEntry) == 0


# ---- Slack: forged and stale requests ------------------------------------------------------

FORGERIES = ({"bad_signature": True}, {"timestamp_offset": -301}, {"timestamp_offset": -86_400},
             {"timestamp_offset": 600}, {"sign": False})


async def test_forged_or_stale_slack_requests_are_refused_audited_and_say_nothing(
        office: Office) -> None:
    emu, db = office.emu, office.db
    olive, ann, colin = office.uid(O), office.uid(A), office.uid(C)
    from tests.handlers.slack.harness import recommend_grant
    await recommend_grant(office)
    await office.deliver()
    grants_post = office.last(office.channel("grants"))
    before_rows = {m.__tablename__: await count(db, m)
                   for m in (*RECORDS, Outbox, ProcessedUpdate)}
    answers = []
    for forgery in FORGERIES:
        answers += [
            await emu.slash_command(olive, "/ambassadors", "stats", **forgery),
            await emu.slash_command(STRANGER_ID, "/ambassadors", "join ABC", **forgery),
            await emu.click(colin, grants_post, "grant_refer", **forgery),
            await emu.send_dm(ann, f"{TYPED} hello", **forgery),
            await emu.send_event(olive, {"type": "app_home_opened"}, **forgery),
        ]
    assert [a.status for a in answers] == [401] * len(answers)
    for a in answers:
        assert SECRET not in a.body and "v0=" not in a.body and TYPED not in a.body
    assert emu.ephemerals(olive) == [] and emu.home(olive) is None
    assert {m.__tablename__: await count(db, m)
            for m in (*RECORDS, Outbox, ProcessedUpdate)} == before_rows
    [grant] = await office.rows(GrantRecommendation)
    assert grant.status == "recommended"
    knocks = await refusals(db, "slack_request_unverified")
    assert len(knocks) == len(answers)
    assert all(k.actor_id is None and k.reason for k in knocks)
    # The same requests, signed: they work (so it was the signature that was refused).
    assert (await emu.slash_command(olive, "/ambassadors", "stats")).status == 200
    await office.ephemeral(olive, "figures")


# ---- Telegram webhook secret -----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_webhook_call_without_the_secret_is_refused_audited_and_runs_nothing(
        db, scheme, logs) -> None:
    cast = await Cast.create(db, scheme)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    async with TelegramEmulator(token=TOKEN) as emu:
        settings = Settings(_env_file=None, database_url=db.url,
                            telegram_bot_token=SecretStr(TOKEN),
                            telegram_api_base_url=emu.base_url, telegram_webhook_url=url,
                            telegram_webhook_secret=SecretStr(WEBHOOK_SECRET),
                            http_host="127.0.0.1", http_port=port)
        stop = asyncio.Event()
        task = asyncio.create_task(run(settings, scheme, stop=stop))
        try:
            await emu.wait_for(lambda: [c for c in emu.calls if c.method == "setWebhook"], 15)
            ann = cast.ambassador.telegram_id
            phone = emu.user(ann, "Ann")
            await phone.send_command("/help")  # the server is up once this is answered
            await said(phone, "I help you keep", timeout=15)
            refused = []
            async with aiohttp.ClientSession() as http:
                for n, headers in enumerate((
                        {}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                        {"X-Telegram-Bot-Api-Secret-Token": ""},
                        {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET[:-1]},
                        {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET + "x"})):
                    forged = {"update_id": 900_000 + n, "message": {
                        "message_id": n + 1, "date": 0, "chat": {"id": ann, "type": "private"},
                        "from": {"id": ann, "is_bot": False, "first_name": "A"},
                        "text": "/hours"}}
                    async with http.post(url, json=forged, headers=headers) as response:
                        refused.append((response.status, await response.text()))
            assert [status for status, _ in refused] == [403] * 5
            for _, body in refused:
                assert WEBHOOK_SECRET not in body and TOKEN not in body
            # The real Telegram (the emulator, with the secret) still gets through.
            await phone.send_command("/help")
            await emu.wait_for(lambda: len(phone.bot_messages()) == 2, 10)
            assert [m.text[:15] for m in phone.bot_messages()] == ["I help you keep"] * 2
            async with db.transaction() as s:
                assert await s.scalar(select(func.count()).select_from(ProcessedUpdate).where(
                    ProcessedUpdate.key.like("tg:9000%"))) == 0
                assert await s.scalar(select(func.count()).select_from(FormDraft)) == 0
            knocks = await refusals(db, "telegram_webhook_secret")
            assert len(knocks) == 5 and all(k.actor_label == "127.0.0.1" for k in knocks)
            # The logs were captured (and are checked for the secret when the test ends).
            assert logs.text.count("telegram webhook refused") == 5
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


async def test_a_deactivated_person_on_slack_is_refused_everything_and_audited(
        office: Office) -> None:
    from tests.handlers.slack.harness import urgent_feedback
    emu, db, cast = office.emu, office.db, office.cast
    await urgent_feedback(office)
    await office.deliver()
    alert = office.last(office.channel("alerts"))
    async with db.transaction() as s:
        await s.execute(update(Person).where(Person.id.in_([cast.officer.id,
                                                            cast.ambassador.id]))
                        .values(active=False))
    olive, ann = office.uid(O), office.uid(A)
    outbox_before = await count(db, Outbox)
    await emu.slash_command(olive, "/ambassadors", "stats")
    await office.ephemeral(olive, INACTIVE)
    await emu.click(olive, alert, "follow_up_ack")
    await office.ephemeral(olive, INACTIVE)
    await emu.send_dm(ann, f"{TYPED} hello")
    await office.ephemeral(ann, INACTIVE)
    await emu.send_event(ann, {"type": "app_home_opened"})
    home = await emu.wait_for(lambda: emu.home(ann))
    assert INACTIVE in str(home.blocks) and not emu.buttons(home)
    assert await count(db, Outbox) == outbox_before  # no menu queued for Ann
    async with db.transaction() as s:
        audited = (await s.scalars(select(AuditEvent.actor_id).where(
            AuditEvent.outcome == "refused"))).all()
    assert sorted(audited) == sorted([cast.officer.id] * 2 + [cast.ambassador.id])
