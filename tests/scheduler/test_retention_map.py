"""Retention reads the map of personal data: every entry with a retention period is removed
by the nightly job, and every period it names is a setting of the scheme file."""

from __future__ import annotations

from scheduler.retention import SWEEPS, retention_days
from storage import personal_data as pd
from storage.scheme import load_scheme, SCHEMES_DIR


def test_every_retained_entry_of_the_map_has_a_sweep() -> None:
    swept = {(s.table, s.key) for s in SWEEPS}
    retained = {(f.table, f.retention) for f in pd.entries() if f.retention}
    assert sorted(retained - swept) == []
    assert sorted(swept - retained) == []          # no sweep for a period the map dropped


def test_every_period_of_the_map_is_in_each_scheme_file() -> None:
    keys = sorted({f.retention for f in pd.entries() if f.retention})
    for file in sorted(SCHEMES_DIR.glob("*.yaml")):
        scheme = load_scheme(file)
        assert {key: retention_days(scheme, key) > 0 for key in keys} == dict.fromkeys(keys, True)
        written = file.read_text(encoding="utf-8")
        # the office sees every period it may change in its own file
        assert [k for k in keys if k.startswith("retention.")
                and f"  {k.split('.', 1)[1]}:" not in written] == []
