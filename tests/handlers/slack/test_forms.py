"""Ambassadors' forms as Slack modals: built from the same declarations as Telegram, checked
by the same parsers (same sentences), refusals shown on the field."""

from __future__ import annotations

import asyncio
import os

from PIL import Image

from storage.models import (Engagement, ExpenseClaim, Feedback, GrantRecommendation,
                            HoursEntry, Media, Outbox, Person, Role)
from storage.parsers import over_cap_sentence
from tests.handlers.slack.harness import BOB, Office, held_engagement
from tests.handlers.telegram.test_photos import jpeg_with_gps

TELEGRAM_OVER_CAP = ("£1,000.50 is over the £1,000 limit for a grant. "
                     "Please enter £1,000 or less.")


async def open_from_home(office: Office, user: str, button: str):
    emu = office.emu
    await emu.send_event(user, {"type": "app_home_opened"})
    home = await emu.wait_for(lambda: emu.home(user))
    await emu.click(user, home, f"open_form_{button}")
    return await loaded(office, user)


async def loaded(office: Office, user: str):
    def ready():
        views = office.emu.views(user)
        return views and any(b.get("type") == "input" for b in views[-1].blocks) and views[-1]
    return await office.emu.wait_for(ready)


def inputs(view) -> list[str]:
    return [b["block_id"] for b in view.blocks if b.get("type") == "input"]


async def test_grant_modal_refused_over_the_cap_with_the_telegram_sentence(office: Office) -> None:
    emu = office.emu
    ann = office.uid(Role.AMBASSADOR)
    modal = await open_from_home(office, ann, "grant")
    assert modal.title == "Recommend a grant"
    assert inputs(modal) == ["applicant_organisation", "applicant_contact", "project", "amount",
                             "objectives"]
    answers = {"applicant_organisation": "Ludlow Youth Club",
               "applicant_contact": "Sam Jones, 01584 000000",
               "project": "Summer boxing sessions for 12–16 year olds",
               "objectives": ["Reassuring West Mercia's communities"]}
    over = await emu.submit_view(ann, values={**answers, "amount": "£1,000.50"})
    assert over.errors == {"amount": TELEGRAM_OVER_CAP}
    assert TELEGRAM_OVER_CAP == over_cap_sentence(100_050, 100_000)
    negative = await emu.submit_view(ann, values={**answers, "amount": "-5"})
    assert "negative" in negative.errors["amount"]
    assert await office.rows(GrantRecommendation) == []

    done = await emu.submit_view(ann, values={**answers, "amount": "£750"})
    assert done.errors == {}
    assert "your recommendation of £750 for Ludlow Youth Club" in str(emu.views(ann)[0].blocks)
    [grant] = await office.rows(GrantRecommendation)
    assert (grant.amount_pence, grant.status, grant.ambassador_id) == (
        75_000, "recommended", office.cast.ambassador.id)
    assert [o.destination for o in await office.rows(Outbox, Outbox.event ==
                                                     "grant_recommended")] == [
        office.channel("grants")]


async def test_feedback_from_a_dm_with_questions_that_appear(office: Office) -> None:
    """Bob (Slack only) writes to the app; the menu opens the feedback modal; picking a new
    engagement and a follow-up reveals their questions; refusals land on their fields."""
    emu = office.emu
    await emu.send_dm(BOB, "hello")
    menu = await _delivered(office, BOB, "here is what you can do")
    await emu.click(BOB, menu, "open_form_feedback")
    modal = await loaded(office, BOB)
    assert inputs(modal) == ["engagement", "attendees", "groups", "topics", "summary",
                             "outcomes", "follow_up_needed", "minutes_spent"]
    await emu.click(BOB, modal, "field_engagement", selected_option="➕ One I didn't pre-notify")
    modal = await emu.wait_for(lambda: "title" in inputs(emu.views(BOB)[-1])
                               and emu.views(BOB)[-1])
    await emu.click(BOB, modal, "field_follow_up_needed", selected_option="The office")
    modal = await emu.wait_for(lambda: "urgency" in inputs(emu.views(BOB)[-1])
                               and emu.views(BOB)[-1])
    assert inputs(modal) == ["engagement", "title", "kind", "place", "starts_at", "duration",
                             "attendees", "groups", "topics", "summary", "outcomes",
                             "follow_up_needed", "follow_up_detail", "urgency", "minutes_spent"]
    answers = {"title": "Kington drop-in", "kind": "Surgery or drop-in",
               "place": "Kington library", "duration": "2 hours", "attendees": "lots",
               "starts_at": "yesterday 7pm", "groups": ["Older people", "Rural communities"],
               "topics": ["Rural crime"], "summary": "Farmers worried about quad bike thefts.",
               "follow_up_detail": "Ask the rural crime team to visit",
               "urgency": "Needs attention", "minutes_spent": "2h"}
    refused = await emu.submit_view(BOB, values=answers)
    assert list(refused.errors) == ["attendees"] and "number" in refused.errors["attendees"]
    done = await emu.submit_view(BOB, values={**answers, "attendees": "about 30"})
    assert done.errors == {}
    assert "The office has been alerted" in str(emu.views(BOB)[0].blocks)
    [feedback] = await office.rows(Feedback)
    assert (feedback.attendees, feedback.urgency, feedback.follow_up_needed,
            feedback.minutes_spent) == (30, "attention", "office", 120)
    assert sorted(g.name for g in feedback.groups) == ["Older people", "Rural communities"]
    [engagement] = await office.rows(Engagement)
    assert (engagement.title, engagement.reported_after) == ("Kington drop-in", True)
    assert await office.rows(Outbox, Outbox.event == "follow_up_alert")
    home = await emu.wait_for(lambda: emu.home(BOB))
    assert "Kington drop-in" in str(home.blocks)

    # An office member can't file an ambassador's form, even with the button in front of them.
    olive = office.uid(Role.OFFICER)
    await emu.click(olive, menu, "open_form_grant")
    await office.ephemeral(olive, "Only ambassadors can recommend a grant.")
    assert emu.views(olive) == []
    assert [a.action for a in await office.refusals()] == ["recommend_grant"]


async def _delivered(office: Office, user: str, fragment: str):
    """Run the outbox (as the dispatcher would) until the DM containing `fragment` is there:
    the listener queues it a moment after Slack's request is answered."""
    for _ in range(100):
        await office.deliver()
        message = office.emu.last_message(user)
        if message is not None and fragment in message.text:
            return message
        await asyncio.sleep(0.02)
    raise AssertionError(f"no DM with {fragment!r}")


async def test_expenses_mileage_and_receipt_hours_prenotify_and_away(office: Office) -> None:
    emu = office.emu
    modal = await open_from_home(office, BOB, "expenses")
    await emu.click(BOB, modal, "field_kind", selected_option="Mileage")
    modal = await emu.wait_for(lambda: "miles" in inputs(emu.views(BOB)[-1])
                               and emu.views(BOB)[-1])
    assert inputs(modal) == ["kind", "incurred_on", "miles", "description"]
    await emu.submit_view(BOB, values={"miles": "12.5", "description": "Drive to Kington"})
    [claim] = await office.rows(ExpenseClaim)
    assert (claim.kind, claim.miles_tenths, claim.person_id) == (
        "mileage", 125, office.cast.other_ambassador.id)

    modal = await open_from_home(office, BOB, "expenses")
    await emu.click(BOB, modal, "field_kind", selected_option="Travel")
    modal = await emu.wait_for(lambda: "receipt" in inputs(emu.views(BOB)[-1])
                               and emu.views(BOB)[-1])
    # The receipt goes through the safe-media pipeline, as a photo from the phone does.
    receipt = emu.user_file(BOB, "r.jpg", jpeg_with_gps())
    await emu.submit_view(BOB, values={"amount": "£12.40", "description": "Train to Ludlow",
                                       "receipt": [receipt]})
    claims = await office.rows(ExpenseClaim)
    assert (claims[-1].amount_pence, claims[-1].receipt_file_id) == (
        1240, f"slack:{receipt['id']}")
    with Image.open(claims[-1].receipt_path) as safe:
        assert len(safe.getexif()) == 0
    assert os.path.exists(claims[-1].receipt_thumb_path)

    await open_from_home(office, BOB, "hours")
    refused = await emu.submit_view(BOB, values={"minutes": "25 hours"})
    assert refused.errors.get("minutes")
    await emu.submit_view(BOB, values={"minutes": "1h30", "description": "Parish emails"})
    [entry] = await office.rows(HoursEntry)
    assert entry.minutes == 90

    modal = await open_from_home(office, BOB, "prenotify")
    assert inputs(modal) == ["title", "kind", "area", "place", "starts_at", "duration",
                             "expected_audience"]
    await emu.submit_view(BOB, values={
        "title": "Leominster parish council", "kind": "Parish council meeting",
        "area": "Herefordshire", "place": "Town hall", "starts_at": "tomorrow 7pm",
        "duration": "1 hour"})
    [engagement] = await office.rows(Engagement)
    assert (engagement.title, engagement.status, engagement.area.name) == (
        "Leominster parish council", "planned", "Herefordshire")
    assert await office.rows(Outbox, Outbox.event == "engagement_prenotified")

    await open_from_home(office, BOB, "away")
    past = await emu.submit_view(BOB, values={"until": "2020-01-01"})
    assert "after today" in past.errors["until"]
    [bob] = await office.rows(Person, Person.id == office.cast.other_ambassador.id)
    assert bob.away_until is None


async def test_photos_from_slack_are_made_safe_and_put_up_for_review(office: Office) -> None:
    """The Photos form: files attached in the modal go through the same safe-media pipeline as
    Telegram's (location stripped), one unusable file is named and the rest kept, and the
    office gets the safe copy with its review buttons."""
    emu = office.emu
    engagement_id = await held_engagement(office, "Clun show")
    ann = office.uid(Role.AMBASSADOR)
    modal = await open_from_home(office, ann, "photos")
    assert inputs(modal) == ["engagement", "media", "consent", "children", "caption"]
    [choice] = [b for b in modal.blocks if b.get("block_id") == "engagement"]
    assert [o["value"] for o in choice["element"]["options"]] == [str(engagement_id)]
    stall = emu.user_file(ann, "IMG_0042.jpg", jpeg_with_gps())
    junk = emu.user_file(ann, "notes.png", b"not an image at all")
    answers = {"engagement": str(engagement_id), "consent": "Yes", "children": "No",
               "caption": "<!channel> our stall"}
    working = await emu.submit_view(ann, values={**answers, "media": [stall, junk]})
    assert working.errors == {} and "I'll send you a message" in str(emu.views(ann)[-1].blocks)
    told = await _delivered(office, ann, "office for review")
    assert "✅ Thank you — 1 item sent to the office for review" in told.text
    assert "Not used: #2" in told.text
    [item] = await office.rows(Media)
    assert (item.engagement_id, item.ambassador_id, item.kind, item.consent_given,
            item.children_present, item.caption) == (
        engagement_id, office.cast.ambassador.id, "photo", True, False, "<!channel> our stall")
    with Image.open(item.safe_path) as safe:
        assert 0x8825 not in safe.getexif()  # no GPS in what may be published
        assert safe.size == (900, 1200)      # the phone's orientation applied
    # Served to the bot only with its token: the download used it.
    assert emu.calls_to("files.info")

    await office.deliver()
    channel = office.channel("media")
    post = next(m for m in emu.messages(channel) if m.blocks)
    assert [b.text for b in emu.buttons(post)] == ["Approve for use", "Don't use"]
    assert "&lt;!channel&gt; our stall" in str(post.blocks)
    [upload] = [m for m in emu.messages(channel) if m.files]
    assert emu.files[upload.files[0]["id"]].content == open(item.safe_path, "rb").read()

    # Nothing usable: the message says why, and nothing more is recorded.
    await open_from_home(office, ann, "photos")
    await emu.submit_view(ann, values={**answers, "media": [
        emu.user_file(ann, "broken.jpg", b"\xff\xd8\xff broken")]})
    told = await _delivered(office, ann, "None of those could be used")
    assert told.text.startswith("⚠️")
    assert len(await office.rows(Media)) == 1


async def test_a_form_with_nothing_to_pick_says_so_and_cannot_be_sent(office: Office) -> None:
    """Bob has no engagements yet: the Photos form says so instead of failing on submit."""
    emu = office.emu
    await emu.send_event(BOB, {"type": "app_home_opened"})
    home = await emu.wait_for(lambda: emu.home(BOB))
    await emu.click(BOB, home, "open_form_photos")
    modal = await emu.wait_for(lambda: emu.views(BOB) and "nothing to pick from" in
                               str(emu.views(BOB)[-1].blocks) and emu.views(BOB)[-1])
    assert "submit" not in modal.definition


async def test_a_slack_only_ambassador_answers_the_catch_up_question_in_a_dm(
        office: Office) -> None:
    """Bob (Slack only) gets this week's catch-up question in his DM; what he writes back goes
    to the engagements channel (as on Telegram), and a message outside the question's week
    (or once answered) gets the menu instead."""
    from storage.operations import reminders

    emu = office.emu
    await emu.send_dm(BOB, "hello")
    await _delivered(office, BOB, "here is what you can do")
    async with office.db.transaction() as s:
        await reminders.do_ask_catch_up(s, office.scheme)
    await _delivered(office, BOB, "")
    await emu.send_dm(BOB, "x" * (office.scheme.limits.max_text_chars + 1))
    await office.ephemeral(BOB, "Please shorten it")
    await emu.send_dm(BOB, "All quiet in Kington <!channel> this week")
    await _delivered(office, BOB, "passed that to the engagement team")
    posted = office.last(office.channel("engagements"))
    assert "All quiet in Kington" in posted.text and "<!channel>" not in posted.text
    assert all("x" * 50 not in m.text for m in emu.messages(office.channel("engagements")))
    await emu.send_dm(BOB, "thanks!")   # answered already: this is just a message
    await _delivered(office, BOB, "here is what you can do")


async def test_a_text_input_takes_one_more_than_the_limit_so_the_bot_says_it(
        office: Office) -> None:
    """Slack's client cuts what is typed at max_length without a word: with the limit + 1
    the input lets a too-long answer through, and the form refuses it saying the limit (the
    same sentence as Telegram), instead of a paste cut off silently."""
    emu = office.emu
    ann = office.uid(Role.AMBASSADOR)
    modal = await open_from_home(office, ann, "grant")
    element = next(b["element"] for b in modal.blocks if b.get("block_id") == "applicant_contact")
    assert element["max_length"] == 301
    typed = ("Sam Jones, 01584 000000. " * 13)[:301]   # as the client lets it through
    answers = {"applicant_organisation": "Ludlow Youth Club", "applicant_contact": typed,
               "project": "Summer boxing sessions", "amount": "£750",
               "objectives": ["Reassuring West Mercia's communities"]}
    refused = await emu.submit_view(ann, values=answers)
    assert "301" in refused.errors["applicant_contact"]
    assert "300" in refused.errors["applicant_contact"]
    contact_2 = await emu.submit_view(ann, values={**answers, "applicant_contact": "Sam Jones"})
    assert contact_2.errors == {"applicant_contact": (
        "Please include a phone number (e.g. 07123 456789) or an e-mail address, so the "
        "office can reach them.")}
    assert await office.rows(GrantRecommendation) == []
