"""The sandbox page in a real browser: an ambassador's phone and the office's Slack, end to end.

The story of issue 8, step by step, as a newcomer would click it: Ann (Shropshire) pre-notifies
an engagement by tapping buttons and typing a date; a week later she files feedback marked
urgent; Olivia, the engagement officer, acknowledges it in the alerts channel; Ann recommends a
£750 grant; Colin, the commissioning officer, refers it; Helen, the Commissioner, approves it;
App Home's fund drops by £750 and Ann's phone says approved. A screenshot of each step goes to
test-artifacts/ (kept out of git).

The office's half needs the Slack app (handlers/slack), the outbox dispatcher and the schedules
(scheduler/): `needs()` fails a step with a sentence naming the piece when it is missing.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
WAIT_MS = 15_000

TITLE = "Ludlow skatepark consultation"
ORGANISATION = "Ludlow Skatepark Group"


def pounds(text: str) -> int:
    """`"£39,400"` → 39400."""
    return int(re.sub(r"[^\d]", "", text.split(".")[0]))


class Phone:
    """The left of the page: the chosen ambassador's Telegram chat."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.bot_messages = page.locator('#chat [data-testid="bot-message"]')
        self.question = ""   # what the bot last asked: its buttons are the ones to tap

    def _count(self) -> int:
        return self.bot_messages.count()

    def _wait_for_new(self, before: int, fragment: str) -> None:
        try:
            self.page.wait_for_function(
                """([before, fragment]) => [...document.querySelectorAll(
                       '#chat [data-testid="bot-message"]')].slice(before)
                       .some((m) => m.textContent.includes(fragment))""",
                arg=[before, fragment], timeout=WAIT_MS)
        except Exception as error:  # noqa: BLE001 — say what the phone shows instead
            last = self.bot_messages.last.text_content() if self._count() else None
            raise AssertionError(f"the bot did not say {fragment!r}; its last message: "
                                 f"{last!r}") from error
        self.question = fragment

    def _keyboard(self) -> Locator:
        """The buttons under the current question (not under a reminder that came meanwhile)."""
        return self.page.locator("#chat .bubble-wrap.bot:has(.keyboard)").filter(
            has_text=self.question).last

    def send(self, text: str, *, then: str) -> None:
        """Type a message, send it, and wait for the bot's answer containing `then`."""
        before = self._count()
        box = self.page.get_by_test_id("message")
        box.fill(text)
        box.press("Enter")
        self._wait_for_new(before, then)

    def tap(self, label: str, *, then: str) -> None:
        """Tap a button of the bot's latest question and wait for the answer."""
        before = self._count()
        self._keyboard().locator(".kb-btn", has_text=label).first.click()
        self._wait_for_new(before, then)

    def tick(self, label: str) -> None:
        """Tick one choice of a multiple-choice question (the same message is updated)."""
        self._keyboard().locator(".kb-btn", has_text=label).first.click()
        expect(self._keyboard().locator(".kb-btn", has_text=f"✅ {label}")).to_be_visible()

    def said(self, fragment: str) -> Locator:
        found = self.bot_messages.filter(has_text=fragment).last
        expect(found).to_be_visible(timeout=WAIT_MS)
        return found


class Office:
    """The right of the page: Slack, as one person of the office."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def act_as(self, name: str) -> None:
        picker = self.page.get_by_test_id("actor")
        value = picker.locator("option", has_text=name).get_attribute("value")
        picker.select_option(value)

    def open_channel(self, name: str) -> None:
        self.page.locator(f'[data-testid="channel"][data-channel="{name}"]').click()
        expect(self.page.get_by_test_id("slack-title")).to_have_text(f"# {name}")

    def open_dm(self) -> None:
        self.page.get_by_test_id("dm").click()

    def open_home(self) -> Locator:
        self.page.get_by_test_id("app-home").click()
        home = self.page.get_by_test_id("home")
        expect(home).to_be_visible(timeout=WAIT_MS)
        return home

    def message(self, *fragments: str) -> Locator:
        found = self.page.get_by_test_id("slack-message")
        for fragment in fragments:
            found = found.filter(has_text=fragment)
        expect(found.last).to_be_visible(timeout=WAIT_MS)
        return found.last

    def press(self, message: Locator, label: str, *, confirm: bool = False) -> None:
        message.locator(".sl-btn", has_text=label).first.click()
        if confirm:
            self.page.get_by_test_id("confirm-yes").click()


def needs(page: Page, *pieces: str) -> None:
    """The office's steps need these pieces running; say which is missing, plainly."""
    for key in pieces:
        piece = page.locator(f'#pieces [data-piece="{key}"]')
        running = piece.get_attribute("data-running") if piece.count() else None
        assert running == "yes", (
            f"this step needs the sandbox's {key!r} piece, which is not running in this build "
            f"({piece.get_attribute('title') if piece.count() else 'not listed'}).")


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"sandbox-{name}.png"))


def open_page(page: Page, url: str, *, ambassador: str = "ann", actor: str = "officer") -> None:
    page.goto(f"{url}/?ambassador={ambassador}&actor={actor}")
    expect(page.locator("body[data-live=yes]")).to_be_attached(timeout=WAIT_MS)
    expect(page.get_by_test_id("ambassador")).to_have_value(re.compile(r"\d+"))


def prenotify(phone: Phone, title: str = TITLE, area: str = "Shropshire",
              place: str = "Ludlow Assembly Rooms") -> None:
    phone.send("/prenotify", then="What is the engagement called?")
    phone.send(title, then="What kind of engagement")
    phone.tap("Community event", then="Which area is it in?")
    phone.tap(area, then="Where is it?")
    phone.send(place, then="When does it start?")
    phone.send("tomorrow 7pm", then="How long will it last?")
    phone.tap("2 hours", then="Roughly how many people")
    phone.send("40", then="exact location")
    phone.tap("Skip", then="please check")
    phone.tap("Submit", then=f"the office knows about “{title}”")


def uploaded(page: Page, title: str) -> Locator:
    """The picture of the latest file shown in Slack whose title mentions `title`."""
    return (page.locator('#slack-messages [data-testid="slack-file"]', has_text=title).last
            .get_by_test_id("slack-image"))


def shows_picture(image: Locator, attempts: int = 5) -> None:
    """The picture is on the page and the browser could decode it (not a broken image)."""
    expect(image).to_be_visible(timeout=WAIT_MS)
    for attempt in range(1, attempts + 1):
        # The message list is drawn again as activity arrives (the upload's own events come
        # just after the post): a picture replaced mid-check is looked up again.
        try:
            image.scroll_into_view_if_needed(timeout=WAIT_MS)
            width = image.evaluate("img => img.decode().then(() => img.naturalWidth, () => 0)")
            break
        except PlaywrightError as error:
            if "not attached" not in str(error) or attempt == attempts:
                raise
    assert width > 0, f"the picture {image.get_attribute('src')!r} did not load"


def file_urgent_feedback(phone: Phone) -> None:
    phone.send("/feedback", then="Which engagement is this about?")
    phone.tap(TITLE, then="How many people were there?")
    phone.send("38", then="Which groups did you meet?")
    phone.tick("Young people")
    phone.tap("Done", then="Which topics came up?")
    phone.tick("Anti-social behaviour")
    phone.tap("Done", then="Please write a summary")
    phone.send("Young people want the skatepark kept open in the evenings; residents report "
               "fireworks thrown at the ramps and a knife seen last Friday.",
               then="What came of it?")
    phone.tap("Skip", then="Does anyone need to follow anything up?")
    phone.tap("Police or a partner", then="What needs following up")
    phone.send("Ask the Safer Neighbourhood Team to patrol the skatepark on Friday evenings "
               "before someone is hurt.", then="How urgent is it?")
    phone.tap("Urgent", then="How long did you spend")
    phone.send("2", then="please check")
    phone.tap("Submit", then="flagged as urgent")


def recommend_grant(phone: Phone) -> None:
    phone.send("/grant", then="Which organisation or group")
    phone.send(ORGANISATION, then="Who is their contact")
    phone.send("Jan Hughes, 07700 900789", then="What is the project")
    phone.send("Floodlights and a CCTV camera at the skatepark so it can stay open safely "
               "until 9pm.", then="How much do you recommend?")
    phone.send("£750", then="Which objectives")
    phone.tick("Reassuring West Mercia's communities")
    phone.tap("Done", then="Did you come across it")
    phone.tap(TITLE, then="please check")
    phone.tap("Submit", then=f"your recommendation of £750 for {ORGANISATION}")


def a_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (960, 720), (64, 128, 96)).save(out, "JPEG")
    return out.getvalue()


def send_photo(phone: Phone, engagement: str) -> None:
    """/photos with one photo chosen from the page's 📎, consent given, no children."""
    phone.send("/photos", then="Which engagement are they from?")
    phone.tap(engagement, then="Send the photos or video now")
    phone.page.get_by_test_id("photo").set_input_files(
        {"name": "engagement.jpg", "mimeType": "image/jpeg", "buffer": a_photo()})
    expect(phone.page.locator('#chat [data-testid="my-message"] img').last).to_be_visible()
    phone.said("Received 1 so far")   # the question's own message, edited with the count
    phone.tap("Done", then="Did everyone shown agree")
    phone.tap("Yes", then="Are any children")
    phone.tap("No", then="Anything the office should know")
    phone.tap("Skip", then="please check")
    phone.tap("Submit", then="1 item sent to the office for review")


def test_the_ambassadors_phone(page: Page, sandbox) -> None:
    """An ambassador's side alone: the command menu, buttons, a restart in the middle of a form
    (the draft survives), a photo sent from the page, and the clock moving on."""
    open_page(page, sandbox.url, ambassador="raj")
    phone = Phone(page)
    page.get_by_test_id("menu-button").click()
    expect(page.get_by_test_id("commands")).to_contain_text("/prenotify")
    before = phone._count()
    page.locator('#commands [data-command="hours"]').click()
    phone._wait_for_new(before, "Which day?")
    phone.tap("Yesterday", then="How long did you work?")
    restart = page.get_by_test_id("restart")
    restart.click()
    expect(restart).to_be_enabled(timeout=WAIT_MS)   # disabled until the bot is back
    phone.send("1h30", then="What did you do?")   # the draft survived the restart
    phone.send("Calls with the youth club", then="please check")
    phone.tap("Submit", then="Logged 1h30")

    send_photo(phone, "Telford Central Mosque open day")

    for step in ("advance-day", "advance-hour"):
        clock = page.get_by_test_id("clock").text_content()
        page.get_by_test_id(step).click()
        expect(page.get_by_test_id("clock")).not_to_have_text(clock or "", timeout=WAIT_MS)
    expect(page.get_by_test_id("clock")).to_contain_text("h)")   # "(+1d 1h)" or later
    shot(page, "phone")


def test_the_office_side(page: Page, sandbox) -> None:
    """Slack as the office sees it: Tom's photo approved for use, a question about Raj's grant
    asked in a modal (a required field first left empty), the weekly digest run from the
    toolbar."""
    open_page(page, sandbox.url, ambassador="tom", actor="officer")
    needs(page, "dispatcher", "slack")
    phone, office = Phone(page), Office(page)

    send_photo(phone, "Evesham Good Neighbours coffee morning")
    office.open_channel("ambassador-media")
    photo = office.message("New photo from Tom Fairbairn")
    # The dispatcher uploads the photo into the post's thread; the page shows the picture.
    shows_picture(uploaded(page, "Evesham Good Neighbours coffee morning"))
    office.press(photo, "Approve for use")
    expect(office.message("approved for use — Olivia Hart")).to_be_visible()

    office.act_as("Colin Marsh")
    office.open_channel("ambassador-grants")
    card = office.message("Woodside Community Garden", "£400")
    office.press(card, "Ask for information")
    modal = page.get_by_test_id("modal")
    expect(modal).to_be_visible(timeout=WAIT_MS)
    expect(modal).to_contain_text("Your question for the ambassador")
    modal.locator("#modal-submit").click()
    expect(modal).to_contain_text("Please complete this required field.")
    modal.locator("textarea, input.sl-input").first.fill(
        "How many evenings a week would the garden open, and who locks up?")
    modal.locator("#modal-submit").click()
    expect(modal).to_be_hidden(timeout=WAIT_MS)
    expect(office.message("Woodside Community Garden", "who locks up?")).to_be_visible()
    page.get_by_test_id("ambassador").select_option(label="Raj Patel — Telford and Wrekin")
    phone.said("The commissioning team asks about your grant recommendation for Woodside")
    shot(page, "office")

    office.act_as("Helen Ward")
    office.open_channel("ambassador-digest")
    page.get_by_test_id("digest").click()
    expect(office.message("Weekly digest")).to_be_visible(timeout=WAIT_MS)
    shows_picture(uploaded(page, "Weekly digest"))
    shot(page, "digest")
    office.open_dm()
    expect(office.message("Weekly digest")).to_be_visible(timeout=WAIT_MS)
    shows_picture(uploaded(page, "Weekly digest"))


def test_the_whole_scheme_in_the_browser(page: Page, sandbox) -> None:
    """Issue 8's story, from Ann's phone to the Commissioner's decision and back."""
    open_page(page, sandbox.url)
    phone, office = Phone(page), Office(page)
    fund_before = pounds(page.get_by_test_id("fund").text_content() or "")

    # 1. Ann pre-notifies an engagement: buttons for the choices, a typed date.
    prenotify(phone)
    shot(page, "1-prenotified")

    # 2. A week passes (the toolbar moves the bot's clock); 3. she files urgent feedback.
    clock = page.get_by_test_id("clock").text_content()
    page.get_by_test_id("advance-week").click()
    expect(page.get_by_test_id("clock")).not_to_have_text(clock or "", timeout=WAIT_MS)
    # The schedules ran on the moved clock: Ann is nudged for feedback and reminded of the
    # quarterly meeting, on her phone.
    phone.said(f"How did {TITLE}")
    phone.said("Reminder: Quarterly ambassadors' meeting")
    file_urgent_feedback(phone)
    shot(page, "2-urgent-feedback")

    # 4. Olivia, the engagement officer, acknowledges the alert in the alerts channel.
    needs(page, "dispatcher", "slack")
    office.act_as("Olivia Hart")
    office.open_channel("ambassador-alerts")
    alert = office.message(TITLE, "URGENT")
    office.press(alert, "Acknowledge")
    expect(office.message(TITLE, "acknowledged by Olivia Hart")).to_be_visible()
    shot(page, "3-acknowledged")

    # 5. Ann recommends a £750 grant for a project she found there.
    recommend_grant(phone)

    # 6. Colin, the commissioning officer, refers it to the Commissioner.
    office.act_as("Colin Marsh")
    office.open_channel("ambassador-grants")
    card = office.message(ORGANISATION, "£750")
    office.press(card, "Refer to Commissioner", confirm=True)
    expect(office.message(ORGANISATION, "Commissioner")).not_to_contain_text(
        "Refer to Commissioner", timeout=WAIT_MS)
    phone.said(f"Your grant recommendation for {ORGANISATION} has gone to the Commissioner")
    shot(page, "4-referred")

    # 7. Helen, the Commissioner, sees the fund in App Home and approves from her messages.
    office.act_as("Helen Ward")
    expect(office.open_home()).to_contain_text(f"£{fund_before:,}", timeout=WAIT_MS)
    office.open_dm()
    decision = office.message(ORGANISATION, "£750")
    office.press(decision, "Approve", confirm=True)
    expect(office.message(ORGANISATION, "Approved")).to_be_visible()

    # 8. App Home shows the fund £750 lower; 9. Ann's phone says approved.
    fund_after = f"£{fund_before - 750:,}"
    expect(page.get_by_test_id("fund")).to_have_text(fund_after, timeout=WAIT_MS)
    home = office.open_home()
    expect(home).to_contain_text(fund_after, timeout=WAIT_MS)
    phone.said(f"approved your grant recommendation of £750 for {ORGANISATION}")
    shot(page, "5-approved")


HOSTILE = ("<img src=x onerror=\"document.body.dataset.pwned='yes'\"> <b>Bold</b> & "
           "<script>document.body.dataset.pwned='yes'</script>")


def nothing_ran(page: Page) -> None:
    assert page.locator("body[data-pwned]").count() == 0
    assert page.locator('img[src="x"], #chat b, #slack-messages b:text("Bold")').count() == 0
    assert page.locator("script").count() == 1          # sandbox.js, and nothing typed
    assert page.locator('a[href^="javascript" i]').count() == 0


def test_what_people_type_is_shown_as_text(page: Page, sandbox) -> None:
    """HTML and Slack markup typed by an ambassador or in Slack appear as the characters
    typed, on the phone and in Slack, and never run."""
    open_page(page, sandbox.url, ambassador="megan", actor="officer")
    needs(page, "dispatcher", "slack")
    phone, office = Phone(page), Office(page)

    prenotify(phone, title=HOSTILE, area="Herefordshire", place="<i>Leominster</i> & Co")
    expect(phone.said("the office knows about")).to_contain_text(HOSTILE)
    office.open_channel("ambassador-engagements")
    expect(office.message("<img src=x")).to_contain_text(HOSTILE)
    nothing_ran(page)

    box = page.get_by_test_id("slack-input")
    box.fill("<img src=x onerror=alert(1)> *fine* <javascript:alert(1)|click me> "
             "<https://example.org|a real link>")
    box.press("Enter")
    said = office.message("click me")
    expect(said.locator('a[href="https://example.org"]')).to_have_text("a real link")
    nothing_ran(page)
    shot(page, "escaped")


# -- issue 22: the page on any screen, a clock that moves, the outbox's true totals ----------

@contextmanager
def page_sized(browser, width: int, height: int, *, fake_clock: bool = False) -> Iterator[Page]:
    """A page of the given size; like the `page` fixture, any script error fails the test."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    if fake_clock:
        opened.clock.install()   # the browser's time, moved by the test (it flows meanwhile)
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert problems == [], f"the page raised: {problems}"


def no_sideways_scroll(page: Page) -> None:
    widths = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths[0]} px in {widths[1]}"


def on_top(page: Page, testid: str) -> None:
    """Nothing covers the middle of the element: a tap there reaches it."""
    covered = page.get_by_test_id(testid).evaluate("""(node) => {
        const box = node.getBoundingClientRect();
        const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
        return hit && (hit === node || node.contains(hit)) ? null
            : (hit ? hit.outerHTML.slice(0, 120) : 'nothing (off screen)'); }""")
    assert covered is None, f"{testid} is covered by {covered}"


def header_time(page: Page) -> dt.datetime:
    label = (page.get_by_test_id("clock").text_content() or "").split(" (")[0]
    return dt.datetime.strptime(label, "%a %d %b %Y, %H:%M")


def test_the_page_on_a_phone(browser, sandbox) -> None:
    """At 390×844 one pane at a time with tabs, nothing covering ☰ Menu or the message box,
    no sideways scroll; the paperclip's Location answers the form's location question; a long
    paste reaches the bot (one character over its limit) and the bot refuses it in its words."""
    with page_sized(browser, 390, 844) as page:
        open_page(page, sandbox.url, ambassador="megan", actor="commissioning")
        phone = Phone(page)
        for tab, shown in (("slack", "slack-messages"), ("outbox", "outbox"),
                           ("phone", "chat")):
            page.get_by_test_id(f"tab-{tab}").click()
            expect(page.get_by_test_id(shown)).to_be_visible()
            for hidden in {"slack-messages", "outbox", "chat"} - {shown}:
                expect(page.get_by_test_id(hidden)).to_be_hidden()
            no_sideways_scroll(page)
            shot(page, f"phone-width-{tab}")

        if page.get_by_test_id("start").is_visible():
            page.get_by_test_id("start").click()
        for testid in ("menu-button", "message", "attach"):
            on_top(page, testid)
        page.get_by_test_id("menu-button").click()
        expect(page.get_by_test_id("commands")).to_contain_text("/prenotify")

        phone.send("/prenotify", then="What is the engagement called?")
        box = page.get_by_test_id("message")
        expect(box).to_have_attribute("maxlength", "201")   # the title's limit is 200
        before = phone._count()
        box.fill("x" * 5000)
        assert len(box.input_value()) == 201
        box.press("Enter")
        phone._wait_for_new(before, "201")                   # the bot's refusal, its numbers
        phone.send("Kington youth forum", then="What kind of engagement")
        phone.tap("Community event", then="Which area is it in?")
        phone.tap("Herefordshire", then="Where is it?")
        phone.send("Kington Library", then="When does it start?")
        phone.send("tomorrow 6pm", then="How long will it last?")
        phone.tap("2 hours", then="Roughly how many people")
        phone.send("15", then="exact location")

        page.get_by_test_id("attach").click()
        menu = page.get_by_test_id("attach-menu")
        for item in ("Photo", "File", "Location"):
            expect(menu).to_contain_text(item)
        page.get_by_test_id("attach-location").click()
        page.get_by_test_id("latitude").fill("52.2037")
        page.get_by_test_id("longitude").fill("-3.0267")
        before = phone._count()
        page.get_by_test_id("location-send").click()
        expect(page.locator('#chat [data-testid="my-message"]').last).to_contain_text("Location")
        phone._wait_for_new(before, "please check")
        shot(page, "phone-width-location")
        phone.tap("Submit", then="the office knows about “Kington youth forum”")
        expect(box).to_have_attribute("maxlength", "4096")   # no typed answer due: Telegram's

        page.get_by_test_id("attach").click()
        with page.expect_file_chooser() as chosen:
            page.get_by_test_id("attach-file").click()
        chosen.value.set_files({"name": "notes.txt", "mimeType": "text/plain",
                                "buffer": b"Minutes of the youth forum"})
        expect(page.locator('#chat [data-testid="my-message"]').last).to_contain_text("File")

        page.get_by_test_id("tab-slack").click()
        page.get_by_test_id("channel").filter(has_text="ambassador-engagements").click()
        Office(page).message("Kington youth forum")
        # Slack's text wraps as words, not a letter or two a line (the list is drawn again as
        # messages arrive, so the width is read from whichever row is on the page).
        page.wait_for_function("""() => [...document.querySelectorAll(
            '[data-testid="slack-message"] .sl-body')].some((body) =>
            body.textContent.includes('Kington youth forum')
            && body.getBoundingClientRect().width > 300)""")
        on_top(page, "slack-input")
        no_sideways_scroll(page)
        shot(page, "phone-width-slack")

    with page_sized(browser, 360, 740) as page:
        open_page(page, sandbox.url, ambassador="megan", actor="commissioning")
        for tab in ("phone", "slack", "outbox"):
            page.get_by_test_id(f"tab-{tab}").click()
            no_sideways_scroll(page)


def test_the_page_on_a_laptop(browser, sandbox) -> None:
    """At 1280×720 the phone and Slack side by side, the message areas getting the height."""
    with page_sized(browser, 1280, 720) as page:
        open_page(page, sandbox.url, ambassador="megan", actor="commissioning")
        expect(page.get_by_test_id("tabs")).to_be_hidden()
        expect(page.locator('#chat [data-testid="bot-message"]').last).to_be_visible()
        expect(page.get_by_test_id("slack-message").last).to_be_visible()
        for testid in ("chat", "slack-messages", "menu-button", "message"):
            expect(page.get_by_test_id(testid)).to_be_visible()
        chat, slack = (page.get_by_test_id(t).bounding_box() for t in ("chat", "slack-messages"))
        assert chat["x"] + chat["width"] <= slack["x"], "the phone and Slack overlap"
        assert slack["height"] > 420, f"Slack's messages get only {slack['height']:.0f} px"
        assert chat["height"] > 380, f"the chat gets only {chat['height']:.0f} px"
        for testid in ("menu-button", "message", "slack-input", "actor"):
            on_top(page, testid)
        no_sideways_scroll(page)
        shot(page, "laptop")


def test_the_header_clock_moves_by_itself(browser, sandbox) -> None:
    """The header's time moves on with the bot's clock without any click or reload: when time
    passes, and when the clock is moved through the sandbox's API."""
    with page_sized(browser, 1280, 720, fake_clock=True) as page:
        open_page(page, sandbox.url)
        shown, before = page.get_by_test_id("clock").text_content(), header_time(page)
        page.clock.fast_forward("05:00")          # five minutes pass; nobody touches the page
        expect(page.get_by_test_id("clock")).not_to_have_text(shown or "")
        moved = header_time(page) - before
        assert dt.timedelta(minutes=5) <= moved <= dt.timedelta(minutes=6), moved

        # The bot's clock moved from elsewhere (the API, not the page's button): the header
        # shows the bot's new time (this browser's faked five minutes no longer count).
        shown = page.get_by_test_id("clock").text_content()
        answer = page.request.post(f"{sandbox.url}/api/clock", data={"hours": 1})
        assert answer.ok, answer.text()
        expect(page.get_by_test_id("clock")).not_to_have_text(shown or "")
        bot_time = dt.datetime.strptime(answer.json()["clock"]["label"], "%a %d %b %Y, %H:%M")
        assert dt.timedelta(0) <= header_time(page) - bot_time <= dt.timedelta(minutes=1)


def test_the_outbox_shows_every_rows_totals_and_times(browser, sandbox) -> None:
    """The Outbox summary counts every row in the database, not just the rows it shows, and
    each row says when it was written."""
    database = sandbox.log.parent / "sandbox.db"

    def counts() -> dict[str, int]:
        with closing(sqlite3.connect(database)) as connection:
            return dict(connection.execute(
                "SELECT status, count(*) FROM outbox GROUP BY status").fetchall())

    with page_sized(browser, 1280, 720) as page:
        open_page(page, sandbox.url)
        # More rows than the panel shows (weeks passing send nudges, reminders, digests).
        for _ in range(10):
            if sum(counts().values()) > 80:
                break
            assert page.request.post(f"{sandbox.url}/api/clock", data={"hours": 168}).ok
        page.reload()
        expect(page.locator("body[data-live=yes]")).to_be_attached(timeout=WAIT_MS)
        rows = page.get_by_test_id("outbox-row")
        expect(rows.first).to_be_attached()
        # The dispatcher may still be delivering: read the page and the database when settled.
        expected = ""
        for _ in range(40):
            found = counts()
            expected = (f"{found.get('pending', 0):,} waiting · {found.get('sent', 0):,} "
                        "delivered")
            if expected in (page.get_by_test_id("outbox-summary").text_content() or ""):
                break
            page.wait_for_timeout(250)
        summary = page.get_by_test_id("outbox-summary").text_content() or ""
        total = sum(counts().values())
        assert expected in summary, (summary, counts())
        assert f"of {total:,} shown" in summary, summary
        assert rows.count() < total
        times = page.get_by_test_id("outbox-time")
        assert re.fullmatch(r"\w{3} \d{1,2} \w{3} \d{4}, \d\d:\d\d",
                            times.first.text_content() or "")


def test_a_file_that_is_not_a_photo_is_refused_before_the_next_question(browser,
                                                                        sandbox) -> None:
    """At 390×844, /photos: a text file from the paperclip's File is refused at once, by its
    name, while the photo question (one count, one set of buttons) is still the one asked —
    not after the consent questions and Submit. The phone layout's picture for the README
    (docs/sandbox-phone.png) is taken here when README_SCREENSHOTS is set."""
    with page_sized(browser, 390, 844) as page:
        open_page(page, sandbox.url, ambassador="megan", actor="commissioning")
        if page.get_by_test_id("start").is_visible():
            page.get_by_test_id("start").click()
        phone = Phone(page)
        phone.send("/photos", then="Which engagement are they from?")
        phone.tap("forum", then="Send the photos or video now")
        page.get_by_test_id("photo").set_input_files(
            {"name": "forum.jpg", "mimeType": "image/jpeg", "buffer": a_photo()})
        phone.said("Received 1 so far")
        before = phone._count()
        page.get_by_test_id("attach").click()
        with page.expect_file_chooser() as chosen:
            page.get_by_test_id("attach-file").click()
        chosen.value.set_files({"name": "notes.txt", "mimeType": "text/plain",
                                "buffer": b"Minutes of the older people's forum"})
        phone._wait_for_new(before, "“notes.txt” isn't a photo (it looks like text)")
        assert phone.bot_messages.filter(has_text="Did everyone shown agree").count() == 0
        expect(page.locator("#chat .kb-btn", has_text="Done")).to_have_count(1)
        phone.said("Received 1 so far")
        no_sideways_scroll(page)
        page.get_by_test_id("chat").evaluate("(chat) => { chat.scrollTop = chat.scrollHeight; }")
        shot(page, "phone-width-file-refused")
        if os.environ.get("README_SCREENSHOTS"):  # a test run leaves the checkout as it was
            page.screenshot(path=str(ROOT / "docs" / "sandbox-phone.png"))
        phone.question = "Send the photos or video now"   # its buttons, above the refusal
        phone.tap("Done", then="Did everyone shown agree")
