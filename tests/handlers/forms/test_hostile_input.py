"""Whatever is typed into whatever question of whatever form, the engine answers with either
progress or one sentence — never an exception (DESIGN §7 "Bad input gets a clear answer")."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.forms import engine, flows  # noqa: F401  (registers the forms)
from handlers.forms.engine import Answer, FormContext
from storage.operations import people
from tests.storage.seed import NOW, Cast

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "25"))
HOSTILE = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=4000, max_size=5000),
    st.sampled_from(["", " ", "\x00", "\u202eevil", "👨‍👩‍👧‍👦", "'; DROP TABLE people; --",
                     "<b>bold</b>", "*bold* _it_ `code`", "-5", "1k", "£1,000.50", "31/02 19:00",
                     "yesterday 7pm", "１２", "NaN", "inf", "1e308", "0", "9" * 400]),
)
FIELDS = [(form.name, field.name) for form in engine.all_forms() for field in form.fields
          if field.kind not in ("photos", "location")]


@pytest.mark.parametrize("form_name,field_name", FIELDS,
                         ids=[f"{f}.{n}" for f, n in FIELDS])
async def test_every_field_answers_with_progress_or_a_sentence(db, scheme, form_name,
                                                                 field_name) -> None:
    cast = await Cast.create(db, scheme)
    form = engine.form_named(form_name)
    async with db.transaction() as s:
        ambassador = await people.get_person(s, cast.ambassador.id)  # as the router loads them
    ctx = FormContext(db=db, scheme=scheme, person=ambassador, now=NOW)

    # Hypothesis draws the inputs; the engine is async, so they are collected first and then
    # played through it (the engine keeps no state between examples).
    examples: list[tuple[str, int]] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(typed=HOSTILE, tapped=st.integers(min_value=-3, max_value=40))
    def draw(typed: str, tapped: int) -> None:
        examples.append((typed, tapped))

    draw()
    for typed, tapped in examples:
        for answer in (Answer(text=typed), Answer(choice=tapped), Answer(other="sticker")):
            state = engine.new_state(form)
            state.step = field_name
            refusal = await engine.take_answer(form, state, answer, ctx)
            if refusal is not None:
                assert isinstance(refusal, str) and refusal.strip(), (typed, tapped)
                assert "Traceback" not in refusal and len(refusal) < 600
                assert state.step == field_name  # the same question is asked again


OPTIONAL = [(form.name, field.name) for form in engine.all_forms() for field in form.fields
            if field.optional][:50]


@pytest.mark.parametrize("typed", ["skip", "Skip", " SKIP. "])
async def test_typing_skip_skips_an_optional_question_and_not_a_needed_one(db, scheme,
                                                                          typed) -> None:
    cast = await Cast.create(db, scheme)
    ctx = FormContext(db=db, scheme=scheme, person=cast.ambassador, now=NOW)
    assert OPTIONAL, "some forms have optional questions"
    for form_name, field_name in OPTIONAL:
        form = engine.form_named(form_name)
        state = engine.new_state(form)
        state.step = field_name
        assert await engine.take_answer(form, state, Answer(text=typed), ctx) is None
        assert state.answers[field_name] is None and state.step != field_name
    prenotify = engine.form_named("prenotify")
    state = engine.new_state(prenotify)
    state.step = "title"
    refusal = await engine.take_answer(prenotify, state, Answer(text=typed), ctx)
    # A needed free-text question takes "skip" as the answer itself, like any other words.
    assert refusal is None and state.answers["title"] == typed.strip()
