"""A form's state is typed (handlers/forms/state.py) but stored as drafts always were: a draft
saved before the type existed is taken as it is — read, answered, saved back in its own
shape — through the real python-telegram-bot and the Bot API emulator, on SQLite and
PostgreSQL."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from bot.emulators.telegram import TelegramEmulator
from handlers.forms.state import FormState
from storage.models import FormDraft
from storage.operations import drafts
from tests.handlers.telegram.harness import TOKEN, Clock, RunningBot, said
from tests.storage.seed import NOW, Cast

# A draft of /hours as the dict-state code saved it: the day tapped (read back), the time next;
# "legacy" stands for a key some other version wrote.
OLD_HOURS = {"form": "hours", "answers": {"worked_on": "2026-11-20"}, "step": "minutes",
             "history": ["worked_on"], "seq": 2, "options": {}, "editing": False,
             "read_back": [2, "Fri 20 Nov 2026"], "legacy": {"kept": True}}
OLD_GRANT_SUBMITTED = {"form": "grant", "answers": {"organisation": "Clun Youth"},
                       "step": "@summary", "history": ["organisation"], "seq": 9,
                       "options": {}, "editing": False,
                       "labels": {"area": [["Shropshire", "Shropshire"]]},
                       "ticked": {"objectives": []}, "picked_day": "2026-11-21",
                       "submitted": {"at": "2026-11-20T10:00:00+00:00", "notice": None}}


@pytest.mark.parametrize("stored", [OLD_HOURS, OLD_GRANT_SUBMITTED])
def test_a_stored_draft_reads_as_its_fields_and_saves_back_unchanged(stored) -> None:
    state = FormState.from_json(copy.deepcopy(stored))
    assert (state.form, state.step, state.seq, state.answers) == (
        stored["form"], stored["step"], stored["seq"], stored["answers"])
    assert state.to_json() == stored


def test_a_fresh_state_is_stored_with_the_keys_a_fresh_draft_always_had() -> None:
    assert FormState(form="hours").to_json() == {
        "form": "hours", "answers": {}, "step": None, "history": [], "seq": 0, "options": {},
        "editing": False}


def test_a_draft_missing_keys_takes_their_defaults() -> None:
    state = FormState.from_json({"form": "hours", "answers": {"worked_on": "2026-11-20"},
                                 "step": "minutes", "seq": 2})
    assert (state.history, state.options, state.labels, state.pending_photos,
            state.submitted) == ([], {}, {}, [], None)


@pytest.fixture
async def ann(db, scheme):
    cast = await Cast.create(db, scheme)
    async with TelegramEmulator(token=TOKEN) as emu:
        bot = await RunningBot(emu, db, scheme, Clock(NOW)).start()
        try:
            yield cast.ambassador, emu.user(cast.ambassador.telegram_id, "Ann")
        finally:
            await bot.stop()


async def _draft(db, person) -> FormDraft | None:
    async with db.transaction() as s:
        return await s.scalar(select(FormDraft).where(FormDraft.person_id == person.id))


async def test_a_draft_in_progress_saved_in_the_old_shape_takes_the_next_answer(
        ann, db, scheme) -> None:
    person, user = ann
    async with db.transaction() as s:
        await drafts.save_draft(s, scheme, await s.merge(person), "telegram", "hours",
                                copy.deepcopy(OLD_HOURS), activate=True, now=NOW)
    await user.send_text("1h30")
    await said(user, "What did you do?")
    draft = await _draft(db, person)
    assert draft.state["answers"] == {"worked_on": "2026-11-20", "minutes": 90}
    assert draft.state["step"] == "description" and draft.state["legacy"] == {"kept": True}


async def test_a_kept_draft_saved_in_the_old_shape_is_carried_on(ann, db, scheme) -> None:
    person, user = ann
    async with db.transaction() as s:
        await drafts.save_draft(s, scheme, await s.merge(person), "telegram", "hours",
                                copy.deepcopy(OLD_HOURS), now=NOW)
    await user.send_command("/hours")
    await said(user, "Carry on with your hours? (1 answer kept)")
    await user.press("▶ Carry on")
    await said(user, "How long did you work?")
    await user.send_text("2")
    await said(user, "What did you do?")
    assert (await _draft(db, person)).state["answers"]["minutes"] == 120
