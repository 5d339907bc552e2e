"""Subject-access requests (DESIGN §9): everything the map of personal data says is about one
person, and nobody else's.

The tables and links come from storage/personal_data.py, not from a list here: a row is in
the bundle when one of its columns points at the person (their own records, and whatever
anyone did to them: an invite naming them, an officer's decision on their claim), when it is
addressed to them (a message to their chat, a failed-delivery mark), when it is about one of
their records (an audit line or a message naming the record by id), or when its personal text
names them. A member of the public is served the same way from the records that mention them
(`mention_bundle`, through storage.privacy.mentions).

The zip holds `records.json` (every field of every row), `summary.html` (the same rows a
person can read without tools: times in the scheme's zone, money in pounds), `manifest.json`
(what was included from which table, counts and ids, and which files) and `media/` (each
photo at full size and as a thumbnail, under distinct names).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy import JSON, String, Table, Text, cast, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import personal_data as pd
from storage.errors import NotFound
from storage.models import Base, Person, utcnow
from storage.outbox import person_address
from storage.parsers import format_money, format_when
from storage.scheme import Scheme

# Outbox payload keys that name a record by id: a message about one of a person's records is
# a message about them. (The map's own list is used when it has one.)
RECORD_KEYS: dict[str, str] = getattr(pd, "OUTBOX_RECORD_KEYS", {
    "engagement_id": "engagements", "feedback_id": "feedback", "follow_up_id": "follow_ups",
    "media_id": "media", "grant_id": "grant_recommendations", "expense_id": "expense_claims",
    "person_id": "people", "follow_up_ids": "follow_ups"})
MIN_NAME_CHARS = 3
# How each file column is named in the zip, so a photo and its thumbnail never collide.
FILE_WORDS = {"safe_path": "full-size", "thumb_path": "thumbnail", "receipt_path": "receipt",
              "receipt_thumb_path": "receipt-thumbnail"}
TITLES = {"people": "Your details", "invites": "Invitations", "engagements": "Engagements",
          "feedback": "Feedback reports", "follow_ups": "Follow-ups", "media": "Photos and videos",
          "grant_recommendations": "Grant recommendations", "fund_ledger": "Grant fund ledger",
          "hours_entries": "Hours", "expense_claims": "Expense claims",
          "meetings": "Meetings", "meeting_rsvps": "Meeting replies",
          "meeting_rsvp_changes": "Changes of meeting reply",
          "meeting_attendance": "Meetings attended", "catch_ups": "Weekly catch-up answers",
          "outbox": "Messages sent to or about you", "audit_events": "Audit trail",
          "form_drafts": "Half-finished forms", "schedule_marks": "Delivery marks"}


@dataclass
class BundleFile:
    name: str          # inside the zip
    path: str          # on disk
    table: str
    row: Any
    column: str


@dataclass
class Bundle:
    subject: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: list[BundleFile] = field(default_factory=list)
    excerpts: list[dict[str, Any]] = field(default_factory=list)
    prepared_at: dt.datetime = field(default_factory=utcnow)

    def ids(self, table: str) -> list[Any]:
        key = _key_columns(Base.metadata.tables[table])
        return [row[key[0]] if len(key) == 1 else [row[k] for k in key]
                for row in self.tables.get(table, [])]

    @property
    def total(self) -> int:
        return sum(len(rows) for rows in self.tables.values())


def _key_columns(t: Table) -> list[str]:
    return [c.name for c in t.primary_key.columns]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _tables() -> list[Table]:
    """Every table the map names or that points at people, in dependency order."""
    named = set(pd.by_table()) | {t for t, _ in pd.person_links()}
    return [t for t in Base.metadata.sorted_tables if t.name in named]


def _text_columns(t: Table) -> list[Any]:
    return [f.column_object() for f in pd.entries_for(t.name)
            if isinstance(f.column_object().type, String | Text | JSON)
            and f.kind is not pd.Kind.MEDIA_FILE]


def _names_them(t: Table, needles: list[str]) -> Any:
    tests = []
    for column in _text_columns(t):
        as_text = cast(column, Text) if isinstance(column.type, JSON) else column
        tests += [as_text.ilike(f"%{needle}%") for needle in needles]
    return or_(*tests) if tests else false()


def _linked(t: Table, person: Person) -> Any:
    """This row is the person's, or addressed to them (the map's links, and every column
    pointing at people)."""
    tests = [c == person.id for c in t.columns
             if any(fk.column.table.name == "people" for fk in c.foreign_keys)]
    if t.name == "people":
        tests.append(t.c.id == person.id)
    address = person_address(person)
    for entry in pd.entries_for(t.name):
        for link in entry.whose:
            if link.through:
                other_name, other_column = link.through.split(".")
                other = Base.metadata.tables[other_name]
                tests.append(t.c[link.column].in_(
                    select(other.c.id).where(other.c[other_column] == person.id)))
            elif link.by == "address" and link.column == "destination" and "transport" in t.c:
                if address:
                    tests.append((t.c.transport == address[0]) & (t.c.destination == address[1]))
                if person.email:
                    tests.append((t.c.transport == "email")
                                 & (t.c.destination == person.email[:64]))
            elif link.by == "address" and address:
                # marks such as delivery_failed:<app>:<chat id>
                tests.append(t.c[link.column].like(f"%:{address[0]}:{address[1]}"))
    return or_(*tests) if tests else false()


async def _rows(session: AsyncSession, t: Table, condition: Any) -> list[dict[str, Any]]:
    result = await session.execute(select(t).where(condition)
                                   .order_by(*t.primary_key.columns))
    return [dict(row._mapping) for row in result]


def _about_records(t: Table, owned: dict[str, set[Any]]) -> Any:
    """Audit lines whose target is the person or one of their records."""
    if not {"target_type", "target_id"} <= set(t.c.keys()):
        return false()
    return or_(false(), *[(t.c.target_type == name) & t.c.target_id.in_(sorted(ids))
                          for name, ids in owned.items() if ids])


async def _messages_about(session: AsyncSession, t: Table, owned: dict[str, set[Any]],
                          seen: set[Any]) -> list[dict[str, Any]]:
    """Messages whose data names one of the person's records by id. Read in Python: the keys
    hold numbers or lists, which no one JSON operator reads alike on both databases."""
    found = []
    result = await session.stream(select(t).order_by(t.c.id).execution_options(yield_per=2000))
    async for row in result:
        if row.id in seen:
            continue
        payload = row.payload if isinstance(row.payload, dict) else {}
        for key, table_name in RECORD_KEYS.items():
            value = payload.get(key)
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, int) and v in owned.get(table_name, ()) for v in values):
                found.append(dict(row._mapping))
                break
    return found


async def person_bundle(session: AsyncSession, person_id: int) -> Bundle:
    """Everything the map says is about this person."""
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"There is no person with id {person_id}.")
    needles = [n for n in (person.name, person.email) if n and len(n) >= MIN_NAME_CHARS]
    bundle = Bundle({"kind": "person", "id": person.id, "name": person.name})
    owned: dict[str, set[Any]] = {}
    for t in _tables():
        linked = await _rows(session, t, _linked(t, person))
        if "id" in t.c:
            owned[t.name] = {row["id"] for row in linked}
        bundle.tables[t.name] = linked
    for t in _tables():
        have = {tuple(row[k] for k in _key_columns(t)) for row in bundle.tables[t.name]}
        extra = await _rows(session, t, or_(_names_them(t, needles), _about_records(t, owned)))
        if t.name == "outbox":
            extra += await _messages_about(session, t, owned, {k[0] for k in have})
        for row in extra:
            key = tuple(row[k] for k in _key_columns(t))
            if key not in have:
                have.add(key)
                bundle.tables[t.name].append(row)
        bundle.tables[t.name].sort(key=lambda row: [row[k] for k in _key_columns(t)])
    bundle.tables = _in_reading_order(bundle.tables)
    _collect_files(bundle)
    return bundle


def _in_reading_order(tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Their details first, then their records as the summary titles them, the trail last."""
    order = list(TITLES)
    return {name: tables[name] for name in sorted(
        (n for n, rows in tables.items() if rows),
        key=lambda n: (order.index(n) if n in order else len(order) - 3, n))}


async def mention_bundle(session: AsyncSession, scheme: Scheme, text: str) -> Bundle:
    """Everything that mentions a member of the public (who has no person record): the rows
    whose personal text names them, an excerpt of each, and the media whose caption does."""
    from storage.privacy.mentions import find_mentions

    bundle = Bundle({"kind": "mention", "text": text})
    wanted: dict[str, set[str]] = {}
    for mention in await find_mentions(session, scheme, text):
        wanted.setdefault(mention.table, set()).add(mention.record_id)
        bundle.excerpts.append({"table": mention.table, "id": mention.record_id,
                                "column": mention.field, "excerpt": mention.excerpt})
    for t in _tables():
        if t.name not in wanted:
            continue
        key = list(t.primary_key.columns)
        # record ids are the primary key's values joined by "/": read the rows by the first
        # part, keep those whose whole key was named
        firsts = {part.split("/")[0] for part in wanted[t.name]}
        by_text = isinstance(key[0].type, String | Text)
        values = sorted(firsts if by_text else {int(v) for v in firsts if v.isdigit()})
        rows = await _rows(session, t, key[0].in_(values))
        bundle.tables[t.name] = [row for row in rows if "/".join(
            str(row[c.name]) for c in key) in wanted[t.name]]
    bundle.tables = _in_reading_order(bundle.tables)
    _collect_files(bundle)
    return bundle


def _collect_files(bundle: Bundle) -> None:
    for table_name, rows in bundle.tables.items():
        columns = [f.column for f in pd.entries_for(table_name)
                   if f.kind is pd.Kind.MEDIA_FILE and f.column.endswith("_path")]
        for row in rows:
            for column in columns:
                path = row.get(column)
                if path and Path(path).is_file():
                    word = FILE_WORDS.get(column, column.removesuffix("_path"))
                    row_id = row.get("id", "")
                    bundle.files.append(BundleFile(
                        f"media/{table_name}-{row_id}-{word}{Path(path).suffix}", path,
                        table_name, row_id, column))


# -- writing the zip ----------------------------------------------------------------------------

SUMMARY = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>What {{ office }} holds about {{ who }}</title>
<style>
 body { font-family: sans-serif; margin: 2em; max-width: 60em; }
 table { border-collapse: collapse; margin-bottom: 2em; }
 th, td { border: 1px solid #ccc; padding: .3em .5em; text-align: left; vertical-align: top; }
 th { background: #f3f3f3; }
</style></head><body>
<h1>What {{ office }} holds about {{ who }}</h1>
<p>Prepared {{ prepared }}. Times are {{ zone }} time; money is in pounds.
Every record below is also in <code>records.json</code> (every field, for a computer) and
listed in <code>manifest.json</code>; photos and documents are in the <code>media</code>
folder.</p>
<h2>In short</h2>
<ul>
{% for section in sections %}
 <li>{{ section.title }}: {{ section.rows|length }}</li>
{% endfor %}
 <li>Files: {{ files|length }}</li>
</ul>
{% if excerpts %}
<h2>Where you are mentioned</h2>
<table><tr><th>Record</th><th>Where</th><th>What it says</th></tr>
{% for e in excerpts %}
 <tr><td>{{ e.title }} {{ e.id }}</td><td>{{ e.column or "" }}</td>
     <td>{{ e.excerpt or "" }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% for section in sections %}
<h2>{{ section.title }}</h2>
<table>
 <tr>{% for c in section.columns %}<th>{{ c }}</th>{% endfor %}</tr>
 {% for row in section.rows %}
 <tr>{% for value in row %}<td>{{ value }}</td>{% endfor %}</tr>
 {% endfor %}
</table>
{% endfor %}
{% if files %}
<h2>Files</h2>
<ul>
{% for f in files %}
 <li><a href="{{ f.name }}">{{ f.name }}</a> ({{ titles.get(f.table, f.table) }} {{ f.row }})</li>
{% endfor %}
</ul>
{% endif %}
</body></html>
"""


def _shown(column: str, value: Any, scheme: Scheme) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.datetime):
        return format_when(value, scheme.timezone)
    if isinstance(value, dt.date):
        return f"{value:%a %d %b %Y}"
    if column.endswith("_pence") and isinstance(value, int):
        return format_money(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_shown(column, v, scheme) for v in value) or "—"
    if isinstance(value, dict):
        # a message's words, not its machinery (every key is in records.json)
        if isinstance(value.get("text"), str):
            return value["text"]
        return "; ".join(f"{_words(k)}: {_shown(k, v, scheme)}" for k, v in value.items())
    return str(value)


def _words(column: str) -> str:
    column = column.removesuffix("_pence").removesuffix("_id").removesuffix("_at")
    return column.replace("_", " ").capitalize()


def render_summary(bundle: Bundle, scheme: Scheme) -> str:
    sections = []
    for table_name, rows in bundle.tables.items():
        columns = list(Base.metadata.tables[table_name].columns.keys())
        sections.append({"title": TITLES.get(table_name, _words(table_name)),
                         "columns": [_words(c) for c in columns],
                         "rows": [[_shown(c, row.get(c), scheme) for c in columns]
                                  for row in rows]})
    who = (bundle.subject.get("name") if bundle.subject["kind"] == "person"
           else f"“{bundle.subject['text']}”")
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    return env.from_string(SUMMARY).render(
        office=scheme.office, who=who, zone=scheme.timezone,
        prepared=format_when(bundle.prepared_at, scheme.timezone), sections=sections,
        files=bundle.files, titles=TITLES,
        excerpts=[{**e, "title": TITLES.get(e["table"], e["table"])} for e in bundle.excerpts])


def manifest(bundle: Bundle) -> dict[str, Any]:
    return {"subject": bundle.subject, "prepared_at": bundle.prepared_at.isoformat(),
            "tables": {name: {"count": len(rows), "ids": bundle.ids(name)}
                       for name, rows in bundle.tables.items()},
            "files": [{"name": f.name, "table": f.table, "id": f.row, "column": f.column,
                       "sha256": hashlib.sha256(Path(f.path).read_bytes()).hexdigest()}
                      for f in bundle.files],
            "documents": ["records.json", "summary.html", "manifest.json"]}


def write_bundle(bundle: Bundle, out: Path, scheme: Scheme) -> int:
    """Write the zip; returns the number of files in it."""
    records = {"subject": bundle.subject, "excerpts": bundle.excerpts,
               "tables": {name: [{k: _plain(v) for k, v in row.items()} for row in rows]
                          for name, rows in bundle.tables.items()}}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("records.json", json.dumps(records, indent=1, ensure_ascii=False,
                                                   default=str))
        zipped.writestr("summary.html", render_summary(bundle, scheme))
        zipped.writestr("manifest.json", json.dumps(manifest(bundle), indent=1,
                                                    ensure_ascii=False, default=str))
        for f in bundle.files:
            zipped.write(f.path, f.name)
    return 3 + len(bundle.files)
