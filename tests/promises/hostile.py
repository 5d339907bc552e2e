"""Hostile input through both transports (issue 9, DESIGN §7 "Bad input gets a clear answer"):
hypothesis draws what people type — Unicode edge cases (RTL overrides, ZWJ emoji, NUL, 4,096+
characters), Markdown/HTML/mrkdwn injection, SQL-looking text, numbers and dates that are
nearly right — and every field of every form gets it:

* on Telegram, as the typed answer to that field's question (the form's draft is set at the
  field, the text is sent, the bot's one reply is read);
* in Slack, in every text input of the form's modal at once (one submission per example);
* in every text input of the office's own modals (a grant's or a claim's reason, an invite,
  a meeting, its notes and its move, an outcome's excerpt), opened by someone holding the
  role each needs, the other inputs holding a sound answer while one is judged, and what the
  record kept compared with what was typed.

Each answer must be progress or a refusal that is a sentence; never a stack trace, never the
"something went wrong" apology, never silence (nor, in the office's modals, what was typed
lost). Used by tests/promises/test_hostile_input.py (a few examples per field) and
`python -m bench promises` (10,000 per field; PROMISES_EXAMPLES).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.emulators.slack import EmulatorUsageError, SlackEmulator
from bot.emulators.telegram import FakeUser, TelegramEmulator
from handlers.forms import engine, flows  # noqa: F401  (registers the forms)
from handlers.slack.forms import SLACK_FORMS
from storage.db import Database
from storage.models import Person, Role
from storage import parsers
from storage.operations import drafts, engagements
from storage.scheme import Scheme
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot
from tests.promises.office_modals import OFFICE_MODALS, OfficeModal
from tests.storage.seed import NOW, person

SPECIAL = ["", " ", "\x00", "a\x00b", "\u202eevil\u202c", "\u200f\u05e9\u05dc\u05d5\u05dd",
           "مرحبا بالعالم", "👨‍👩‍👧‍👦", "🏳️‍🌈" * 50, "e\u0301" * 30, "\ufeff", "\r\n\t",
           "'; DROP TABLE people; --", "\" OR 1=1 --", "Robert'); DELETE FROM grants;--",
           "<b>bold</b>", "</pre><script>alert(1)</script>", "*bold* _it_ `code` [x](http://e)",
           "<!channel> <!here> @everyone", "<https://evil.example|click me>", "&amp; &lt;",
           "<@U0OLIVEOFF>", "${jndi:ldap://x}", "{{7*7}}", "%s%s%n", "-5", "1k", "£1,000.50",
           "£-0", "1e308", "NaN", "inf", "0", "9" * 400, "١٢", "１２", "31/02 19:00",
           "29/02/2027 25:61", "yesterday 7pm", "tomorrow 7pm", "00/00", "99:99",
           "x" * 4096, "y" * 4097, "\u202e" * 5000]
HOSTILE = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=4000, max_size=5000),
    st.sampled_from(SPECIAL),
    st.builds(lambda a, b: a + b, st.sampled_from(SPECIAL), st.text(max_size=20)),
)
SORRY = "went wrong"
TRACE = re.compile(r"Traceback|File \"|Exception|Error\b|sqlalchemy|psycopg|asyncpg|"
                   r"telegram\.error|line \d+", re.IGNORECASE)


def draw(examples: int, seed: int = 0) -> list[str]:
    """`examples` texts drawn by hypothesis (collected, then played through the async bot)."""
    drawn: list[str] = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed == 0,
              suppress_health_check=list(HealthCheck))
    @given(typed=HOSTILE)
    def collect(typed: str) -> None:
        drawn.append(typed)

    collect()
    return drawn


def without_echo(said: str, typed: str) -> str:
    """What the bot said minus the person's own words shown back to them (the summary lists
    each answer as stored: cleaned by `parse_text`, and cut short when the message is long), so
    that only the bot's own words are searched for traces. Typed "Value error" is not one."""
    for echoed in dict.fromkeys((typed, _cleaned(typed))):
        if not echoed:
            continue
        said = said.replace(echoed, "")
        # The longest start of it still in there (a summary cut at Telegram's length): every
        # shorter start is in there too, so it is found by halving.
        low, high = 0, len(echoed)
        while low < high:
            middle = (low + high + 1) // 2
            if echoed[:middle] in said:
                low = middle
            else:
                high = middle - 1
        if low >= 16:
            said = said.replace(echoed[:low], "")
    return said


def _cleaned(typed: str) -> str:
    try:
        return parsers.parse_text(typed, max_chars=1_000_000)
    except parsers.InvalidInput:
        return ""


def is_sentence(text: str) -> bool:
    """A refusal a person can read: words, and a full stop (or ?/!) at the end."""
    text = text.strip()
    return len(text) >= 8 and bool(re.search(r"[A-Za-z]{3,} [A-Za-z]", text)) and \
        text.rstrip(")”\"'").endswith((".", "?", "!", ":"))


@dataclass
class FieldTally:
    examples: int = 0
    progress: int = 0
    refusals: int = 0
    stack_traces: int = 0
    silent: int = 0
    not_sentences: int = 0
    lost: int = 0       # taken, but the record does not hold what was typed
    samples: list[str] = field(default_factory=list)  # what went wrong, a few

    def bad(self, kind: str, what: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.samples) < 3:
            self.samples.append(f"{kind}: {what[:160]!r}")


@dataclass
class Tally:
    fields: dict[str, FieldTally] = field(default_factory=dict)
    formatting: list[str] = field(default_factory=list)  # parse_mode used, escapes broken
    skipped: list[str] = field(default_factory=list)  # what Slack's client would not send

    def of(self, name: str) -> FieldTally:
        return self.fields.setdefault(name, FieldTally())

    def total(self, kind: str) -> int:
        return sum(getattr(t, kind) for t in self.fields.values())

    @property
    def failures(self) -> dict[str, list[str]]:
        return {name: t.samples for name, t in self.fields.items()
                if t.stack_traces or t.silent or t.not_sentences or t.lost}


def telegram_fields() -> list[tuple[str, str]]:
    return [(form.name, f.name) for form in engine.all_forms() for f in form.fields]


# ---- Telegram ---------------------------------------------------------------------------------

async def seed_people(db: Database, scheme: Scheme, n: int) -> list[Person]:
    """`n` ambassadors, each with an engagement held yesterday (so every choice has options)."""
    async with db.transaction() as s:
        people = [await person(s, Role.AMBASSADOR, f"Hostile {i}", "Shropshire")
                  for i in range(n)]
        for someone in people:
            await engagements.do_prenotify_engagement(
                s, scheme, title="Clun show", kind="Community event", place="Showground",
                starts_at=NOW - dt.timedelta(days=1), ends_at=NOW - dt.timedelta(hours=22),
                after_the_fact=True, actor=await s.merge(someone), now=NOW)
    return people


async def _answer_on_telegram(emu: TelegramEmulator, db: Database, scheme: Scheme,
                              someone: Person, user: FakeUser, form_name: str, field_name: str,
                              typed: str, tally: FieldTally, *, asked: bool) -> bool:
    """Play one example; True when the bot refused it (so the question stands, asked again).
    ``asked``: the field's question already stands (the last example was refused there), so
    the draft need not be set again."""
    if not asked:
        form = engine.form_named(form_name)
        state = engine.new_state(form)
        state.step = field_name
        async with db.transaction() as s:
            await drafts.save_draft(s, scheme, someone, "telegram", form.name, state.to_json(),
                                    now=NOW)
    # The chat's own list, not user.bot_messages() (a copy of a transcript that grows by
    # thousands of messages in a bench run: the run slowed to a crawl).
    sent = user.chat.bot_sent
    before = len(sent)
    # Telegram's own limits: no empty message, at most 4,096 characters (UTF-16 units).
    text = typed if typed.strip() else typed + "."
    while len(text.encode("utf-16-le")) // 2 > 4096:
        text = text[:-1]
    tally.examples += 1
    await user.send_text(text)
    try:
        await emu.wait_for(lambda: len(sent) > before, 20)
    except TimeoutError:
        tally.bad("silent", text)
        return False
    replies = sent[before:]
    said = "\n".join(m.text or "" for m in replies)
    if SORRY in said or TRACE.search(without_echo(said, text)):
        tally.bad("stack_traces", said)
    elif said.startswith("⚠️"):
        sentence = said.split("\n", 1)[0].removeprefix("⚠️").strip()
        if is_sentence(sentence):
            tally.refusals += 1
            return True
        tally.bad("not_sentences", said)
    else:
        tally.progress += 1
    return False


async def telegram_run(db: Database, scheme: Scheme, examples: list[str], *,
                       fields: list[tuple[str, str]] | None = None, people: int = 8,
                       progress: Callable[[str], None] | None = None) -> Tally:
    """Every example as the answer to every field's question, `people` chats at a time."""
    fields = fields or telegram_fields()
    staff = await seed_people(db, scheme, people)
    tally = Tally()
    work = [(f, n, t) for f, n in fields for t in examples]
    async with TelegramEmulator(token=TOKEN, call_history=1_000) as emu:
        bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
        try:
            users = [emu.user(p.telegram_id, p.name) for p in staff]
            done = Counter[int]()

            async def worker(index: int) -> None:
                standing: tuple[str, str] | None = None  # the question refused last
                for position in range(index, len(work), len(users)):
                    form_name, field_name, typed = work[position]
                    refused = await _answer_on_telegram(
                        emu, db, scheme, staff[index], users[index], form_name, field_name,
                        typed, tally.of(f"{form_name}.{field_name}"),
                        asked=standing == (form_name, field_name))
                    standing = (form_name, field_name) if refused else None
                    done[index] += 1
                    if progress and index == 0 and done[0] % 500 == 0:
                        progress(f"telegram: {sum(done.values()):,} of {len(work):,}")

            await asyncio.gather(*(worker(i) for i in range(len(users))))
            used = [c for c in emu.calls if c.method in ("sendMessage", "editMessageText")
                    and c.params.get("parse_mode")]
            if used or emu.call_counts.get("sendMessage", 0) == 0:
                tally.formatting.append(f"parse_mode used in {len(used)} calls")
        finally:
            await bot.stop()
    return tally


# ---- Slack ------------------------------------------------------------------------------------

def _inputs(view: Any) -> list[dict[str, Any]]:
    return [b for b in view.blocks if b.get("type") == "input"]


def _values(view: Any, typed: str) -> tuple[dict[str, Any], list[str]]:
    """What a person fills in: the hostile text in every text input (cut to the input's
    max_length, which Slack's client enforces), the first option of every choice."""
    values: dict[str, Any] = {}
    typed_into: list[str] = []
    for block in _inputs(view):
        element, name = block["element"], str(block["block_id"])
        kind = element.get("type")
        if kind == "plain_text_input":
            limit = element.get("max_length") or 3000
            values[name] = typed[:limit]
            typed_into.append(name)
        elif kind in ("static_select", "radio_buttons") and element.get("options") \
                and not element.get("initial_option") and not (view.state_values.get(
                    name, {}).get(element.get("action_id")) or {}).get("selected_option"):
            values[name] = element["options"][0]["value"]
        elif kind in ("multi_static_select", "checkboxes") and element.get("options"):
            values[name] = [element["options"][0]["value"]]
    return values, typed_into


async def _open(emu: SlackEmulator, user: str, form_name: str) -> Any:
    """The form's modal, opened fresh from the App Home (any modal still open is closed)."""
    if emu.views(user):
        await emu.close_view(user, clear=True)
    await emu.send_event(user, {"type": "app_home_opened"})
    home = await emu.wait_for(lambda: emu.home(user))
    await emu.click(user, home, f"open_form_{form_name}")

    def ready() -> Any:
        # Filled in (the modal opens "loading" and is updated), or a notice with no inputs
        # (the photos form without a media pipeline points to Telegram).
        views = emu.views(user)
        return views and (_inputs(views[-1]) or views[-1].title != "Loading…" and
                          "Loading" not in str(views[-1].blocks)) and views[-1]
    return await emu.wait_for(ready, 10)


async def _mileage(emu: SlackEmulator, user: str, view: Any) -> Any:
    """Expenses: pick mileage (the modal is rebuilt with Miles instead of a receipt, which is
    a file and can't be typed)."""
    kind = next(b for b in _inputs(view) if b["block_id"] == "kind")
    option = next(o["value"] for o in kind["element"]["options"]
                  if "ileage" in o["text"]["text"])
    await emu.click(user, view, kind["element"]["action_id"], selected_option=option)
    return await emu.wait_for(lambda: any(b["block_id"] == "miles" for b in _inputs(
        emu.views(user)[-1])) and emu.views(user)[-1], 10)


async def slack_run(office: Any, examples: list[str], *, forms: tuple[str, ...] = SLACK_FORMS,
                    progress: Callable[[str], None] | None = None) -> Tally:
    """Every example typed into every text input of every ambassador modal (Ann's)."""
    emu: SlackEmulator = office.emu
    ann = office.uid(Role.AMBASSADOR)
    tally = Tally()
    for form_name in forms:
        view = await _open(emu, ann, form_name)
        if not _inputs(view):
            tally.skipped.append(f"{form_name}: no inputs in Slack ({view.title})")
            continue
        if form_name == "expenses":
            view = await _mileage(emu, ann, view)
        for number, typed in enumerate(examples):
            values, typed_into = _values(view, typed)
            try:
                answer = await emu.submit_view(ann, view.id, values=values)
            except EmulatorUsageError as usage:
                tally.skipped.append(f"{form_name}: {usage}"[:200])
                continue  # Slack's client would not send it (a required input left empty)
            errors = answer.errors
            for name in typed_into:
                count = tally.of(f"{form_name}.{name}")
                count.examples += 1
                if answer.status != 200:
                    count.bad("stack_traces", f"HTTP {answer.status}: {answer.body}")
                elif name in errors:
                    sentence = errors[name]
                    if SORRY in sentence or TRACE.search(sentence):
                        count.bad("stack_traces", sentence)
                    elif is_sentence(sentence):
                        count.refusals += 1
                    else:
                        count.bad("not_sentences", sentence)
                elif errors:
                    count.progress += 1  # this field passed; another one was refused
                elif (answer.data or {}).get("response_action") == "update":
                    count.progress += 1  # the whole form went in
                else:
                    count.bad("silent", f"answer {answer.body[:100]}")
            if answer.status == 200 and not errors:
                view = await _open(emu, ann, form_name)  # submitted: a fresh modal
                if form_name == "expenses":
                    view = await _mileage(emu, ann, view)
            else:
                view = emu.view(view.id)
            if progress and number % 1000 == 999:
                progress(f"slack {form_name}: {number + 1:,} of {len(examples):,}")
    return tally


# ---- the office's modals ----------------------------------------------------------------------

def _gist(text: str | None) -> str:
    """The letters and digits of a text, composed (NFC): what tidying spaces and control
    characters away may never lose."""
    return "".join(ch for ch in unicodedata.normalize("NFC", text or "")
                   if unicodedata.category(ch)[0] in "LN")


def _text_inputs(view: Any) -> dict[str, dict[str, Any]]:
    return {str(b["block_id"]): b for b in _inputs(view)
            if b["element"].get("type") == "plain_text_input"}


def _filled(view: Any, texts: dict[str, str]) -> dict[str, Any]:
    """`texts` in the text inputs (cut at each one's max_length, as Slack's client cuts a
    paste) and a valid choice in every picker: its first option; date pickers left empty."""
    values: dict[str, Any] = {}
    for block in _inputs(view):
        element, name = block["element"], str(block["block_id"])
        kind = element.get("type")
        if kind == "plain_text_input":
            values[name] = texts[name][:element.get("max_length") or 3000]
        elif kind in ("static_select", "radio_buttons") and element.get("options"):
            values[name] = element["options"][0]["value"]
        elif kind in ("multi_static_select", "checkboxes") and element.get("options"):
            values[name] = [element["options"][0]["value"]]
    return values


async def _office_example(office: Any, modal: OfficeModal, user: str, view: Any, typed: str,
                          tally: Tally) -> bool:
    """`typed` in every text input of the open modal at once; an input refused is judged on
    its sentence and given the modal's sound answer, and the rest are sent again, until the
    submission goes in (each input still holding `typed` judged as progress, and what the
    record kept compared with what was typed). True when the record was used up (or the
    answer broke), so the next example needs the modal opened afresh."""
    inputs = _text_inputs(view)
    cut = {name: typed[:b["element"].get("max_length") or 3000] for name, b in inputs.items()}
    pending = [name for name, b in inputs.items() if cut[name] or b.get("optional")]
    tally.skipped += [f"{modal.name}.{name}: Slack's client won't send it empty"
                      for name in inputs if name not in pending]
    while pending:
        texts = {name: typed if name in pending else modal.good[name] for name in inputs}
        answer = await office.emu.submit_view(user, view.id, values=_filled(view, texts))
        counts = {name: tally.of(f"{modal.name}.{name}") for name in pending}
        if answer.status != 200 or answer.problems:
            kind = "stack_traces" if answer.status != 200 else "silent"
            for count in counts.values():
                count.examples += 1
                count.bad(kind, f"{typed[:40]!r}: HTTP {answer.status} {answer.body} "
                                f"{answer.problems}")
            return True
        errors = answer.errors
        judged = [name for name in pending if name in errors]
        if errors and not judged:
            for count in counts.values():
                count.examples += 1
                count.bad("not_sentences", f"{typed[:40]!r} refused on another input: "
                                           f"{errors}")
            return False
        if errors:
            for name in judged:
                sentence, count = errors[name], counts[name]
                count.examples += 1
                if SORRY in sentence or TRACE.search(without_echo(sentence, typed)):
                    count.bad("stack_traces", sentence)
                elif is_sentence(sentence):
                    count.refusals += 1
                else:
                    count.bad("not_sentences", sentence)
                pending.remove(name)
            continue
        if (answer.data or {}).get("response_action") not in (None, "update"):
            for count in counts.values():
                count.examples += 1
                count.bad("silent", f"{typed[:40]!r}: answer {answer.body[:100]}")
            return True
        kept = await modal.kept(office, view)
        for name, count in counts.items():
            count.examples += 1
            if name in kept and _gist(kept[name]) != _gist(cut[name]):
                count.bad("lost", f"typed {cut[name][:60]!r}, kept {str(kept[name])[:60]!r}")
            else:
                count.progress += 1
        return True
    return False


OFFICE_BATCH = 6


async def office_run(office: Any, examples: list[str], *,
                     modals: tuple[OfficeModal, ...] = OFFICE_MODALS,
                     progress: Callable[[str], None] | None = None) -> Tally:
    """Every example typed into every text input of every modal the office opens, each
    modal opened by someone holding the role it needs (tests/promises/office_modals.py)."""
    tally = Tally()
    for modal in modals:
        user = office.uid(modal.role)
        unused: list[int] = []
        record: int | None = None

        async def opened(afresh: bool) -> Any:
            nonlocal record
            if afresh and modal.make:
                if not unused:   # a few at once, their posts delivered together
                    unused.extend([await modal.make(office)
                                   for _ in range(OFFICE_BATCH if modal.once else 1)])
                    await office.deliver()
                record = unused.pop(0)
            return await modal.open(office, user, record)

        view = await opened(True)
        if view.callback_id != modal.callback_id:
            tally.skipped.append(f"{modal.name}: opened {view.callback_id!r} ({view.title})")
            continue
        for number, typed in enumerate(examples):
            if await _office_example(office, modal, user, view, typed, tally):
                view = await opened(modal.once)
            if progress and number % 1000 == 999:
                progress(f"office {modal.name}: {number + 1:,} of {len(examples):,}")
    return tally
