"""Each office's questions speak of its own places: every prompt of every form, as Telegram
and Slack show it, names no place of the other office (issue 22, "Essex speaks West Mercia")."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from handlers.forms import engine, flows  # noqa: F401  (registers the forms)
from handlers.slack import forms as slack_forms
from handlers.slack import modals
from handlers.telegram import render
from storage.scheme import SCHEMES_DIR, Scheme, load_scheme, parse_scheme

WEST_MERCIA_PLACES = ("Much Wenlock", "Shropshire", "Hereford", "Worcester", "Telford",
                      "Wrekin", "Leominster", "Hindlip", "Ludlow", "Kington", "Bridgnorth",
                      "Shrewsbury", "Kidderminster", "Malvern", "Oswestry", "Ross-on-Wye",
                      "West Mercia")
ESSEX_PLACES = ("Essex", "Chelmsford", "Basildon", "Writtle", "Kelvedon", "Witham",
                "Colchester", "Southend", "Thurrock", "Harlow", "Brentwood", "Braintree",
                "Maldon", "Rochford", "Tendring", "Uttlesford", "Epping", "Castle Point")
NOW = dt.datetime(2026, 12, 4, 17, 0, tzinfo=dt.UTC)


def _every_prompt(scheme: Scheme) -> str:
    """Everything a person is asked, in every form, as each app words it."""
    shown = []
    for form in engine.all_forms():
        shown += [form.title, form.intro]
        for field in form.fields:
            state = engine.new_state(form)
            state.step = field.name
            text, _ = render.question(form, state, [], scheme, NOW)
            shown += [text, slack_forms._prompt(field, scheme)]
    shown.append(json.dumps(modals.meeting_view(scheme)))
    return "\n".join(shown)


def _named(places: tuple[str, ...], text: str) -> list[str]:
    return [p for p in places if re.search(re.escape(p), text, re.IGNORECASE)]


def test_essex_questions_name_no_west_mercia_place() -> None:
    shown = _every_prompt(load_scheme(SCHEMES_DIR / "essex.yaml"))
    assert _named(WEST_MERCIA_PLACES, shown) == []
    assert _named(("Chelmsford", "Basildon"), shown)  # its own places instead


def test_west_mercia_questions_name_no_essex_place() -> None:
    shown = _every_prompt(load_scheme(SCHEMES_DIR / "west-mercia.yaml"))
    assert _named(ESSEX_PLACES, shown) == []
    assert _named(("Much Wenlock",), shown)


def test_a_scheme_file_without_words_asks_with_neutral_examples() -> None:
    text = (SCHEMES_DIR / "essex.yaml").read_text()
    without = parse_scheme(text.split("\nwords:")[0].rsplit("\n# The examples", 1)[0])
    shown = _every_prompt(without)
    assert _named(WEST_MERCIA_PLACES, shown) == []
    assert _named(tuple(p for p in ESSEX_PLACES if p != "Essex"), shown) == []
    assert "e.g. Village Hall, High Street" in shown


@pytest.mark.parametrize("file", ["west-mercia.yaml", "essex.yaml"])
def test_no_prompt_is_left_with_a_placeholder(file: str) -> None:
    shown = _every_prompt(load_scheme(SCHEMES_DIR / file))
    assert not re.search(r"\{\w+\}", shown)
