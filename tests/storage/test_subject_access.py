"""The subject-access bundle (DESIGN §9, issue 17): every row the map of personal data says is
about the person — what they made, what others did to their records, every audit line and
message about them — and nothing of anyone else's; a zip that unzips to distinct files, a
manifest that matches it, and a summary a person can read without tools."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile

from sqlalchemy import select

from storage import personal_data as pd
from storage.media.store import PHOTOS, THUMBS, MediaStore
from storage.models import Base, Engagement, Feedback, FollowUp, Invite, Media, Outbox, Person
from storage.operations import engagements, feedback, follow_ups, grants, hours, people
from storage.outbox import person_address
from storage.subject_access import mention_bundle, person_bundle, write_bundle
from tests.storage.privacy_seed import PUBLIC_NAME, rich_history
from tests.storage.seed import NOW, Cast

WEEKS = 200   # nearly four years of an engagement a week


async def history(db, scheme, cast: Cast, store: MediaStore) -> dict[str, int]:
    """Two ambassadors with overlapping records; officers acting on Ann's; Ann's invite."""
    ids: dict[str, int] = {}
    async with db.transaction() as s:
        officer = await people.get_person(s, cast.officer.id)
        invite = await people.do_create_invite(s, scheme, name="Ann Shropshire",
                                               role="ambassador", area="Shropshire",
                                               actor=officer)
        invite.used_by_id, invite.used_at = cast.ambassador.id, NOW
        ids["invite"] = invite.id
    for who, title in ((cast.ambassador, "Ann's parish meeting"),
                       (cast.other_ambassador, "Bob's market stall")):
        async with db.transaction() as s:
            me = await people.get_person(s, who.id)
            e = await engagements.do_prenotify_engagement(
                s, scheme, title=title, kind="Community event", place="Town hall",
                starts_at=NOW - dt.timedelta(days=1), ends_at=NOW - dt.timedelta(hours=22),
                after_the_fact=True, actor=me, now=NOW)
            f = await feedback.do_file_feedback(
                s, scheme, engagement_id=e.id, attendees=12, summary=f"{who.name} met people",
                follow_up_needed="office", follow_up_detail="Call back", urgency="attention",
                actor=me, now=NOW)
            await hours.do_log_hours(s, worked_on=NOW.date(), minutes=60, actor=me,
                                     today=NOW.date())
            g = await grants.do_recommend_grant(
                s, scheme, applicant_organisation=f"{who.name.split()[0]} club",
                applicant_contact="Carol Contact, carol@example.org", project="Project",
                amount_pence=10_000, objectives=[scheme.plan_objectives[0]], actor=me, now=NOW)
            await grants.do_refer_grant(s, scheme, grant_id=g.id,
                                        actor=await people.get_person(s, cast.commissioning.id))
            await grants.do_approve_grant(s, scheme, grant_id=g.id,
                                          actor=await people.get_person(s, cast.commissioner.id))
            digest = hashlib.sha256(title.encode()).hexdigest()
            for kind, data in ((PHOTOS, b"full size"), (THUMBS, b"thumb")):
                path = store.path(kind, digest)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data + title.encode())
            m = Media(engagement_id=e.id, ambassador_id=me.id, kind="photo",
                      content_hash=digest, safe_path=str(store.path(PHOTOS, digest)),
                      thumb_path=str(store.path(THUMBS, digest)), caption="At the hall")
            s.add(m)
            await s.flush()
            ids[f"{who.id}-engagement"], ids[f"{who.id}-media"] = e.id, m.id
            ids[f"{who.id}-feedback"] = f.id
    async with db.transaction() as s:
        # an officer acts on Ann's follow-up: his action is about her record
        follow_up = await s.scalar(select(FollowUp.id).where(
            FollowUp.engagement_id == ids[f"{cast.ambassador.id}-engagement"]))
        await follow_ups.do_acknowledge_follow_up(
            s, scheme, follow_up_id=follow_up, actor=await people.get_person(s, cast.officer.id),
            now=NOW)
    return ids


def _matches(row: dict, person: Person, owned: dict[str, set], table) -> bool:
    """The map, read in Python over every row: the oracle the SQL is checked against."""
    for column in table.columns:
        if any(fk.column.table.name == "people" for fk in column.foreign_keys) \
                and row[column.name] == person.id:
            return True
    if table.name == "people" and row["id"] == person.id:
        return True
    for entry in pd.entries_for(table.name):
        value = row[entry.column]
        text = json.dumps(value) if isinstance(value, dict | list) else str(value or "")
        if person.name.lower() in text.lower():
            return True
        for link in entry.whose:
            if link.through:
                other, column = link.through.split(".")
                if row[link.column] in owned.get(f"{other}.{column}", set()):
                    return True
            if link.by == "address" and table.name == "outbox" and \
                    (row["transport"], row["destination"]) == person_address(person):
                return True
            if link.by == "address" and table.name != "outbox" and \
                    str(row[link.column]).endswith(":" + ":".join(person_address(person))):
                return True
    if table.name == "audit_events" and row["target_id"] in owned.get(row["target_type"], ()):
        return True
    if table.name == "outbox":
        for key, name in pd_record_keys().items():
            values = row["payload"].get(key)
            values = values if isinstance(values, list) else [values]
            if any(v in owned.get(name, ()) for v in values if isinstance(v, int)):
                return True
    return False


def pd_record_keys() -> dict[str, str]:
    from storage.subject_access import RECORD_KEYS
    return RECORD_KEYS


async def expected_rows(s, person: Person) -> dict[str, set]:
    """Every row of every mapped (or person-linked) table that the oracle says is theirs."""
    tables = [t for t in Base.metadata.sorted_tables
              if t.name in pd.by_table() or t.name in {n for n, _ in pd.person_links()}]
    everything = {t.name: [dict(r._mapping) for r in (await s.execute(select(t))).all()]
                  for t in tables}
    owned: dict[str, set] = {}
    for t in tables:
        fks = [c.name for c in t.columns
               if any(fk.column.table.name == "people" for fk in c.foreign_keys)]
        mine = {r["id"] for r in everything[t.name] if "id" in r and (
            any(r[c] == person.id for c in fks) or (t.name == "people"
                                                    and r["id"] == person.id))}
        for c in fks:
            owned[f"{t.name}.{c}"] = {r["id"] for r in everything[t.name]
                                      if "id" in r and r[c] == person.id}
        # a record reached through one of theirs (a follow-up of their feedback) is theirs
        for entry in pd.entries_for(t.name):
            for link in entry.whose:
                if link.through:
                    mine |= {r["id"] for r in everything[t.name]
                             if r[link.column] in owned.get(link.through, set())}
        owned[t.name] = mine
    owned["people"] = {person.id}
    expected = {}
    for t in tables:
        keys = [c.name for c in t.primary_key.columns]
        found = {tuple(r[k] for k in keys) for r in everything[t.name]
                 if _matches(r, person, owned, t)}
        if found:
            expected[t.name] = found
    return expected


async def test_the_bundle_holds_every_row_the_map_says_and_nothing_else(db, scheme,
                                                                      tmp_path) -> None:
    cast = await Cast.create(db, scheme)
    store = MediaStore(tmp_path / "media")
    ids = await history(db, scheme, cast, store)
    async with db.transaction() as s:
        ann = await s.get(Person, cast.ambassador.id)
        bundle = await person_bundle(s, ann.id)
        expected = await expected_rows(s, ann)
    got = {name: {tuple(i) if isinstance(i, list) else (i,) for i in bundle.ids(name)}
           for name in bundle.tables}
    assert {n: sorted(v) for n, v in got.items()} == {n: sorted(v) for n, v in expected.items()}

    # what a DPO checks by eye: the invite naming her, others' actions on her records,
    # messages about her records as well as to her, and none of Bob's
    assert ids["invite"] in bundle.ids("invites")
    actions = {(a["action"], a["actor_id"]) for a in bundle.tables["audit_events"]}
    assert ("create_invite", cast.officer.id) in actions
    assert ("approve_grant", cast.commissioner.id) in actions
    assert ("refer_grant", cast.commissioning.id) in actions
    assert ("acknowledge_follow_up", cast.officer.id) in actions
    to_her = [m for m in bundle.tables["outbox"]
              if m["destination"] == str(cast.ambassador.telegram_id)]
    about_her = [m for m in bundle.tables["outbox"]
                 if m["destination"] != str(cast.ambassador.telegram_id)]
    assert to_her and about_her
    assert all("Bob" not in json.dumps(row, default=str)
               for rows in bundle.tables.values() for row in rows)
    assert bundle.ids("engagements") == [ids[f"{cast.ambassador.id}-engagement"]]


async def test_the_zip_unzips_to_distinct_files_with_a_manifest_and_a_summary(db, scheme,
                                                                           tmp_path) -> None:
    cast = await Cast.create(db, scheme)
    store = MediaStore(tmp_path / "media")
    ids = await history(db, scheme, cast, store)
    async with db.transaction() as s:
        bundle = await person_bundle(s, cast.ambassador.id)
    out = tmp_path / "sar.zip"
    assert write_bundle(bundle, out, scheme) == 5
    with zipfile.ZipFile(out) as zipped:
        names = zipped.namelist()
        zipped.extractall(tmp_path / "unzipped")
        records = json.loads(zipped.read("records.json"))
        manifest = json.loads(zipped.read("manifest.json"))
        summary = zipped.read("summary.html").decode()
    unzipped = sorted(str(p.relative_to(tmp_path / "unzipped"))
                      for p in (tmp_path / "unzipped").rglob("*") if p.is_file())
    assert unzipped == sorted(names) and len(set(names)) == len(names)
    media_id = ids[f"{cast.ambassador.id}-media"]
    full, thumb = (tmp_path / "unzipped" / f"media/media-{media_id}-{word}.jpg"
                   for word in ("full-size", "thumbnail"))
    assert full.read_bytes().startswith(b"full size")
    assert thumb.read_bytes().startswith(b"thumb")

    assert {name: len(rows) for name, rows in records["tables"].items()} == {
        name: entry["count"] for name, entry in manifest["tables"].items()}
    assert {name: [r["id"] for r in rows] for name, rows in records["tables"].items()
            if name != "meeting_rsvps"} == {
        name: entry["ids"] for name, entry in manifest["tables"].items()
        if name != "meeting_rsvps"}
    assert sorted(f["name"] for f in manifest["files"]) == sorted(
        n for n in names if n.startswith("media/"))
    assert manifest["files"][0]["sha256"] == hashlib.sha256(
        (tmp_path / "unzipped" / manifest["files"][0]["name"]).read_bytes()).hexdigest()

    assert "What Office of the Police and Crime Commissioner for West Mercia holds about " \
           "Ann Shropshire" in summary
    assert "Ann&#39;s parish meeting" in summary         # her records, escaped as text
    assert "<td>£100</td>" in summary                    # money in pounds
    assert "Mon 23 Nov 2026" in summary                   # times in the scheme's zone
    assert 'href="media/media-' in summary


async def test_years_of_history_are_all_in_the_bundle(db, scheme, tmp_path) -> None:
    """Nearly four years of one ambassador's weekly engagements, feedback and messages, among
    someone else's: every one of hers is in the bundle and its zip. (How long a bundle takes
    is bench/sar.py's to measure.)"""
    cast = await Cast.create(db, scheme)
    ann, bob = cast.ambassador, cast.other_ambassador
    async with db.transaction() as s:
        for week in range(WEEKS):
            for who in (ann, bob):
                when = NOW - dt.timedelta(weeks=week, days=2)
                e = Engagement(ambassador_id=who.id, area_id=who.area_id,
                               title=f"Meeting {week}", kind="Other", place="Hall",
                               starts_at=when, ends_at=when + dt.timedelta(hours=1),
                               status="held")
                s.add(e)
                await s.flush()
                s.add(Feedback(engagement_id=e.id, ambassador_id=who.id, attendees=5,
                               summary=f"{who.name} met {week} people", submitted_at=when))
                s.add(Outbox(transport="slack", destination="#ambassador-engagements",
                             event="feedback_filed", payload={"text": "Feedback",
                                                              "engagement_id": e.id},
                             status="sent", created_at=when, sent_at=when))
        s.add(Invite(code="x" * 20, name="Someone else", role="ambassador",
                     expires_at=NOW))
    async with db.transaction() as s:
        bundle = await person_bundle(s, ann.id)
    write_bundle(bundle, tmp_path / "sar.zip", scheme)
    assert (len(bundle.tables["engagements"]), len(bundle.tables["feedback"]),
            len(bundle.tables["outbox"])) == (WEEKS, WEEKS, WEEKS)
    assert {row["ambassador_id"] for row in bundle.tables["engagements"]} == {ann.id}
    with zipfile.ZipFile(tmp_path / "sar.zip") as zipped:
        counts = json.loads(zipped.read("manifest.json"))["tables"]
    assert [counts[name]["count"] for name in ("engagements", "feedback", "outbox")] == [
        WEEKS] * 3


async def test_the_rich_history_bundle_matches_the_map(db, scheme, tmp_path) -> None:
    """The erasure tests' history (a failed-delivery mark, a draft, a captioned photo, the
    invite naming her): the bundle and the map still agree row for row."""
    history = await rich_history(db, scheme, tmp_path / "media")
    async with db.transaction() as s:
        ann = await s.get(Person, history.cast.ambassador.id)
        bundle = await person_bundle(s, ann.id)
        expected = await expected_rows(s, ann)
    got = {name: {tuple(i) if isinstance(i, list) else (i,) for i in bundle.ids(name)}
           for name in bundle.tables}
    assert {n: sorted(v, key=str) for n, v in got.items()} == {
        n: sorted(v, key=str) for n, v in expected.items()}
    assert "schedule_marks" in bundle.tables and "form_drafts" in bundle.tables
    assert {f.name for f in bundle.files} == {
        f"media/media-{history.media_id}-full-size.jpg",
        f"media/media-{history.media_id}-thumbnail.jpg"}


async def test_a_member_of_the_public_gets_their_bundle_by_mention(db, scheme,
                                                                  tmp_path) -> None:
    history = await rich_history(db, scheme, tmp_path / "media")
    async with db.transaction() as s:
        bundle = await mention_bundle(s, scheme, PUBLIC_NAME)
    assert history.media_id in bundle.ids("media")                    # the caption names him
    assert history.grant_id in bundle.ids("grant_recommendations")    # he is the contact
    assert bundle.ids("feedback") and bundle.ids("engagements") == []
    assert all(PUBLIC_NAME in e["excerpt"] for e in bundle.excerpts)
    out = tmp_path / "john.zip"
    write_bundle(bundle, out, scheme)
    with zipfile.ZipFile(out) as zipped:
        names = zipped.namelist()
        summary = zipped.read("summary.html").decode()
        manifest = json.loads(zipped.read("manifest.json"))
    assert len(names) == len(set(names))
    assert f"media/media-{history.media_id}-full-size.jpg" in names
    assert f"media/media-{history.media_id}-thumbnail.jpg" in names
    assert "Where you are mentioned" in summary and "Farmer John Smith" in summary
    assert manifest["subject"] == {"kind": "mention", "text": PUBLIC_NAME}
    assert "Bob Hereford" not in json.dumps(bundle.tables, default=str)
