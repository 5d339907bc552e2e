"""A month of every schedule across the spring clock change, end to end: the scheduler on a
clock the test moves, every job on its scheme schedule, and the real dispatcher delivering
what they wrote to the Telegram and Slack emulators. Who got what, when (local time), and what
it looked like. (The October change is in test_runner.py.)"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update
from telegram import Bot

from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from scheduler.digest import CHART_SIZE
from scheduler.dispatcher import Dispatcher, SlackSender, TelegramSender
from scheduler.runner import ManualClock, ScheduleRunner
from storage.models import Engagement, Feedback, FollowUp, Meeting, Outbox, Person
from storage.scheme import Schedules
from tests.scheduler.test_digest import _png_size
from storage.scheme_meetings import Meetings
from tests.storage.seed import Cast

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
SLACK_TOKEN = "xoxb-month-test"
COMMISSIONER = "U0COMMISH"


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LONDON).astimezone(UTC)


async def seed(db, cast: Cast) -> None:
    """Ann's engagement ends without feedback; Bob's too, while he is away until Thursday 19
    March; a quarterly meeting after the clocks change; a follow-up that goes overdue."""
    ann, bob = cast.ambassador, cast.other_ambassador
    async with db.transaction() as s:
        await s.execute(update(Person).where(Person.id == bob.id)
                        .values(away_until=dt.date(2026, 3, 19)))
        await s.execute(update(Person).where(Person.id == cast.commissioner.id)
                        .values(telegram_id=None, slack_id=COMMISSIONER))
        s.add_all([
            Engagement(ambassador_id=ann.id, area_id=ann.area_id, title="Clun show",
                       kind="Other", place="Showground", starts_at=local(2026, 3, 14, 12),
                       ends_at=local(2026, 3, 14, 16), status="planned"),
            Engagement(ambassador_id=bob.id, area_id=bob.area_id, title="Ledbury market",
                       kind="Other", place="Market hall", starts_at=local(2026, 3, 12, 9),
                       ends_at=local(2026, 3, 12, 13), status="planned")])
        held = Engagement(ambassador_id=ann.id, area_id=ann.area_id, title="Ludlow PACT",
                          kind="Other", place="Assembly rooms", starts_at=local(2026, 3, 10, 19),
                          ends_at=local(2026, 3, 10, 21), status="held")
        s.add(held)
        await s.flush()
        feedback = Feedback(engagement_id=held.id, ambassador_id=ann.id, attendees=25,
                            summary="Speeding on the bypass", submitted_at=local(2026, 3, 11, 9))
        s.add(feedback)
        await s.flush()
        s.add(FollowUp(feedback_id=feedback.id, engagement_id=held.id, needed_by="police",
                       urgency="attention", detail="Speed checks on the bypass", status="open",
                       due_at=local(2026, 3, 18, 9, 30), created_at=local(2026, 3, 11, 9)))
        s.add(Meeting(kind="quarterly", title="Quarterly meeting", place="Hindlip",
                      starts_at=local(2026, 4, 2, 10), ends_at=local(2026, 4, 2, 12),
                      created_by_id=cast.officer.id))


async def test_a_month_of_schedules_across_the_spring_clock_change(db, scheme,
                                                                   tmp_path) -> None:
    # The one meeting seeded is followed here; the scheme's own series has its own tests
    # (tests/storage/test_meeting_series.py).
    scheme = scheme.model_copy(update={"meetings": Meetings()})
    cast = await Cast.create(db, scheme)
    await seed(db, cast)
    ann, bob = cast.ambassador, cast.other_ambassador
    start, end = local(2026, 3, 9, 0, 0), local(2026, 4, 8, 0, 0)   # clocks go forward 29 Mar
    clock = ManualClock(start)
    # Six-hourly reminders keep the month quick (hourly across the change: test_runner.py).
    # Escalation looks every minute in a real office; six-hourly here keeps the month quick.
    scheme = scheme.model_copy(update={"schedules": Schedules(
        feedback_nudges="0 */6 * * *", escalation="15 */6 * * *")})
    runner = ScheduleRunner(db, scheme, clock=clock, chart_dir=tmp_path / "charts",
                            election_interval=0.1, retry_delay=0.05)
    written: dict[tuple[str, str], list[str]] = defaultdict(list)   # (who, event) -> when
    last_id = 0

    async def collect() -> None:
        nonlocal last_id
        async with db.transaction() as s:
            rows = (await s.scalars(select(Outbox).where(Outbox.id > last_id)
                                    .order_by(Outbox.id))).all()
        for row in rows:
            written[(row.destination, row.event)].append(
                clock.now().astimezone(LONDON).strftime("%a %d %b %H:%M"))
            last_id = row.id

    await runner.start()
    try:
        assert await runner.wait_until_leader()
        await runner.tick()
        await collect()
        while (due := runner.next_wakeup()) is not None and due < end:
            clock.set(due)
            ran = await runner.tick()
            assert ran and all(r.scheduled == due for r in ran)
            await collect()
    finally:
        await runner.stop()
    runs: dict[str, list[dt.datetime]] = defaultdict(list)
    for run in runner.history:
        runs[run.job_id].append(run.scheduled)

    # Every schedule at its local time, before and after the change.
    def at(job: str) -> list[str]:
        return [t.astimezone(LONDON).strftime("%a %d %b %H:%M") for t in runs[job]]

    assert at("weekly_digest") == ["Mon 09 Mar 08:00", "Mon 16 Mar 08:00", "Mon 23 Mar 08:00",
                                   "Mon 30 Mar 08:00", "Mon 06 Apr 08:00"]
    assert [t.astimezone(UTC).hour for t in runs["weekly_digest"]] == [8, 8, 8, 7, 7]
    assert at("weekly_catch_up") == ["Wed 11 Mar 10:00", "Wed 18 Mar 10:00",
                                     "Wed 25 Mar 10:00", "Wed 01 Apr 10:00"]
    assert at("monthly_hours_summary") == ["Wed 01 Apr 09:00"]
    assert len(runs["overdue_follow_ups"]) == 22 and {t[-5:] for t in at(
        "overdue_follow_ups")} == {"09:00"}
    assert len(runs["retention"]) == 30 and {t[-5:] for t in at("retention")} == {"02:30"}
    assert len(runs["reminders"]) == 30 * 4

    # What each person was sent, and when.
    tg_ann, tg_bob = str(ann.telegram_id), str(bob.telegram_id)
    assert written[(tg_ann, "feedback_nudge")] == ["Sun 15 Mar 18:00", "Wed 18 Mar 18:00"]
    # Bob was away: nothing until Thursday 19 March, then what he missed that is still due.
    assert written[(tg_bob, "feedback_nudge")] == ["Thu 19 Mar 00:00", "Sun 22 Mar 00:00"]
    assert written[(tg_ann, "catch_up_question")] == [
        "Wed 11 Mar 10:00", "Wed 18 Mar 10:00", "Wed 25 Mar 10:00", "Wed 01 Apr 10:00"]
    assert written[(tg_bob, "catch_up_question")] == [
        "Thu 19 Mar 00:00", "Wed 25 Mar 10:00", "Wed 01 Apr 10:00"]
    for person in (tg_ann, tg_bob):
        assert written[(person, "meeting_reminder")] == ["Thu 26 Mar 12:00",
                                                         "Wed 01 Apr 12:00"]
        assert written[(person, "hours_summary")] == ["Wed 01 Apr 09:00"]
    digests = ["Mon 09 Mar 08:00", "Mon 16 Mar 08:00", "Mon 23 Mar 08:00",
               "Mon 30 Mar 08:00", "Mon 06 Apr 08:00"]
    assert written[(scheme.channels.digest, "weekly_digest")] == digests
    assert written[(COMMISSIONER, "weekly_digest")] == digests
    overdue = written[(scheme.channels.alerts, "follow_ups_overdue")]
    assert overdue[0] == "Thu 19 Mar 09:00" and len(overdue) == 14        # weekdays to 7 Apr

    # Delivered: what they saw on Telegram and Slack.
    async with TelegramEmulator() as tg, SlackEmulator(bot_token=SLACK_TOKEN,
                                                       signing_secret="s") as slack:
        tg.user(ann.telegram_id, "Ann")
        tg.user(bob.telegram_id, "Bob")
        for key in ("digest", "alerts", "engagements"):
            slack.add_channel(getattr(scheme.channels, key))
        slack.add_user(COMMISSIONER, "john")
        bot = Bot(DEFAULT_TOKEN, base_url=tg.base_url)
        client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack.api_base_url,
                                retry_handlers=[])
        try:
            dispatcher = Dispatcher(db, scheme, {"telegram": TelegramSender(bot),
                                                 "slack": SlackSender(client)},
                                    registry=CollectorRegistry())
            await dispatcher.drain(timeout=60)
        finally:
            await bot.shutdown()
            if client.session:
                await client.session.close()
        async with db.transaction() as s:
            statuses = set((await s.scalars(select(Outbox.status))).all())
        assert statuses == {"sent"}
        texts = [m.text for m in tg.bot_messages(ann.telegram_id)]
        assert len(texts) == sum(len(v) for (who, _), v in written.items() if who == tg_ann)
        reminders = [m for m in tg.bot_messages(ann.telegram_id)
                     if m.text.startswith("Reminder: Quarterly meeting")]
        assert [m.text.split(" — ")[0] for m in reminders] == [
            "Reminder: Quarterly meeting is next week", "Reminder: Quarterly meeting is tomorrow"]
        assert all("Thu 2 Apr 2026, 10:00" in m.text for m in reminders)   # local, BST
        assert all([t for row in m.buttons for t, _ in row] ==
                   ["✅ Yes, I'll come", "🤔 Maybe", "❌ Can't make it"] for m in reminders)
        assert [t for t in texts if t.startswith("In March 2026 you logged no hours")]
        for destination in (scheme.channels.digest, COMMISSIONER):
            posts = [m for m in slack.messages(destination) if not m.thread_ts]
            charts = [m for m in slack.messages(destination) if m.files]
            assert len(posts) == 5 and len(charts) == 5
            assert [c.thread_ts for c in charts] == [p.ts for p in posts]
            for chart in charts:
                assert _png_size(slack.files[chart.files[0]["id"]].content) == CHART_SIZE
        assert "1 follow-up is overdue" in slack.messages(scheme.channels.alerts)[0].text
