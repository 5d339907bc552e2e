"""Subject access and erasure (DESIGN §9): everything about a person and nothing about anyone
else; after erasure no personal field of theirs is left in any text column."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

from sqlalchemy import String, Text, select

from storage.models import Base
from storage.operations import engagements, feedback, grants, hours, people
from storage.subject_access import person_bundle, write_bundle
from tests.storage.seed import NOW, Cast


async def _history(db, scheme, cast: Cast) -> None:
    """Two ambassadors with overlapping records: a shared grant chain, feedback, hours."""
    for who, title in ((cast.ambassador, "Ann's parish meeting"),
                       (cast.other_ambassador, "Bob's market stall")):
        async with db.transaction() as s:
            me = await people.get_person(s, who.id)
            e = await engagements.do_prenotify_engagement(
                s, scheme, title=title, kind="Community event", place="Town hall",
                starts_at=NOW - dt.timedelta(days=1), ends_at=NOW - dt.timedelta(hours=22),
                after_the_fact=True, actor=me, now=NOW)
            await feedback.do_file_feedback(
                s, scheme, engagement_id=e.id, attendees=12, summary=f"{who.name} met people",
                follow_up_needed="office", follow_up_detail="Call back", urgency="attention",
                actor=me, now=NOW)
            await hours.do_log_hours(s, worked_on=NOW.date(), minutes=60, actor=me,
                                     today=NOW.date())
            g = await grants.do_recommend_grant(
                s, scheme, applicant_organisation=f"{who.name} club",
                applicant_contact="Carol Contact, carol@example.org", project="Project",
                amount_pence=10_000, objectives=[scheme.plan_objectives[0]], actor=me, now=NOW)
            await grants.do_refer_grant(s, scheme, grant_id=g.id,
                                        actor=await people.get_person(s, cast.commissioning.id))
            await grants.do_approve_grant(s, scheme, grant_id=g.id,
                                          actor=await people.get_person(s, cast.commissioner.id))


async def test_bundle_has_everything_about_the_person_and_nothing_else(db, scheme,
                                                                      tmp_path) -> None:
    cast = await Cast.create(db, scheme)
    await _history(db, scheme, cast)
    async with db.transaction() as s:
        records = await person_bundle(s, cast.ambassador.id)
    tables = records.tables
    assert tables["people"][0]["name"] == "Ann Shropshire"
    assert [e["title"] for e in tables["engagements"]] == ["Ann's parish meeting"]
    assert len(tables["feedback"]) == 1 and len(tables["follow_ups"]) == 1
    assert len(tables["hours_entries"]) == 1 and len(tables["grant_recommendations"]) == 1
    assert any(a["action"] == "recommend_grant" for a in tables["audit_events"])
    assert any("approved your grant" in m["payload"]["text"] for m in tables["outbox"])
    text = json.dumps(tables, default=str)
    assert "Bob" not in text and "market stall" not in text

    out = tmp_path / "sar.zip"
    write_bundle(records, out, scheme)
    with zipfile.ZipFile(out) as bundle:
        assert sorted(bundle.namelist()) == ["manifest.json", "records.json", "summary.html"]
        assert "Engagements: 1" in bundle.read("summary.html").decode()


async def test_named_contact_finds_the_grants_naming_them(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    await _history(db, scheme, cast)
    async with db.transaction() as s:
        carol = await people.person_by_telegram(s, cast.officer.telegram_id)
        carol.name = "Carol Contact"
    async with db.transaction() as s:
        records = await person_bundle(s, cast.officer.id)
    assert len(records.tables["grant_recommendations"]) == 2


async def test_erasure_leaves_no_personal_field_in_any_text_column(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    await _history(db, scheme, cast)
    async with db.transaction() as s:
        await people.do_erase_person(s, person_id=cast.ambassador.id,
                                     actor=await people.get_person(s, cast.admin.id))
    leftovers = []
    async with db.transaction() as s:
        for table in Base.metadata.sorted_tables:
            text_columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
            for column in text_columns:
                found = (await s.execute(select(column).where(
                    column.like("%Ann Shropshire%")))).all()
                leftovers += [(table.name, column.name)] * len(found)
            json_columns = [c for c in table.columns if c.type.__class__.__name__ == "JSON"]
            for column in json_columns:
                for (value,) in (await s.execute(select(column))).all():
                    if value and "Ann Shropshire" in json.dumps(value):
                        leftovers.append((table.name, column.name))
    assert sorted(set(leftovers)) == []
    async with db.transaction() as s:
        bob = await person_bundle(s, cast.other_ambassador.id)
    assert bob.tables["feedback"][0]["summary"] == "Bob Hereford met people"  # others untouched
