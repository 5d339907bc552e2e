"""`fund open` and `finance` from the command line, as an administrator would type them: the
next year's fund opened and audited, and each bad input refused with a sentence (exit 1 or 2,
never a traceback), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.bot.test_cli import cli, url  # noqa: F401  (url: the parametrised database)


def test_fund_open_and_its_refusals(url: str, tmp_path: Path) -> None:  # noqa: F811
    assert cli(url, "migrate").returncode == 0
    opened = cli(url, "fund", "open", "--period", "2027-28", "--amount", "40000")
    assert opened.returncode == 0, opened.stderr
    assert "Opened the 2027-28 grant fund: £40,000, 01 April 2027 to 31 March 2028." in \
        opened.stdout
    for args, sentence in (
            (("--period", "2027-28", "--amount", "40000"), "The 2027-28 fund is already open"),
            (("--period", "2028-29", "--amount", "-5"), "The fund must be more than £0."),
            (("--period", "2027-10-01/2028-09-30", "--amount", "100"), "periods can't overlap"),
            (("--period", "soon", "--amount", "100"), "as a financial year such as 2027-28")):
        refused = cli(url, "fund", "open", *args)
        assert refused.returncode == 1 and sentence in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    bad = cli(url, "finance", "mark-paid", "--through", "yesterday")
    assert bad.returncode == 2 and "write it like 2026-11-30" in bad.stderr
    neither = cli(url, "finance", "statement", "--out", str(tmp_path))
    assert neither.returncode == 1 and "either --month" in neither.stderr
