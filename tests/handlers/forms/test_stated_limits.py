"""Questions state their limits before an answer is typed: every free-text question its
number of characters, the grant amount the scheme's cap (issue 22, "Limits unstated")."""

from __future__ import annotations

import datetime as dt

import pytest

from handlers.forms import engine, flows  # noqa: F401  (registers the forms)
from handlers.slack import forms as slack_forms
from handlers.telegram import render
from storage.scheme import SCHEMES_DIR, Scheme, parse_scheme

NOW = dt.datetime(2026, 12, 4, 17, 0, tzinfo=dt.UTC)
TEXT_FIELDS = [(form.name, f.name) for form in engine.all_forms() for f in form.fields
               if f.kind == "text"]


def _scheme(cap: str) -> Scheme:
    text = (SCHEMES_DIR / "essex.yaml").read_text()
    assert 'grant_cap: "£1,000"' in text
    return parse_scheme(text.replace('grant_cap: "£1,000"', f'grant_cap: "{cap}"'))


def _asked(form_name: str, field_name: str, scheme: Scheme) -> list[str]:
    """The question as Telegram sends it and as the Slack modal's hint shows it."""
    form = engine.form_named(form_name)
    state = engine.new_state(form)
    state.step = field_name
    text, _ = render.question(form, state, [], scheme, NOW)
    return [text, slack_forms._prompt(form.field(field_name), scheme)]


@pytest.mark.parametrize("form_name,field_name", TEXT_FIELDS,
                         ids=[f"{f}.{n}" for f, n in TEXT_FIELDS])
def test_every_free_text_question_states_its_character_limit(form_name: str,
                                                             field_name: str) -> None:
    limit = engine.form_named(form_name).field(field_name).max_chars
    for asked in _asked(form_name, field_name, _scheme("£1,000")):
        assert f"Up to {limit:,} characters." in asked


@pytest.mark.parametrize("cap", ["£1,000", "£450", "£2,500.50"])
def test_the_grant_amount_question_states_the_schemes_cap(cap: str) -> None:
    for asked in _asked("grant", "amount", _scheme(cap)):
        assert f"(up to {cap})" in asked
