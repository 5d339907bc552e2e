"""The weekly digest: figures from a seeded week whose answers are known, a quiet week, Slack's
limits, the chart, and posting (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import struct

import pytest
from sqlalchemy import select, update

from scheduler.digest import (CHART_SIZE, AreaWeek, Digest, UrgentItem, build_digest,
                              digest_blocks, digest_chart_png, digest_text, parse_week,
                              post_digest)
from storage.models import (Engagement, Feedback, FeedbackGroup, FeedbackTopic, FollowUp, Fund,
                            FundLedgerEntry,
                            GrantRecommendation, HoursEntry, Media, Outbox)
from tests.storage.seed import Cast

UTC = dt.UTC
WEEK = dt.date(2026, 11, 16)          # Monday of 2026-W47 (GMT: local time is UTC)


def at(day: int, hour: int = 10, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=UTC)


@pytest.fixture
async def cast(db, scheme) -> Cast:
    return await Cast.create(db, scheme)


async def seed_week(db, cast: Cast) -> None:
    """Two weeks and a little history, every figure chosen so the digest's answer is known."""
    ann, bob = cast.ambassador, cast.other_ambassador
    shrop, hereford = ann.area_id, bob.area_id

    def engagement(who, area, start, status, title, hours=2):
        return Engagement(ambassador_id=who.id, area_id=area, title=title, kind="Other",
                          place="Village hall", starts_at=start,
                          ends_at=start + dt.timedelta(hours=hours), status=status)

    def feedback(e, attendees, groups=(), topics=(), outcomes=None):
        return Feedback(engagement_id=e.id, ambassador_id=e.ambassador_id, attendees=attendees,
                        summary="Went well", outcomes=outcomes, submitted_at=e.ends_at,
                        groups=[FeedbackGroup(name=g) for g in groups],
                        topics=[FeedbackTopic(name=t) for t in topics])

    async with db.transaction() as s:
        e1 = engagement(ann, shrop, at(16, 18), "held", "Much Wenlock parish council")
        e2 = engagement(ann, shrop, at(18, 10), "held", "Oswestry coffee morning", 1)
        e3 = engagement(bob, hereford, at(19, 19), "planned", "Ledbury surgery")
        e4 = engagement(bob, hereford, at(21, 11), "cancelled", "Ross market stall")
        p1 = engagement(ann, shrop, at(10, 18), "held", "Ludlow youth club")
        p2 = engagement(bob, hereford, at(11, 14), "planned", "Kington business breakfast")
        o1 = engagement(bob, hereford, at(26, 10, month=10), "held", "Leominster church")
        o2 = engagement(ann, shrop, at(19, 10, month=10), "held", "Shrewsbury traders")
        n1 = engagement(ann, shrop, dt.datetime(2026, 11, 23, 0, 0, tzinfo=UTC), "planned",
                        "Midnight patrol ride-along")
        n2 = engagement(bob, hereford, at(27, 19), "planned", "Bromyard parish council")
        n3 = engagement(bob, hereford, at(29, 12), "cancelled", "Hay fair")
        s.add_all([e1, e2, e3, e4, p1, p2, o1, o2, n1, n2, n3])
        await s.flush()
        f1 = feedback(e1, 30, ["Young people", "Older people"],
                      ["Anti-social behaviour", "Road safety"], outcomes="Speed watch agreed")
        f2 = feedback(e2, 12, ["Older people"], ["Fraud and scams"])
        fp1 = feedback(p1, 20, ["Young people"], ["Anti-social behaviour"], outcomes="Mural")
        fo1 = feedback(o1, 40, ["Faith groups"])
        fo2 = feedback(o2, 15, ["Businesses"])
        s.add_all([f1, f2, fp1, fo1, fo2])
        await s.flush()
        s.add_all([
            FollowUp(feedback_id=f1.id, engagement_id=e1.id, needed_by="office",
                     urgency="urgent", detail="Street lights out on the High Street",
                     owner_id=cast.officer.id, status="acknowledged", due_at=at(17, 20),
                     created_at=at(16, 20)),
            FollowUp(feedback_id=fp1.id, engagement_id=p1.id, needed_by="office",
                     urgency="routine", detail="Send the mural contacts", status="done",
                     due_at=at(17, 18), created_at=at(10, 20), done_at=at(20, 9)),
            FollowUp(feedback_id=fo1.id, engagement_id=o1.id, needed_by="police_or_partner",
                     urgency="attention", detail="Parking on the green", status="done",
                     due_at=at(30, 10, month=10), created_at=at(27, 10, month=10),
                     done_at=at(24, 9)),
        ])
        for status, pence, decided in (("recommended", 50_000, None),
                                       ("referred", 80_000, None),
                                       ("approved", 100_000, at(18, 15)),
                                       ("rejected", 20_000, at(20, 10, month=10))):
            s.add(GrantRecommendation(ambassador_id=ann.id, area_id=shrop,
                                      applicant_organisation="Wenlock Youth", applicant_contact="x",
                                      project="Mural", amount_pence=pence, status=status,
                                      decided_at=decided))
        await s.execute(update(Fund).values(committed_pence=100_000))
        # The fund's ledger says when: the digest shows the fund as it stood at the week's end.
        s.add(FundLedgerEntry(fund_id=await s.scalar(select(Fund.id)), amount_pence=-100_000,
                              note="Grant to Wenlock Youth", created_at=at(18, 15)))
        s.add_all([HoursEntry(person_id=ann.id, worked_on=dt.date(2026, 11, 2), minutes=120),
                   HoursEntry(person_id=ann.id, worked_on=dt.date(2026, 11, 17), minutes=90),
                   HoursEntry(person_id=bob.id, worked_on=dt.date(2026, 10, 30), minutes=60),
                   HoursEntry(person_id=bob.id, worked_on=dt.date(2026, 11, 21), minutes=30),
                   HoursEntry(person_id=bob.id, worked_on=dt.date(2026, 11, 23), minutes=45)])
        for created, review in ((at(17), "approved"), (at(18), "pending"), (at(12), "rejected")):
            s.add(Media(engagement_id=e1.id, ambassador_id=ann.id, kind="photo",
                        review_status=review, created_at=created))


async def test_digest_figures_for_a_seeded_week(db, scheme, cast) -> None:
    """Every figure matches the week seeded by hand, with the week before for comparison."""
    await seed_week(db, cast)
    async with db.transaction() as s:
        d = await build_digest(s, scheme, WEEK + dt.timedelta(days=3))  # any day of the week
    assert d.week_start == WEEK and d.iso_week == "2026-W47"
    by_area = {a.area: a for a in d.areas}
    assert [a.area for a in d.areas] == scheme.areas
    # The average week of the four before the week before (12 Oct to 8 Nov): one held
    # engagement each, 15 and 40 people.
    assert by_area["Shropshire"] == AreaWeek("Shropshire", held=2, reached=42, prev_held=1,
                                             prev_reached=20, avg_held=0.25, avg_reached=3.75)
    assert by_area["Herefordshire"] == AreaWeek("Herefordshire", planned=1, cancelled=1,
                                                prev_planned=1, avg_held=0.25, avg_reached=10)
    assert by_area["Worcestershire"] == AreaWeek("Worcestershire")
    assert (d.feedback_filed, d.prev_feedback_filed, d.outcomes, d.prev_outcomes) == (2, 1, 1, 1)
    assert d.groups_met == [("Older people", 2), ("Young people", 1)]
    assert d.groups_not_reached["Shropshire"] == [
        g for g in scheme.demographic_groups if g not in ("Young people", "Older people")]
    assert "Faith groups" not in d.groups_not_reached["Herefordshire"]
    assert len(d.groups_not_reached["Herefordshire"]) == 8
    assert d.groups_not_reached["Worcestershire"] == scheme.demographic_groups
    assert d.topics == [("Anti-social behaviour", 1, 1), ("Road safety", 1, 0),
                        ("Fraud and scams", 1, 0)]
    assert (d.follow_ups_new, d.prev_follow_ups_new, d.follow_ups_open,
            d.follow_ups_overdue) == (1, 1, 2, 2)
    assert [(u.urgency, u.owner) for u in d.urgent] == [("urgent", "Olive Officer"),
                                                        ("attention", None)]
    assert [(g.status, g.count, g.pence) for g in d.grant_stages] == [
        ("recommended", 1, 50_000), ("referred", 1, 80_000)]
    assert (d.grants_approved, d.grants_rejected) == ((1, 100_000), 0)
    assert (d.fund_size_pence, d.fund_remaining_pence) == (4_000_000, 3_900_000)
    hours = {h.name: (h.week_minutes, h.month_minutes, h.commitment_minutes) for h in d.hours}
    assert hours == {"Ann Shropshire": (90, 210, 2400), "Bob Hereford": (30, 30, 2400)}
    assert [(e.title, e.ambassador) for e in d.feedback_overdue] == [
        ("Kington business breakfast", "Bob Hereford")]
    assert d.feedback_overdue_count == 1
    assert [e.title for e in d.next_week] == ["Midnight patrol ride-along",
                                              "Bromyard parish council"]
    assert (d.media_received, d.prev_media_received, d.media_approved, d.media_pending) == \
        (2, 1, 1, 1)
    assert not d.is_quiet

    text = digest_text(d)
    assert "Weekly digest: Mon 16 Nov 2026 to Sun 22 Nov 2026" in text
    assert "Shropshire: 2 (1) held, 0 (0) planned, 0 (0) cancelled; 42 (20) people reached" in text
    assert "URGENT: Much Wenlock parish council (Shropshire) — Street lights out on the High " \
           "Street — held by Olive Officer" in text
    assert "ATTENTION: Leominster church (Herefordshire) — Parking on the green — nobody has " \
           "taken it yet" in text
    assert "Fund remaining (2026-27): £39,000 of £40,000." in text
    assert "Ann Shropshire (Shropshire): 3h 30m of 40h in November so far; 1h 30m this week" \
        in text


async def test_a_week_in_summer_time_runs_from_local_midnight(db, scheme, cast) -> None:
    """In BST the week starts at 23:00 UTC on Sunday: an engagement at 23:30 UTC that Sunday
    is Monday 00:30 local, so it belongs to the new week."""
    async with db.transaction() as s:
        ann = cast.ambassador
        s.add(Engagement(ambassador_id=ann.id, area_id=ann.area_id, title="Late", kind="Other",
                         place="Hall", starts_at=dt.datetime(2026, 6, 14, 23, 30, tzinfo=UTC),
                         ends_at=dt.datetime(2026, 6, 15, 1, 0, tzinfo=UTC), status="held"))
    async with db.transaction() as s:
        this = await build_digest(s, scheme, dt.date(2026, 6, 15))
        before = await build_digest(s, scheme, dt.date(2026, 6, 8))
    assert this.total("held") == 1 and this.total("prev_held") == 0
    assert before.total("held") == 0


async def test_a_quiet_week_says_so_plainly(db, scheme, cast) -> None:
    async with db.transaction() as s:
        d = await build_digest(s, scheme, WEEK)
    assert d.is_quiet
    text = digest_text(d)
    assert "Nothing was recorded this week" in text
    assert "Engagements by area" not in text and "Topics raised" not in text
    assert "Fund remaining (2026-27): £40,000 of £40,000." in text
    blocks = digest_blocks(d)
    assert "Nothing was recorded this week" in str(blocks)


def _big_digest() -> Digest:
    item = UrgentItem(1, "urgent", "<!channel> & friends", "Shropshire", "x" * 1900, "Olive",
                      "open", dt.datetime(2026, 11, 20, tzinfo=UTC))
    return Digest(scheme_name="Test", timezone="Europe/London", week_start=WEEK,
                  areas=[AreaWeek(f"District {i}", held=i, reached=10 * i) for i in range(40)],
                  urgent=[item] * 10, urgent_count=10, feedback_filed=1)


def test_blocks_stay_within_slacks_limits_and_escape_mrkdwn() -> None:
    blocks = digest_blocks(_big_digest())
    assert len(blocks) <= 50
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert sections and all(len(t) <= 3000 for t in sections)
    joined = "\n".join(sections)
    assert "&lt;!channel&gt; &amp; friends" in joined and "<!channel>" not in joined
    assert len(blocks[0]["text"]["text"]) <= 150


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_chart_is_a_png_of_the_expected_size() -> None:
    d = _big_digest()
    d.areas = d.areas[:4]
    assert _png_size(digest_chart_png(d)) == CHART_SIZE
    empty = Digest(scheme_name="Test", timezone="Europe/London", week_start=WEEK, areas=[])
    assert _png_size(digest_chart_png(empty)) == CHART_SIZE


def test_weeks_are_read_as_people_write_them() -> None:
    assert parse_week("2026-W47") == WEEK
    assert parse_week("2026-11-19") == WEEK
    with pytest.raises(ValueError, match="2026-W47"):
        parse_week("last week")


async def test_post_digest_to_the_channel_and_the_commissioner(db, scheme, cast,
                                                               tmp_path) -> None:
    """The scheduled post goes once per week; a dry run writes nothing."""
    await seed_week(db, cast)
    now = dt.datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    text = await post_digest(db, scheme, None, dry_run=True, now=now)
    assert "Mon 16 Nov 2026" in text
    async with db.transaction() as s:
        assert (await s.scalars(select(Outbox))).all() == []
    for _ in range(2):
        await post_digest(db, scheme, None, False, now=now, chart_dir=tmp_path, once=True)
    async with db.transaction() as s:
        rows = (await s.scalars(select(Outbox).order_by(Outbox.id))).all()
    assert [(r.transport, r.destination) for r in rows] == [
        ("slack", "#ambassador-digest"), ("telegram", str(cast.commissioner.telegram_id))]
    assert rows[0].payload["text"] == text
    assert rows[0].payload["week"] == "2026-W47"
    assert _png_size(open(rows[0].payload["chart_path"], "rb").read()) == CHART_SIZE
    assert len(rows[0].payload["blocks"]) <= 50
    await post_digest(db, scheme, WEEK, False, now=now, chart_dir=tmp_path)  # "digest now"
    async with db.transaction() as s:
        assert len((await s.scalars(select(Outbox))).all()) == 4


async def test_urgent_items_come_first_and_outcomes_are_quoted_only_when_publishable(
        db, scheme, cast) -> None:
    """"Urgent this week" opens the digest; outcomes are quoted only as the excerpts the office
    marked publishable, never the ambassador's own words."""
    await seed_week(db, cast)
    async with db.transaction() as s:
        await s.execute(update(Feedback).where(Feedback.outcomes == "Speed watch agreed")
                        .values(public_outcome="Residents agreed a community speed watch."))
        d = await build_digest(s, scheme, WEEK)
    text = digest_text(d)
    headings = [line for line in text.splitlines() if line.endswith(":")]
    assert headings[0] == "Urgent this week:"
    urgent = text[text.index("Urgent this week:"):text.index("Engagements by area:")]
    assert "2 items waiting for someone." in urgent
    assert urgent.index("URGENT: Much Wenlock") < urgent.index("ATTENTION: Leominster")
    assert "“Residents agreed a community speed watch.” (Shropshire, Mon 16 Nov 2026)" in text
    assert "Speed watch agreed" not in text and "Mural" not in text
    assert "Urgent this week" in str(digest_blocks(d))


async def test_dry_run_writes_the_chart(db, scheme, cast, tmp_path) -> None:
    await seed_week(db, cast)
    out = tmp_path / "charts" / "out.png"
    text = await post_digest(db, scheme, WEEK, True, chart_out=out)
    assert "Weekly digest" in text and _png_size(out.read_bytes()) == CHART_SIZE
    async with db.transaction() as s:
        assert (await s.scalars(select(Outbox))).all() == []


async def test_the_digest_and_the_reports_give_one_set_of_figures_for_a_week(
        db, scheme, cast) -> None:
    """The digest's week sums are the report layer's (storage/reports/figures.py) over the
    same week: a report for that week says the same per area and in total."""
    from storage.reports.figures import period_figures
    from storage.reports.periods import Period

    await seed_week(db, cast)
    week = Period(WEEK, WEEK + dt.timedelta(days=6), "2026-W47", "2026-W47")
    four_weeks = Period(WEEK - dt.timedelta(days=21), WEEK + dt.timedelta(days=6), "4 weeks",
                        "4w")
    async with db.transaction() as s:
        d = await build_digest(s, scheme, WEEK)
        report = await period_figures(s, scheme, week)
        month = await period_figures(s, scheme, four_weeks)
    shown = {a.area: (a.held, a.planned, a.cancelled, a.reached) for a in d.areas}
    reported = {a.area: (a.activity.held, a.activity.planned, a.activity.cancelled,
                         a.activity.reached) for a in report.areas}
    assert shown == reported
    assert (d.feedback_filed, d.outcomes) == (report.total("with_feedback"),
                                              report.total("with_outcomes"))
    assert (d.follow_ups_new, d.follow_ups_overdue) == (report.total("follow_ups_raised"),
                                                        report.total("follow_ups_overdue"))
    assert d.grants_approved == (report.total("grants_approved"),
                                 report.total("grants_approved_pence"))
    assert d.grants_rejected == report.total("grants_rejected")
    assert (d.fund_size_pence, d.fund_remaining_pence) == (report.fund_size_pence,
                                                           report.fund_remaining_pence)
    assert sorted((name, n) for name, n, _ in d.topics if n) == sorted(report.topics)
    # Groups not reached are the four weeks to the week's end, as a four-week report has them.
    assert d.groups_not_reached == {a.area: a.groups_not_reached for a in month.areas
                                    if a.area in scheme.areas and a.groups_not_reached}
