"""A seeded history for the reports: two quarters (2026-Q2 and 2026-Q3, in British Summer
Time), edges on both sides of the quarter's local midnights, and members of the public named
in every free-text field a report must never print."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from PIL import Image

from storage.models import (Engagement, Feedback, FeedbackGroup, FeedbackTopic, FollowUp, Fund,
                            FundLedgerEntry, GrantObjective, GrantRecommendation, HoursEntry,
                            Media, PlanObjective)
from tests.storage.seed import Cast, person
from storage.models import Role
from sqlalchemy import select

UTC = dt.UTC
# Members of the public: none of these may appear in any report.
PUBLIC = ["Margaret Thornbury", "Kevin Ashdown", "Priya Lowe", "Dennis Rudd", "Sally Bright",
          "07700 900123", "margaret@example.org"]
# Ambassadors and staff are not the public, but the panel report names nobody at all.
STAFF = ["Ann Shropshire", "Bob Hereford", "Olive Officer", "John Campion", "Dee Deputy"]


def at(month: int, day: int, hour: int = 10, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=UTC)


def thumbnail(tmp: Path, name: str) -> str:
    path = tmp / f"{name}.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 114, 178)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return str(path)


async def seed_history(db, scheme, cast: Cast, tmp: Path) -> None:
    ann, bob = cast.ambassador, cast.other_ambassador
    async with db.transaction() as s:
        telford = await person(s, Role.AMBASSADOR, "Tia Telford", "Telford and Wrekin")
        objectives = (await s.scalars(select(PlanObjective).order_by(PlanObjective.id))).all()

        def engagement(who, start, status, title="Parish council", hours=2):
            return Engagement(ambassador_id=who.id, area_id=who.area_id, title=title,
                              kind="Other", place="Village hall", starts_at=start,
                              ends_at=start + dt.timedelta(hours=hours), status=status,
                              cancel_reason=("Sally Bright was ill" if status == "cancelled"
                                             else None))

        # Q3 (July–September 2026, BST): 30 June 23:30 UTC is 1 July locally (in Q3);
        # 30 September 23:30 UTC is 1 October (not in Q3).
        e1 = engagement(ann, dt.datetime(2026, 6, 30, 23, 30, tzinfo=UTC), "held",
                        "Midnight ride-along with Kevin Ashdown")
        e2 = engagement(ann, at(8, 12), "held")
        e3 = engagement(ann, at(9, 3), "cancelled")
        e4 = engagement(bob, at(7, 20), "held")
        e5 = engagement(bob, at(9, 30, 9), "planned")
        e6 = engagement(telford, at(8, 2), "held")
        late = engagement(bob, dt.datetime(2026, 9, 30, 23, 30, tzinfo=UTC), "held")
        # Q2 (April–June 2026)
        q2a = engagement(ann, at(5, 5), "held")
        q2b = engagement(bob, at(6, 30, 22), "held")     # 23:00 BST on 30 June: Q2
        s.add_all([e1, e2, e3, e4, e5, e6, late, q2a, q2b])
        await s.flush()

        def feedback(e, attendees, groups=(), topics=(), outcomes=None, public=None):
            return Feedback(engagement_id=e.id, ambassador_id=e.ambassador_id,
                            attendees=attendees,
                            summary="Kevin Ashdown (07700 900123) spoke about speeding",
                            outcomes=outcomes, public_outcome=public, submitted_at=e.ends_at,
                            groups=[FeedbackGroup(name=g) for g in groups],
                            topics=[FeedbackTopic(name=t) for t in topics])

        f1 = feedback(e1, 25, ["Young people", "Older people"], ["Road safety"],
                      outcomes="Kevin Ashdown will run a speed watch",
                      public="Residents agreed to start a community speed watch.")
        f2 = feedback(e2, 40, ["Rural communities"], ["Road safety", "Rural crime"],
                      outcomes="Priya Lowe to chase the council")   # not reviewed
        f4 = feedback(e4, 12, ["Faith groups"], ["Fraud and scams"],
                      outcomes="Talk on scams", public="A scams talk will be repeated monthly.")
        f6 = feedback(e6, 8, ["Businesses"], ["Anti-social behaviour"])
        fl = feedback(late, 99, ["Disabled people"], ["Drugs"], public="Not this quarter.")
        fq2a = feedback(q2a, 30, ["Older people"], ["Burglary"],
                        public="Older residents were shown door-chain fitting.")
        fq2b = feedback(q2b, 5, ["Young people"], ["Drugs"])
        s.add_all([f1, f2, f4, f6, fl, fq2a, fq2b])
        await s.flush()

        def follow_up(f, created, due, done=None, detail="Call Priya Lowe about lights"):
            return FollowUp(feedback_id=f.id, engagement_id=f.engagement_id, needed_by="office",
                            urgency="routine", detail=detail, status="done" if done else "open",
                            due_at=due, created_at=created, done_at=done)

        s.add_all([
            follow_up(f1, at(7, 1), at(7, 8), done=at(7, 5)),          # raised + closed
            follow_up(f2, at(8, 13), at(8, 20)),                        # raised, overdue
            follow_up(f4, at(7, 21), at(10, 20)),                       # raised, not yet due
            follow_up(f6, at(9, 25), at(9, 28), done=at(10, 3)),        # overdue at the end
            follow_up(fq2a, at(5, 6), at(5, 13), done=at(7, 10)),       # closed in Q3
            follow_up(fq2b, at(6, 30, 22), at(7, 7), done=at(6, 30, 23)),  # Q2 only
        ])
        fund = await s.scalar(select(Fund).where(Fund.name == f"{scheme.name} grant fund"))
        fund.size_pence, fund.committed_pence = 4_000_000, 0
        fund.starts_on, fund.ends_on = dt.date(2026, 4, 1), dt.date(2027, 3, 31)
        await s.flush()

        def grant(who, org, pence, created, status, decided=None):
            return GrantRecommendation(
                ambassador_id=who.id, area_id=who.area_id, applicant_organisation=org,
                applicant_contact="Margaret Thornbury, 07700 900123, margaret@example.org",
                project=f"{org}: equipment for the project", amount_pence=pence, status=status,
                decided_by_id=cast.commissioner.id if decided else None, decided_at=decided,
                deputy_recommendation="Dee Deputy supports it", created_at=created,
                decision_reason="Margaret Thornbury's letter" if decided else None)

        grants = [
            grant(ann, "Much Wenlock Speed Watch", 75_000, at(6, 20), "approved", at(7, 3)),
            grant(ann, "Ludlow Youth Club", 50_050, at(7, 10), "approved", at(8, 1)),
            grant(bob, "Ledbury Scouts", 90_000, at(8, 15), "rejected", at(9, 1)),
            grant(bob, "Ross Allotments", 30_000, at(9, 10), "referred"),
            grant(telford, "Telford Boxing", 100_000, at(9, 20), "approved",
                  dt.datetime(2026, 9, 30, 23, 30, tzinfo=UTC)),          # decided in Q4
            grant(ann, "Bridgnorth Pantry", 20_000, at(5, 1), "approved", at(5, 20)),  # Q2
            grant(bob, "Kington Cricket", 40_000, dt.datetime(2027, 2, 1, tzinfo=UTC),
                  "approved", dt.datetime(2027, 4, 2, tzinfo=UTC)),        # next year
        ]
        s.add_all(grants)
        await s.flush()
        for g in grants:
            s.add(GrantObjective(grant_id=g.id, objective_id=objectives[g.id % 2].id))
            if g.status == "approved" and g.decided_at:
                s.add(FundLedgerEntry(fund_id=fund.id, grant_id=g.id, amount_pence=-g.amount_pence,
                                      note="grant", created_at=g.decided_at))
        s.add_all([
            HoursEntry(person_id=ann.id, worked_on=dt.date(2026, 7, 1), minutes=600),
            HoursEntry(person_id=ann.id, worked_on=dt.date(2026, 9, 30), minutes=90),
            HoursEntry(person_id=ann.id, worked_on=dt.date(2026, 6, 30), minutes=300),   # Q2
            HoursEntry(person_id=bob.id, worked_on=dt.date(2026, 8, 8), minutes=1200),
            HoursEntry(person_id=bob.id, worked_on=dt.date(2026, 10, 1), minutes=60),    # Q4
        ])

        def photo(e, created, review, consent, name):
            return Media(engagement_id=e.id, ambassador_id=e.ambassador_id, kind="photo",
                         thumb_path=thumbnail(tmp, name), safe_path=None,
                         caption="Dennis Rudd at the stall", consent_given=consent,
                         review_status=review, created_at=created)

        s.add_all([photo(e2, at(8, 12, 14), "approved", True, "a"),
                   photo(e4, at(7, 20, 14), "approved", False, "b"),
                   photo(e4, at(7, 20, 15), "rejected", True, "c"),
                   photo(e6, at(8, 2, 14), "pending", True, "d"),
                   photo(q2a, at(5, 5, 14), "approved", True, "e")])
