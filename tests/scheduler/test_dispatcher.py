"""The outbox dispatcher against the Telegram and Slack emulators with injected faults: every row
delivered or failed with a reason, none twice except an unknown outcome, order per chat kept;
two dispatchers on PostgreSQL deliver each row once."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from scheduler import render
from scheduler.dispatcher import Dispatcher, SlackSender, TelegramSender
from storage.models import Outbox, utcnow

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
SLACK_TOKEN = "xoxb-dispatcher-test"
ANN, BOB, CAROL, BLOCKED = 7001, 7002, 7003, 7004
ENGAGEMENTS, ALERTS, GRANTS = "#ambassador-engagements", "#ambassador-alerts", "#ambassador-grants"


class Rig:
    """Both emulators, a sender for each, and a way to make dispatchers on them."""

    def __init__(self, tg: TelegramEmulator, slack: SlackEmulator, db, scheme) -> None:
        self.tg, self.slack, self.db, self.scheme = tg, slack, db, scheme
        self.bot = Bot(DEFAULT_TOKEN, base_url=tg.base_url,
                       request=HTTPXRequest(connection_pool_size=32, read_timeout=0.4,
                                            write_timeout=0.4))
        self.client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack.api_base_url,
                                     retry_handlers=[], timeout=0.4)

    def dispatcher(self, **kw: Any) -> Dispatcher:
        senders = {"telegram": TelegramSender(self.bot), "slack": SlackSender(self.client)}
        kw.setdefault("backoff_base", 0.02)
        kw.setdefault("backoff_cap", 0.2)
        kw.setdefault("unknown_quarantine", 1.0)
        kw.setdefault("registry", CollectorRegistry())
        return Dispatcher(self.db, self.scheme, senders, **kw)

    async def queue(self, *rows: tuple[str, str, str], **extra: Any) -> list[int]:
        async with self.db.transaction() as s:
            made = [Outbox(transport=t, destination=d, event="test", payload={"text": text},
                           **extra) for t, d, text in rows]
            s.add_all(made)
            await s.flush()
            return [r.id for r in made]

    async def rows(self) -> list[Outbox]:
        async with self.db.transaction() as s:
            return list((await s.scalars(select(Outbox).order_by(Outbox.id))).all())

    def telegram_texts(self, chat: int) -> list[str]:
        return [m.text for m in self.tg.bot_messages(chat)]

    def slack_texts(self, channel: str) -> list[str]:
        return [m.text for m in self.slack.messages(channel)]


@pytest.fixture
async def rig(db, scheme):
    async with TelegramEmulator() as tg, SlackEmulator(bot_token=SLACK_TOKEN,
                                                       signing_secret="s") as slack:
        for user_id, name in ((ANN, "Ann"), (BOB, "Bob"), (CAROL, "Carol"),
                              (BLOCKED, "Blocked")):
            tg.user(user_id, name)
        tg.user(BLOCKED).blocked = True
        for channel in (ENGAGEMENTS, ALERTS, GRANTS):
            slack.add_channel(channel)
        slack.add_user("U0COMMISH", "john")
        made = Rig(tg, slack, db, scheme)
        try:
            yield made
        finally:
            await made.client.session.close() if made.client.session else None
            await made.bot.shutdown()


async def test_faults_lose_nothing_and_keep_each_chats_order(rig: Rig) -> None:
    """500s, 502 pages, 429 with retry-after, a blocked user and a missing channel: every row
    ends sent or failed with its reason, nothing twice, each chat in order, and the office
    hears once per destination that failed."""
    rows: list[tuple[str, str, str]] = []
    for i in range(6):
        rows += [("telegram", str(ANN), f"ann {i}"), ("telegram", str(BOB), f"bob {i} <b>x"),
                 ("slack", ENGAGEMENTS, f"eng {i} <!channel> & co"),
                 ("slack", "U0COMMISH", f"dm {i}")]
    rows += [("telegram", str(BLOCKED), "blocked 0"), ("telegram", str(BLOCKED), "blocked 1"),
             ("slack", "#no-such-channel", "lost 0"), ("telegram", str(CAROL), "carol 0")]
    await rig.queue(*rows)
    rig.tg.faults.server_error("sendMessage", times=3)
    rig.tg.faults.bad_gateway("sendMessage", times=2)
    rig.tg.faults.flood("sendMessage", retry_after=1)
    rig.slack.faults.fail("chat.postMessage", times=3)
    rig.slack.faults.rate_limit("chat.postMessage", retry_after=1)
    rig.slack.faults.error("chat.postMessage", "internal_error")
    dispatcher = rig.dispatcher()

    stats = await dispatcher.drain(timeout=20)

    assert stats.sent == len(rows) - 3 + 2 and stats.failed == 3   # + the two office alerts
    result = await rig.rows()
    assert {r.status for r in result} == {"sent", "failed"}
    failed = {(r.destination, r.error) for r in result if r.status == "failed"}
    assert failed == {(str(BLOCKED), "Telegram: Forbidden: bot was blocked by the user"),
                      ("#no-such-channel", "Slack: channel_not_found")}
    assert all(r.external_id for r in result if r.status == "sent")
    assert rig.telegram_texts(ANN) == [f"ann {i}" for i in range(6)]
    assert rig.telegram_texts(BOB) == [f"bob {i} <b>x" for i in range(6)]
    assert rig.telegram_texts(CAROL) == ["carol 0"]
    # Shown, not obeyed: the notification text is escaped like the blocks.
    assert rig.slack_texts(ENGAGEMENTS) == [f"eng {i} &lt;!channel&gt; &amp; co"
                                            for i in range(6)]
    assert rig.slack_texts("U0COMMISH") == [f"dm {i}" for i in range(6)]
    assert all(m.parse_mode is None for m in rig.tg.bot_messages(BOB))
    section = rig.slack.messages(ENGAGEMENTS)[0].blocks[0]["text"]["text"]
    assert section == "eng 0 &lt;!channel&gt; &amp; co"
    alerts = rig.slack_texts(ALERTS)
    assert len(alerts) == 2
    assert any(str(BLOCKED) in a and "blocked" in a for a in alerts)
    assert any("#no-such-channel" in a for a in alerts)
    # 429s were honoured: the next try came after the retry-after.
    flooded = [c for c in rig.tg.calls if c.method == "sendMessage"]
    i = next(i for i, c in enumerate(flooded) if c.status == 429)
    after = next(c for c in flooded[i + 1:] if c.params["chat_id"] == flooded[i].params["chat_id"])
    assert after.time - flooded[i].time >= 0.95
    registry = dispatcher.registry
    assert registry.get_sample_value("ambassador_outbox_sent_total",
                                     {"transport": "telegram"}) == 13
    assert registry.get_sample_value("ambassador_outbox_failed_total",
                                     {"transport": "slack", "status": "failed"}) == 1
    assert registry.get_sample_value("ambassador_outbox_retried_total",
                                     {"transport": "slack", "kind": "rate_limited"}) == 1
    assert registry.get_sample_value("ambassador_outbox_pending") == 0


async def test_an_unknown_outcome_is_retried_once_then_flagged(rig: Rig) -> None:
    """A timeout after the request left may have delivered: one more try, then `unknown`.
    The rows behind it in that chat still go, in order."""
    await rig.queue(("telegram", str(ANN), "first"), ("telegram", str(ANN), "second"),
                    ("slack", GRANTS, "grant"), ("slack", GRANTS, "grant 2"))
    rig.tg.faults.hang("sendMessage", seconds=0.6, times=2)          # both tries time out
    rig.slack.faults.hang("chat.postMessage", seconds=0.6)           # one try times out
    await rig.dispatcher().drain(timeout=20)
    by_text = {r.payload["text"]: r for r in await rig.rows()}
    assert by_text["first"].status == "unknown" and by_text["first"].attempts == 2
    assert "not known whether it was delivered" in by_text["first"].error
    assert by_text["second"].status == "sent"
    assert rig.telegram_texts(ANN) == ["first", "first", "second"]   # the ambiguous one twice
    assert by_text["grant"].status == "sent" and by_text["grant"].outcome_unknown
    assert "may show twice" in by_text["grant"].error
    assert rig.slack_texts(GRANTS) == ["grant", "grant", "grant 2"]


async def test_rewrites_edit_the_sent_message_or_post_anew(rig: Rig) -> None:
    await rig.queue(("slack", GRANTS, "Grant #1: recommended"), ref="grant:1:grants")
    await rig.queue(("telegram", str(ANN), "Decide grant #1"), ref="grant:1:decision")
    await rig.queue(("slack", "#no-such-channel", "Grant #2: recommended"), ref="grant:2:x")
    await rig.queue(("slack", GRANTS, "Grant #1: referred"), replaces_ref="grant:1:grants")
    await rig.queue(("telegram", str(ANN), "Grant #1: approved"),
                    replaces_ref="grant:1:decision")
    await rig.queue(("slack", GRANTS, "Grant #2: approved"), replaces_ref="grant:2:x")
    await rig.dispatcher().drain(timeout=10)
    [post, second] = rig.slack.messages(GRANTS)
    assert (post.text, [v.text for v in post.edits]) == ("Grant #1: referred",
                                                         ["Grant #1: recommended"])
    assert second.text == "Grant #2: approved"           # its original failed: posted anew
    [decision] = rig.tg.bot_messages(ANN)
    assert decision.text == "Grant #1: approved" and decision.edited
    rows = await rig.rows()
    assert rows[3].external_id == rows[0].external_id


async def test_the_digest_goes_with_its_blocks_and_its_chart(rig: Rig, tmp_path) -> None:
    chart = tmp_path / "digest-2026-W47.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n fake chart")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Engagements by area*"}}]
    async with rig.db.transaction() as s:
        s.add(Outbox(transport="slack", destination="#ambassador-digest", event="weekly_digest",
                     payload={"text": "Weekly digest", "blocks": blocks, "week": "2026-W47",
                              "chart_path": str(chart)}))
    rig.slack.add_channel("#ambassador-digest")
    await rig.dispatcher().drain(timeout=5)
    post, chart_message = rig.slack.messages("#ambassador-digest")
    assert post.text == "Weekly digest" and post.blocks[0]["text"]["text"] == \
        "*Engagements by area*"
    assert chart_message.thread_ts == post.ts
    [uploaded] = rig.slack.files.values()
    assert uploaded.content == chart.read_bytes() and "2026-W47" in uploaded.title
    [row] = await rig.rows()
    assert row.status == "sent"


async def test_a_dispatcher_that_died_while_sending(rig: Rig) -> None:
    """A row left `sending` past its lease: once more (flagged); if it was already flagged,
    it is not sent a third time but marked unknown."""
    past = utcnow() - dt.timedelta(minutes=5)
    [once] = await rig.queue(("telegram", str(ANN), "mid-send"), status="sending",
                             next_attempt_at=past, attempts=1)
    [twice] = await rig.queue(("telegram", str(BOB), "again"), status="sending",
                              next_attempt_at=past, attempts=2, outcome_unknown=True)
    await rig.dispatcher().drain(timeout=5)
    rows = {r.id: r for r in await rig.rows()}
    assert rows[once].status == "sent" and rows[once].outcome_unknown
    assert rows[twice].status == "unknown"
    assert rig.telegram_texts(ANN) == ["mid-send"] and rig.telegram_texts(BOB) == []


async def test_run_loop_delivers_soon_after_a_wake(rig: Rig) -> None:
    dispatcher = rig.dispatcher(poll_interval=30)
    task = asyncio.create_task(dispatcher.run())
    try:
        await asyncio.sleep(0.1)
        await rig.queue(("slack", ENGAGEMENTS, "woken"))
        dispatcher.wake()
        await rig.slack.wait_for(lambda: rig.slack_texts(ENGAGEMENTS) == ["woken"], 3)
    finally:
        await dispatcher.stop()
        await asyncio.wait_for(task, 5)


async def test_two_dispatchers_deliver_each_row_once(rig: Rig, db) -> None:
    """PostgreSQL, SKIP LOCKED: two dispatchers share the work; each row goes once, in order."""
    if db.dialect != "postgresql":
        pytest.skip("several dispatchers need PostgreSQL's SKIP LOCKED")
    destinations = [("telegram", str(ANN)), ("telegram", str(BOB)), ("telegram", str(CAROL)),
                    ("slack", ENGAGEMENTS), ("slack", GRANTS), ("slack", "U0COMMISH")]
    rows = [(t, d, f"{d} {i}") for i in range(40) for t, d in destinations]
    await rig.queue(*rows)
    rig.slack.faults.fail("chat.postMessage", times=4)
    rig.tg.faults.server_error("sendMessage", times=4)
    one, two = rig.dispatcher(batch_size=4), rig.dispatcher(batch_size=4)
    first, second = await asyncio.gather(one.drain(timeout=30), two.drain(timeout=30))
    assert first.sent and second.sent                      # both did some of the work
    assert first.sent + second.sent == len(rows)
    assert {r.status for r in await rig.rows()} == {"sent"}
    for transport, destination in destinations:
        texts = (rig.telegram_texts(int(destination)) if transport == "telegram"
                 else rig.slack_texts(destination))
        assert texts == [f"{destination} {i}" for i in range(40)]


# ---- renderers -----------------------------------------------------------------------------


class _Row:
    def __init__(self, transport: str, event: str, payload: dict[str, Any]) -> None:
        self.transport, self.destination, self.event, self.payload = (transport, "x", event,
                                                                      payload)


def test_default_renderers_send_plain_text_safely() -> None:
    assert render.render(_Row("telegram", "x", {"text": "<b>*hi*</b>"})) == {
        "text": "<b>*hi*</b>"}
    slack = render.render(_Row("slack", "x", {"text": "a <@U1> & b\n" + "y" * 5000}))
    assert slack["text"].startswith("a &lt;@U1&gt; &amp; b")
    assert slack["blocks"][0]["text"]["text"].startswith("a &lt;@U1&gt; &amp; b")
    assert all(len(b["text"]["text"]) <= 3000 for b in slack["blocks"])
    long = render.render(_Row("telegram", "x", {"text": "😀" * 3000}))["text"]
    assert len(long.encode("utf-16-le")) // 2 <= 4096 and long.endswith("(shortened)")


def test_registered_renderers_take_over_an_event() -> None:
    render.register("telegram", "test_event",
                    lambda row: {"text": row.payload["text"], "reply_markup": "buttons"})
    try:
        assert render.render(_Row("telegram", "test_event", {"text": "t"}))[
            "reply_markup"] == "buttons"
        assert "reply_markup" not in render.render(_Row("telegram", "other", {"text": "t"}))
    finally:
        render.unregister("telegram", "test_event")
    # Meetings carry their RSVP buttons on both transports.
    reminder = _Row("telegram", "meeting_reminder", {"text": "Reminder", "meeting_id": 4,
                                                     "rsvp": ["yes", "no", "maybe"],
                                                     "answer": "no"})
    keyboard = render.render(reminder)["reply_markup"].inline_keyboard
    assert [(b.text, b.callback_data) for b in keyboard[0]] == [
        ("✅ Yes, I'll come", "r|4|yes"), ("🤔 Maybe", "r|4|maybe"),
        ("• ❌ Can't make it", "r|4|no")]
    reminder.transport = "slack"
    [*_, actions] = render.render(reminder)["blocks"]
    assert [(b["action_id"], b["value"]) for b in actions["elements"]] == [
        ("meeting_rsvp_yes", "4:yes"), ("meeting_rsvp_maybe", "4:maybe"),
        ("meeting_rsvp_no", "4:no")]
    digest = render.render(_Row("slack", "weekly_digest", {"text": "t", "blocks": [{"a": 1}]}))
    assert digest == {"text": "t", "blocks": [{"a": 1}]}


# ---- files: the digest's chart really goes up -------------------------------------------


async def test_the_weekly_digest_chart_is_uploaded_through_faults_and_posted_once(
        rig: Rig, tmp_path) -> None:
    """post_digest → outbox → dispatcher → Slack: the chart PNG is uploaded with
    files.getUploadURLExternal / completeUploadExternal into the post's thread, in the digest
    channel and in the Commissioner's DM. A 500 and a 429 on the upload are retried without
    posting the digest again."""
    from scheduler.digest import CHART_SIZE, post_digest
    from sqlalchemy import update as sql_update
    from storage.models import Person
    from tests.scheduler.test_digest import _png_size
    from tests.storage.seed import NOW, Cast

    cast = await Cast.create(rig.db, rig.scheme)
    async with rig.db.transaction() as s:
        await s.execute(sql_update(Person).where(Person.id == cast.commissioner.id)
                        .values(telegram_id=None, slack_id="U0COMMISH"))
    digest_channel = rig.scheme.channels.digest
    rig.slack.add_channel(digest_channel)
    await post_digest(rig.db, rig.scheme, None, False, now=NOW, chart_dir=tmp_path)
    rig.slack.faults.fail("files.getUploadURLExternal", times=2)
    rig.slack.faults.rate_limit("files.completeUploadExternal", retry_after=1)

    await rig.dispatcher().drain(timeout=20)

    rows = await rig.rows()
    assert [(r.event, r.status, r.error) for r in rows] == [("weekly_digest", "sent", None)] * 2
    for destination in (digest_channel, "U0COMMISH"):
        post, chart = rig.slack.messages(destination)      # the digest once, its chart once
        assert post.text.startswith("Weekly digest") and post.blocks
        assert chart.thread_ts == post.ts and len(chart.files) == 1
        uploaded = rig.slack.files[chart.files[0]["id"]]
        assert uploaded.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert _png_size(uploaded.content) == CHART_SIZE
        assert uploaded.title.startswith("Weekly digest 2026-W47")
    assert len(rig.slack.calls_to("chat.postMessage")) == 2


async def test_a_chart_that_cannot_be_attached_leaves_the_post_delivered_with_the_reason(
        rig: Rig, tmp_path) -> None:
    rig.slack.add_channel("#ambassador-digest")
    async with rig.db.transaction() as s:
        s.add(Outbox(transport="slack", destination="#ambassador-digest", event="weekly_digest",
                     payload={"text": "Weekly digest", "week": "2026-W47",
                              "chart_path": str(tmp_path / "gone.png")}))
    await rig.dispatcher().drain(timeout=5)
    [post] = rig.slack.messages("#ambassador-digest")
    assert post.text == "Weekly digest"
    [row] = await rig.rows()
    assert row.status == "sent" and row.external_id
    assert row.error.startswith("posted, but its file was not attached")


# ---- a minute of 429s, and the database going away -----------------------------------------


async def test_a_minute_of_429s_loses_nothing_and_keeps_order(rig: Rig) -> None:
    """Telegram answers 429 (retry_after 20 s) three times running and Slack 429 (Retry-After
    30 s) twice: a minute on the dispatcher's clock. Each chat waits it out, in order, and
    tries no sooner than it was told; nothing is lost or sent twice."""
    moment = [utcnow() + dt.timedelta(seconds=1)]
    start = moment[0]
    await rig.queue(*[("telegram", str(ANN), f"ann {i}") for i in range(3)],
                    *[("slack", ENGAGEMENTS, f"eng {i}") for i in range(2)])
    rig.tg.faults.flood("sendMessage", retry_after=20, times=3)
    rig.slack.faults.rate_limit("chat.postMessage", retry_after=30, times=2)
    dispatcher = rig.dispatcher(clock=lambda: moment[0])
    seen: list[tuple[float, int, int]] = []
    while moment[0] - start < dt.timedelta(minutes=3):
        await dispatcher.run_once()
        seen.append(((moment[0] - start).total_seconds(), len(rig.telegram_texts(ANN)),
                     len(rig.slack_texts(ENGAGEMENTS))))
        if seen[-1][1:] == (3, 2):
            break
        moment[0] += dt.timedelta(seconds=5)
    assert rig.telegram_texts(ANN) == ["ann 0", "ann 1", "ann 2"]
    assert rig.slack_texts(ENGAGEMENTS) == ["eng 0", "eng 1"]
    first_ann = min(t for t, ann, _ in seen if ann)
    first_slack = min(t for t, _, eng in seen if eng)
    assert 60 <= first_ann <= 75 and 60 <= first_slack <= 75
    assert {r.status for r in await rig.rows()} == {"sent"}
    assert [c.status for c in rig.tg.calls_to("sendMessage")] == [429, 429, 429, 200, 200, 200]
    assert [c.status for c in rig.slack.calls_to("chat.postMessage")] == [429, 429, 200, 200]


async def test_the_dispatcher_waits_for_the_database_and_then_delivers(rig: Rig, db,
                                                                      tmp_path) -> None:
    """The database goes away with rows waiting and comes back: the running dispatcher logs,
    keeps going, and delivers every row once, in order."""
    from tests.scheduler.outage import Outage

    outage = await Outage.on(db, tmp_path)
    try:
        rig.db = outage.database
        await rig.queue(*[("slack", ENGAGEMENTS, f"eng {i}") for i in range(5)])
        dispatcher = rig.dispatcher(poll_interval=0.05)
        await outage.cut()
        task = asyncio.create_task(dispatcher.run())
        await asyncio.sleep(0.5)
        assert rig.slack_texts(ENGAGEMENTS) == [] and not task.done()
        await outage.restore()
        await rig.slack.wait_for(lambda: len(rig.slack_texts(ENGAGEMENTS)) == 5, 10)
        await dispatcher.stop()
        await asyncio.wait_for(task, 5)
        assert rig.slack_texts(ENGAGEMENTS) == [f"eng {i}" for i in range(5)]
        assert {r.status for r in await rig.rows()} == {"sent"}
    finally:
        await outage.close()
