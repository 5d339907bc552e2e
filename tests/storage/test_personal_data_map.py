"""The personal-data map accounts for every model column that can hold personal data, the way
test_migrations checks the migrations against the models."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Text

from storage import personal_data as pd
from storage.models import Base


def test_every_text_json_and_id_column_is_in_the_map_or_said_not_personal() -> None:
    found = pd.check()
    assert found.missing == [], ("columns that may hold personal data but are neither in "
                                 "storage/personal_data.py PERSONAL nor NOT_PERSONAL")
    assert found.stale == [], "entries naming a column the models no longer have"
    assert found.both == []


def _copy_with(table: str, column: Column) -> MetaData:
    copy = MetaData()
    for t in Base.metadata.sorted_tables:
        t.to_metadata(copy)
    copy.tables[table].append_column(column)
    return copy


def test_a_new_column_in_neither_list_fails() -> None:
    for column in (Column("neighbour_name", String(120)), Column("notes", Text),
                   Column("whatsapp_id", BigInteger)):
        assert pd.check(_copy_with("feedback", column)).missing == [f"feedback.{column.name}"]
    # A plain count is no one's data.
    assert pd.check(_copy_with("feedback", Column("cups_of_tea", Integer))).missing == []


def test_each_entry_names_real_person_columns_and_a_retention_setting(scheme) -> None:
    tables = Base.metadata.tables
    for entry in pd.entries():
        table = tables[entry.table]
        assert entry.whose, f"{entry.table}.{entry.column} says whose it is"
        for link in entry.whose:
            assert link.column in table.columns, (entry, link)
            if link.through:
                other, other_column = link.through.split(".")
                assert other_column in tables[other].columns, (entry, link)
        assert entry.is_json == (entry.column_object().type.__class__.__name__ == "JSON")
        if entry.retention is None or entry.retention in pd.PROPOSED_RETENTION:
            continue
        value: object = scheme
        for part in entry.retention.split("."):
            value = getattr(value, part)
        assert isinstance(value, int) and value > 0, entry


def test_the_map_is_read_per_table() -> None:
    assert [f.column for f in pd.entries_for("feedback")] == [
        "summary", "outcomes", "follow_up_detail", "public_outcome"]
    assert set(pd.by_table()) == {f.table for f in pd.entries()}
    assert ("feedback", "ambassador_id") in pd.person_links()
    assert ("audit_events", "actor_id") in pd.person_links()
