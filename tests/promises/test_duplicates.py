"""Duplicates (issue 9): every Telegram update re-delivered, every Slack request retried with
X-Slack-Retry-Num — no record and no message twice."""

from __future__ import annotations

import os

from sqlalchemy import func, select

from bot.emulators.slack import AppResponse
from storage.models import (AuditEvent, FollowUp, GrantRecommendation, Invite, Media, Outbox,
                            ProcessedUpdate, Role)
from tests.handlers.slack.harness import (Office, photo, recommend_grant, refer_grant,
                                          urgent_feedback)
from tests.promises import duplicates
from tests.promises.logs import TYPED

AMBASSADORS = int(os.environ.get("PROMISES_DUPLICATE_AMBASSADORS", "6"))


async def test_telegram_every_update_redelivered_changes_and_says_nothing_twice(
        db, scheme, tmp_path) -> None:
    result = await duplicates.run(db, scheme, tmp_path / "media", ambassadors=AMBASSADORS)
    assert result.updates == AMBASSADORS * duplicates.UPDATES_PER_AMBASSADOR + \
        2 * duplicates.KNOCKS
    assert result.redelivered == result.updates
    assert result.lost == []
    assert result.duplicate_rows == {}
    assert result.duplicate_messages == 0


async def _rows(office: Office) -> dict[str, int]:
    async with office.db.transaction() as s:
        return {m.__tablename__: await s.scalar(select(func.count()).select_from(m))
                for m in (GrantRecommendation, FollowUp, Media, Outbox, Invite,
                          AuditEvent)}


def _seen(office: Office, users: list[str]) -> tuple:
    """Everything people can see on Slack: channel posts and their edits, ephemerals, views."""
    emu = office.emu
    posts = sum(len(c.by_ts) for c in emu.channels())
    edits = sum(len(m.versions) for c in emu.channels() for m in c.by_ts.values()
                if hasattr(m, "versions"))
    return (posts, edits, {u: len(emu.ephemerals(u)) for u in users},
            {u: len(emu.views(u)) for u in users})


async def test_slack_retries_of_every_kind_change_and_say_nothing_twice(office: Office) -> None:
    emu = office.emu
    olive, colin, john, ann = (office.uid(r) for r in (Role.OFFICER, Role.COMMISSIONING,
                                                         Role.COMMISSIONER, Role.AMBASSADOR))
    users = [olive, colin, john, ann]
    grant_id = await recommend_grant(office)
    follow_up_id = await urgent_feedback(office)
    await photo(office, children=False)
    await office.deliver()
    sent: list[AppResponse] = []

    def visible() -> tuple:
        return _seen(office, users), len(emu.calls), [
            (h.id, h.hash) if (h := emu.home(u)) else None for u in users]

    async def settle() -> None:
        """Until nothing visible changes for a moment: Bolt acks first and acts after, so
        an answer (or a duplicate) may follow the HTTP response."""
        while True:
            still = visible()
            try:
                await emu.wait_for(lambda: visible() != still, 0.15)
            except TimeoutError:
                return

    async def twice(request) -> AppResponse:
        """Do it, note what people see and what the database holds, retry it (twice, as
        Slack does), and check that nothing changed."""
        first = await request
        assert first.status == 200, first.body
        sent.append(first)
        await settle()
        await office.deliver()
        await settle()
        seen, rows = _seen(office, users), await _rows(office)
        for number in (1, 2):
            again = await emu.retry(first, retry_num=number)
            assert again.status == 200, again.body
        await settle()
        await office.deliver()
        await settle()
        assert _seen(office, users) == seen, first.request
        assert await _rows(office) == rows, first.request
        return first

    # Slash commands: read-only answers and one that changes a record.
    await twice(emu.slash_command(olive, "/ambassadors", "stats"))
    await twice(emu.slash_command(olive, "/ambassadors", "help"))
    await twice(emu.slash_command(olive, "/ambassadors", "meetings"))
    await twice(emu.slash_command(ann, "/ambassadors", "stats"))          # refused, audited once
    await twice(emu.slash_command(olive, "/ambassadors", "frobnicate"))
    # Buttons: the grant chain, a refusal, the follow-up alert, media review.
    grants_post = office.last(office.channel("grants"))
    await twice(emu.click(ann, grants_post, "grant_refer"))               # refused
    await twice(emu.click(colin, grants_post, "grant_refer"))
    await office.deliver()
    decision = await emu.wait_for(lambda: [m for c in emu.channels() for m in c.by_ts.values()
                                           if any(b.action_id == "grant_approve"
                                                  for b in emu.buttons(m))])
    await twice(emu.click(john, decision[-1], "grant_approve"))
    alert = office.last(office.channel("alerts"))
    await twice(emu.click(olive, alert, "follow_up_ack"))
    media_post = office.last(office.channel("media"))
    await twice(emu.click(olive, media_post, "media_approve"))
    # A modal opened from a button, and a form submitted in it.
    await emu.send_event(ann, {"type": "app_home_opened"})
    home = await emu.wait_for(lambda: emu.home(ann))
    await twice(emu.click(ann, home, "open_form_hours"))
    await emu.wait_for(lambda: emu.views(ann) and any(
        b.get("type") == "input" for b in emu.views(ann)[-1].blocks))
    await twice(emu.submit_view(ann, values={"worked_on": "2026-11-20", "minutes": "2",
                                             "description": f"{TYPED} leaflets"}))
    # Events: a DM to the app, the App Home opened.
    await twice(emu.send_dm(ann, f"{TYPED} hello"))
    await twice(emu.send_event(olive, {"type": "app_home_opened"}))

    async with office.db.transaction() as s:
        [grant] = (await s.scalars(select(GrantRecommendation))).all()
        assert (grant.id, grant.status) == (grant_id, "approved")
        [follow_up] = (await s.scalars(select(FollowUp))).all()
        assert (follow_up.id, follow_up.status) == (follow_up_id, "acknowledged")
        assert await s.scalar(select(func.count()).select_from(ProcessedUpdate).where(
            ProcessedUpdate.key.like("slack:in:%"))) == len(sent) + 1  # + Home, first


async def test_a_button_press_too_old_to_answer_is_still_handled(db, scheme) -> None:
    """After a restart Telegram may hand over presses too old to answer (answerCallbackQuery
    says 400): the press still takes effect and the next question comes, with no apology."""
    from bot.emulators.telegram import TelegramEmulator
    from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, said
    from tests.storage.seed import NOW, Cast
    cast = await Cast.create(db, scheme)
    async with TelegramEmulator(token=TOKEN) as emu:
        bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
        try:
            ann = emu.user(cast.ambassador.telegram_id, "Ann")
            await ann.send_command("/hours")
            await said(ann, "Which day?")
            emu.faults.fail("answerCallbackQuery", status=400, times=1, description=(
                "Bad Request: query is too old and response timeout expired or query ID "
                "is invalid"))
            await ann.press("Today")
            await said(ann, "How long did you work?")
            assert not [m for m in ann.bot_messages() if "went wrong" in (m.text or "")]
        finally:
            await bot.stop()
