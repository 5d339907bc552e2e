"""The scheme file: both shipped offices load; a typo stops start-up naming key and line."""

import pytest

from storage.scheme import SCHEMES_DIR, SchemeError, load_scheme, parse_scheme


def test_west_mercia_is_the_default() -> None:
    scheme = load_scheme()
    assert scheme.areas == ["Shropshire", "Telford and Wrekin", "Herefordshire",
                            "Worcestershire"]
    assert scheme.limits.grant_cap_pence == 100_000
    assert scheme.limits.fund_size_pence == 4_000_000
    assert scheme.limits.hours_per_month == 40
    assert scheme.limits.annual_fee_pence == 600_000
    assert "Putting victims and survivors first" in scheme.plan_objectives


def test_essex_has_fourteen_districts_with_the_unitary_authorities() -> None:
    scheme = load_scheme(SCHEMES_DIR / "essex.yaml")
    assert len(scheme.areas) == 14
    assert {"Southend-on-Sea", "Thurrock"} <= set(scheme.areas)
    assert all(o.startswith("Example:") for o in scheme.plan_objectives)


def _text_with(old: str, new: str) -> str:
    text = (SCHEMES_DIR / "west-mercia.yaml").read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("old,new,expected", [
    ("  grant_cap:", "  grant_kap:", ["limits.grant_kap", "unknown key"]),
    ('grant_cap: "£1,000"', 'grant_cap: "1k"', ["limits.grant_cap", "line"]),
    ('weekly_digest: "0 8 * * mon"', 'weekly_digest: "0 8 * * funday"',
     ["schedules.weekly_digest", "cron"]),
    ("timezone: Europe/London", "timezone: Europe/Londn", ["timezone", "time zone"]),
    ("feedback_free_text_days: 1095", "feedback_free_text_days: 0",
     ["retention.feedback_free_text_days"]),
    ("  - Herefordshire\n", "  - Shropshire\n", ["areas", "listed twice"]),
])
def test_typo_names_key_line_and_reason(old: str, new: str, expected: list[str]) -> None:
    with pytest.raises(SchemeError) as raised:
        parse_scheme(_text_with(old, new), "schemes/west-mercia.yaml")
    message = str(raised.value)
    assert message.startswith("schemes/west-mercia.yaml line ")
    for part in expected:
        assert part in message


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(SchemeError, match=r"line \d+: not valid YAML"):
        parse_scheme("name: [unclosed\nareas: x\n", "s.yaml")


def test_missing_file_is_a_sentence(tmp_path) -> None:
    with pytest.raises(SchemeError, match="cannot read the scheme file"):
        load_scheme(tmp_path / "nope.yaml")
