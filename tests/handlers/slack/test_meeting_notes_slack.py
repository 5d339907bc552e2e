"""The meeting's post on Slack (issue 19): who replied by name, Record notes (who came, notes,
decisions, actions) through the real modal → each action a follow-up → the owners told (Ann on
her Telegram) → one done from the post; bad values refused on their field with nothing
changed; Move tells those invited; App Home lists the meetings coming up with the names."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from storage.models import FollowUp, Meeting, MeetingAttendance, Outbox, Person, Role, utcnow
from storage.operations import meeting_notes, meetings, people
from tests.handlers.slack.harness import BOB, Office


async def meeting(office: Office, starts: dt.datetime, *, replies: bool = True) -> int:
    """A quarterly meeting scheduled a fortnight before `starts`; Ann coming, Bob not."""
    cast, scheme = office.cast, office.scheme
    before = starts - dt.timedelta(days=14)
    async with office.db.transaction() as s:
        made = await meetings.do_schedule_meeting(
            s, scheme, kind="quarterly", title="Quarterly ambassadors' meeting",
            place="Hindlip Park", starts_at=starts, ends_at=starts + dt.timedelta(hours=2),
            actor=await people.get_person(s, cast.officer.id), now=before)
    if replies:
        for who, answer, note in ((cast.ambassador, "yes", None),
                                  (cast.other_ambassador, "no", "at the Kington fete")):
            async with office.db.transaction() as s:
                await meetings.do_rsvp(s, scheme, meeting_id=made.id, answer=answer, note=note,
                                       actor=await people.get_person(s, who.id),
                                       now=before + dt.timedelta(hours=1))
    await office.deliver()
    return made.id


async def open_notes(office: Office, user: str):
    post = office.last(office.channel("engagements"))
    await office.emu.click(user, post, "meeting_notes_open")
    return await office.emu.wait_for(lambda: office.emu.views(user))


def in_a_week() -> str:
    return (utcnow() + dt.timedelta(days=7)).date().isoformat()


async def test_notes_and_two_actions_from_the_modal_reach_the_owners_and_one_is_done(
        office: Office) -> None:
    emu, cast = office.emu, office.cast
    meeting_id = await meeting(office, utcnow() - dt.timedelta(days=1))
    post = office.last(office.channel("engagements"))
    shown = str(post.blocks)
    assert "*Coming* (1): Ann Shropshire" in shown
    assert "*Can't come* (1): Bob Hereford — “at the Kington fete”" in shown
    assert [b.text for b in emu.buttons(post)] == ["Record notes", "Move"]

    olive = office.uid(Role.OFFICER)
    [modal] = await open_notes(office, olive)
    assert modal.title == "Record notes"
    answer = await emu.submit_view(olive, values={
        "attended": [str(cast.ambassador.id), str(cast.officer.id)],
        "notes": "The Ludlow fete went well.\nRural crime is rising in the south.",
        "decisions": "A rural crime evening in March.",
        "action_1": "Book the hall for the rural crime evening",
        "owner_1": str(cast.ambassador.id), "due_1": in_a_week(),
        "action_2": "Ask the rural crime team to speak", "owner_2": str(cast.officer.id)})
    assert answer.status == 200 and answer.errors == {}

    actions = await office.rows(FollowUp, FollowUp.meeting_id == meeting_id)
    assert [(a.detail, a.owner_id) for a in actions] == [
        ("Book the hall for the rural crime evening", cast.ambassador.id),
        ("Ask the rural crime team to speak", cast.officer.id)]
    came = await office.rows(MeetingAttendance)
    assert sorted(c.person_id for c in came) == sorted([cast.ambassador.id, cast.officer.id])

    await office.deliver()
    ann_saw = "\n".join(office.telegram_texts(cast.ambassador))
    assert "Your action from Quarterly ambassadors' meeting" in ann_saw
    assert "Book the hall for the rural crime evening — due" in ann_saw
    assert "Notes of Quarterly ambassadors' meeting" in ann_saw      # every ambassador
    olive_dm = [m.text for m in emu.messages(emu.user(olive).dm_channel)]
    assert any("Ask the rural crime team to speak" in t for t in olive_dm)
    bob_dm = [m.text for m in emu.messages(emu.user(BOB).dm_channel)]
    assert any("Came: Ann Shropshire, Olive Officer" in t for t in bob_dm)

    post = office.last(office.channel("engagements"))
    shown = str(post.blocks)
    assert "*Came:* Ann Shropshire, Olive Officer" in shown and "Rural crime is rising" in shown
    assert [b.text for b in emu.buttons(post)] == ["Done", "Done"]

    await emu.click(olive, post, "meeting_action_done",
                    value=f"{actions[0].id}:{meeting_id}")
    await emu.wait_for(lambda: len(emu.buttons(office.last(office.channel("engagements"))))
                       == 1)
    [done, still_open] = await office.rows(FollowUp, FollowUp.meeting_id == meeting_id)
    assert (done.status, done.done_by_id, still_open.status) == ("done", cast.officer.id, "open")
    async with office.db.transaction() as s:
        assert await meeting_notes.open_actions(s, cast.ambassador.id) == []
    await office.deliver()
    assert "✅ ~Book the hall" in str(office.last(office.channel("engagements")).blocks)
    # A meeting's action has no alert of its own: nothing was posted to the alerts channel.
    assert emu.last_message(office.channel("alerts")) is None


async def test_bad_values_are_refused_on_their_field_and_change_nothing(office: Office) -> None:
    emu, cast, scheme = office.emu, office.cast, office.scheme
    meeting_id = await meeting(office, utcnow() - dt.timedelta(hours=3), replies=False)
    olive = office.uid(Role.OFFICER)
    await open_notes(office, olive)
    # Bob leaves the scheme while the modal is open; he is still among its choices.
    async with office.db.transaction() as s:
        await s.execute(Person.__table__.update().where(Person.id == cast.other_ambassador.id)
                        .values(active=False))
    yesterday = (utcnow().astimezone(scheme.tz) - dt.timedelta(days=2)).date().isoformat()
    good = {"notes": "Short notes.", "attended": [str(cast.ambassador.id)]}
    cases = [
        ({"attended": [str(cast.other_ambassador.id)]}, "attended",
         "isn't an active person of the scheme"),
        ({"notes": "x" * (scheme.limits.max_text_chars + 1)}, "notes",
         f"Please keep the notes to {scheme.limits.max_text_chars:,} characters"),
        ({"action_1": "Book the hall"}, "owner_1", "“Book the hall” has no owner"),
        ({"action_1": "Book the hall", "owner_1": str(cast.ambassador.id), "due_1": yesterday},
         "due_1", "which has passed"),
    ]
    async with office.db.transaction() as s:
        before = await s.scalar(select(func.count()).select_from(Outbox))
    for change, field, sentence in cases:
        answer = await emu.submit_view(olive, values={**good, **change})
        assert sentence in answer.errors.get(field, ""), (field, answer.errors)
    async with office.db.transaction() as s:
        held = await s.get(Meeting, meeting_id)
        assert held.notes is None
        assert await s.scalar(select(func.count()).select_from(FollowUp)) == 0
        assert await s.scalar(select(func.count()).select_from(MeetingAttendance)) == 0
        assert await s.scalar(select(func.count()).select_from(Outbox)) == before


async def test_move_tells_those_invited_and_app_home_names_who_replied(office: Office) -> None:
    emu, cast, scheme = office.emu, office.cast, office.scheme
    meeting_id = await meeting(office, utcnow() + dt.timedelta(days=3))
    olive = office.uid(Role.OFFICER)
    await emu.send_event(olive, {"type": "app_home_opened"})
    home = await emu.wait_for(lambda: emu.home(olive))
    shown = str(home.blocks)
    assert "*Meetings coming up*" in shown
    assert "Coming: Ann Shropshire" in shown and "Can't come: Bob Hereford (“at the Kington " \
        "fete”)" in shown

    await emu.click(olive, office.last(office.channel("engagements")), "meeting_move_open")
    [modal] = await emu.wait_for(lambda: emu.views(olive))
    assert modal.title == "Move the meeting"
    new = (utcnow() + dt.timedelta(days=10)).astimezone(scheme.tz).replace(
        hour=10, minute=0, second=0, microsecond=0)
    answer = await emu.submit_view(olive, values={"starts_at": f"{new:%d/%m/%Y %H:%M}"})
    assert answer.status == 200 and answer.errors == {}
    [moved] = await office.rows(Meeting, Meeting.id == meeting_id)
    assert moved.starts_at == new.astimezone(dt.UTC)
    await office.deliver()
    assert any(t.startswith("Moved: Quarterly ambassadors' meeting is now")
               for t in office.telegram_texts(cast.ambassador))
    post = office.last(office.channel("engagements"))
    assert "Moved from" in str(post.blocks) and f"{new:%-d %b %Y}" in str(post.blocks)

    # A time in the past is refused on the field, and the meeting stays where it is.
    await emu.click(olive, post, "meeting_move_open")
    await emu.wait_for(lambda: emu.views(olive))
    answer = await emu.submit_view(olive, values={"starts_at": "01/01/2020 10:00"})
    assert answer.errors.get("starts_at")
    [still] = await office.rows(Meeting, Meeting.id == meeting_id)
    assert still.starts_at == new.astimezone(dt.UTC)
