"""Where personal data lives: one declaration that erasure, find-person/redact, the
subject-access bundle, retention and a test all read (issue 17).

Every column of storage/models.py that can hold text or an external id is either an entry of
`PERSONAL` or has a reason in `NOT_PERSONAL`; tests/storage/test_personal_data_map.py fails
when a model gains such a column that is in neither, so a new place for personal data cannot
appear unnoticed.

How to use it:

    from storage import personal_data as pd

    for field in pd.entries():                  # every PersonalField, in model order
        field.table, field.column, field.kind   # "feedback", "summary", Kind.FREE_TEXT
        field.whose                             # (Link("ambassador_id"),): whose it is
        field.retention                         # "retention.feedback_free_text_days"
        field.column_object()                   # the sqlalchemy Column, for queries
    pd.entries_for("outbox")                    # the entries of one table
    pd.by_table()                               # {table name: [PersonalField, ...]}
    pd.person_links()                           # every column pointing at people.id

An entry says:

- `kind`: what the value is (`Kind`): a name, contact details (phone, e-mail, address), a
  chat or user id, free text (which may name members of the public, `mentions_public`), a
  media file (path on disk, Telegram file id, content hash), a location, or JSON that may hold
  any of these anywhere inside it (`json_keys` documents the keys known to; treat every
  string in the JSON as possibly personal, since new payload keys are added freely).
- `whose`: how a row relates to a person (`Link`s). `Link("ambassador_id")` is a column of
  this row holding people.id; `Link("feedback_id", through="feedback.ambassador_id")` follows
  a foreign key to another table's person column; `Link("destination", by="address")` is an
  address (Telegram chat id, Slack user id, e-mail) matched with storage.outbox.person_address
  or the person's e-mail; `Link("target_id", by="target")` means the row is about the record
  named by target_type/target_id (a person, or a record of theirs). Free text can also be
  about someone by naming them: that is what storage.privacy.mentions finds.
- `erase`: True where erasing the owner (`whose[0]`, who wrote it or whom it is of) replaces
  the whole value (free text becomes a dated placeholder, files and locations go). False where
  the record is the office's and stays, with only the person's name, contact details and ids
  replaced in it (the grants register's applicant and project, officers' decision reasons, the
  audit trail, the outbox; people rows are erased by storage.privacy.erasure itself).
- `retention`: the scheme setting that says how long it is kept, as a dotted path into the
  Scheme ("retention.feedback_free_text_days", "limits.draft_expiry_days"), or None where it
  is kept for the life of the record (a person's own name while they are in the scheme, who
  did what in the audit trail) and goes only with erasure. Every key is a setting of the
  scheme file (storage/scheme.py `Retention`), enforced by scheduler/retention.py.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import JSON, BigInteger, Column, String, Text

from storage.models import Base


class Kind(enum.StrEnum):
    NAME = "name"
    CONTACT = "contact"
    CHAT_ID = "chat id"
    FREE_TEXT = "free text"
    MEDIA_FILE = "media file"
    LOCATION = "location"
    JSON = "json"


@dataclass(frozen=True)
class Link:
    """How a row relates to a person: see the module docstring."""
    column: str
    through: str | None = None
    by: str = "id"  # "id" (people.id), "address" (chat id / Slack id / e-mail), "target"


@dataclass(frozen=True)
class PersonalField:
    table: str
    column: str
    kind: Kind
    whose: tuple[Link, ...]
    retention: str | None
    mentions_public: bool = False
    json_keys: tuple[str, ...] = ()
    note: str = ""
    erase: bool = True

    @property
    def owner(self) -> Link:
        """The person the value belongs to (who wrote it, or whom it is of): `whose[0]`."""
        return self.whose[0]

    def column_object(self) -> Column:
        return Base.metadata.tables[self.table].columns[self.column]

    @property
    def is_json(self) -> bool:
        return self.kind is Kind.JSON

    @property
    def is_text(self) -> bool:
        """Holds text or JSON (searched for names, phone numbers and e-mail addresses)."""
        column = self.column_object()
        return isinstance(column.type, String | Text | JSON)


FEEDBACK_DAYS = "retention.feedback_free_text_days"
MEDIA_DAYS = "retention.media_days"
AUDIT_DAYS = "retention.audit_detail_days"
DRAFT_DAYS = "limits.draft_expiry_days"
MESSAGE_DAYS = "retention.delivered_message_days"
FINANCE_DAYS = "retention.finance_days"
INVITE_DAYS = "retention.invite_days"
# Keys not yet settings of the scheme file (none now: scheduler/retention.py reads them all).
PROPOSED_RETENTION: frozenset[str] = frozenset()

AMBASSADOR = (Link("ambassador_id"),)
PERSON = (Link("person_id"),)
VIA_FEEDBACK = (Link("feedback_id", through="feedback.ambassador_id"),)
GRANT_PEOPLE = (Link("ambassador_id"), Link("scrutinised_by_id"), Link("decided_by_id"))

# Keys of outbox payloads known to carry personal data (renderers add more freely).
OUTBOX_KEYS = ("text", "html", "subject", "to", "attachments", "summary", "outcomes",
               "follow_up_detail", "detail", "caption", "safe_path", "thumb_path", "ambassador",
               "reviewed_by", "by", "applicant", "project", "info_request",
               "deputy_recommendation", "decision_reason", "title", "line", "destination",
               "reason", "note", "description", "receipt_path", "receipt_thumb_path")


# Outbox payload keys naming a record, and its table: a message about one of a person's
# records is a message about them.
OUTBOX_RECORD_KEYS = {"engagement_id": "engagements", "feedback_id": "feedback",
                      "follow_up_id": "follow_ups", "media_id": "media",
                      "grant_id": "grant_recommendations", "expense_id": "expense_claims",
                      "person_id": "people", "follow_up_ids": "follow_ups"}


def _f(table: str, column: str, kind: Kind, whose: tuple[Link, ...], retention: str | None,
       **more: object) -> PersonalField:
    return PersonalField(table, column, kind, whose, retention, **more)  # type: ignore[arg-type]


PERSONAL: tuple[PersonalField, ...] = (
    _f("people", "name", Kind.NAME, (Link("id"),), None,
       note="kept while they are in the scheme; erasure replaces it", erase=False),
    _f("people", "telegram_id", Kind.CHAT_ID, (Link("id"),), None, erase=False),
    _f("people", "slack_id", Kind.CHAT_ID, (Link("id"),), None, erase=False),
    _f("people", "email", Kind.CONTACT, (Link("id"),), None, erase=False),
    _f("invites", "name", Kind.NAME, (Link("used_by_id"), Link("created_by_id")), INVITE_DAYS,
       note="the invited person's name, before they have a person row", erase=False),
    _f("engagements", "title", Kind.FREE_TEXT, AMBASSADOR, FEEDBACK_DAYS,
       mentions_public=True),
    _f("engagements", "place", Kind.FREE_TEXT, AMBASSADOR, FEEDBACK_DAYS,
       mentions_public=True, note="may be a home or a farm"),
    _f("engagements", "cancel_reason", Kind.FREE_TEXT, AMBASSADOR, FEEDBACK_DAYS,
       mentions_public=True),
    _f("engagements", "latitude", Kind.LOCATION, AMBASSADOR, FEEDBACK_DAYS),
    _f("engagements", "longitude", Kind.LOCATION, AMBASSADOR, FEEDBACK_DAYS),
    _f("feedback", "summary", Kind.FREE_TEXT, AMBASSADOR, FEEDBACK_DAYS, mentions_public=True),
    _f("feedback", "outcomes", Kind.FREE_TEXT, AMBASSADOR, FEEDBACK_DAYS, mentions_public=True),
    _f("feedback", "follow_up_detail", Kind.FREE_TEXT, AMBASSADOR, FEEDBACK_DAYS,
       mentions_public=True),
    _f("feedback", "public_outcome", Kind.FREE_TEXT,
       AMBASSADOR + (Link("public_outcome_by_id"),), FEEDBACK_DAYS, mentions_public=True,
       note="the office's publishable wording of the ambassador's outcomes"),
    _f("follow_ups", "detail", Kind.FREE_TEXT,
       VIA_FEEDBACK + (Link("owner_id"), Link("acknowledged_by_id"), Link("done_by_id")),
       FEEDBACK_DAYS, mentions_public=True, note="a copy of feedback.follow_up_detail"),
    _f("meetings", "notes", Kind.FREE_TEXT, (Link("notes_by_id"),), FEEDBACK_DAYS,
       mentions_public=True, note="what was said at a meeting, as the office recorded it"),
    _f("meetings", "decisions", Kind.FREE_TEXT, (Link("notes_by_id"),), FEEDBACK_DAYS,
       mentions_public=True),
    _f("meeting_rsvps", "note", Kind.FREE_TEXT, PERSON, FEEDBACK_DAYS,
       note="why they can't come"),
    _f("meeting_rsvp_changes", "note", Kind.FREE_TEXT, PERSON, FEEDBACK_DAYS,
       note="why they can't come, as each reply said it"),
    _f("catch_ups", "answer", Kind.FREE_TEXT, PERSON, FEEDBACK_DAYS, mentions_public=True,
       note="an ambassador's answer to the weekly catch-up question"),
    _f("media", "telegram_file_id", Kind.MEDIA_FILE, AMBASSADOR, MEDIA_DAYS,
       note="fetches the original from Telegram"),
    _f("media", "content_hash", Kind.MEDIA_FILE, AMBASSADOR, MEDIA_DAYS,
       note="fingerprint of the original: identifies the photo"),
    _f("media", "safe_path", Kind.MEDIA_FILE, AMBASSADOR, MEDIA_DAYS),
    _f("media", "thumb_path", Kind.MEDIA_FILE, AMBASSADOR, MEDIA_DAYS),
    _f("media", "caption", Kind.FREE_TEXT, AMBASSADOR, MEDIA_DAYS, mentions_public=True),
    _f("grant_recommendations", "applicant_organisation", Kind.NAME, GRANT_PEOPLE, FINANCE_DAYS,
       mentions_public=True, note="a club, or a private individual", erase=False),
    _f("grant_recommendations", "applicant_contact", Kind.CONTACT, GRANT_PEOPLE, FINANCE_DAYS,
       mentions_public=True, note="a member of the public: name, phone, e-mail"),
    _f("grant_recommendations", "project", Kind.FREE_TEXT, GRANT_PEOPLE, FINANCE_DAYS,
       mentions_public=True, erase=False),
    _f("grant_recommendations", "info_request", Kind.FREE_TEXT, GRANT_PEOPLE, FINANCE_DAYS,
       mentions_public=True, erase=False),
    _f("grant_recommendations", "deputy_recommendation", Kind.FREE_TEXT, GRANT_PEOPLE,
       FINANCE_DAYS, mentions_public=True, erase=False),
    _f("grant_recommendations", "decision_reason", Kind.FREE_TEXT, GRANT_PEOPLE, FINANCE_DAYS,
       mentions_public=True, erase=False),
    _f("fund_ledger", "note", Kind.FREE_TEXT,
       (Link("grant_id", through="grant_recommendations.ambassador_id"), Link("by_id")),
       FINANCE_DAYS, mentions_public=True, note="names the grant's applicant", erase=False),
    _f("hours_entries", "description", Kind.FREE_TEXT, PERSON, FINANCE_DAYS,
       mentions_public=True),
    _f("expense_claims", "description", Kind.FREE_TEXT, PERSON, FINANCE_DAYS,
       mentions_public=True),
    _f("expense_claims", "decision_reason", Kind.FREE_TEXT, PERSON + (Link("decided_by_id"),),
       FINANCE_DAYS, mentions_public=True, erase=False),
    _f("expense_claims", "receipt_file_id", Kind.MEDIA_FILE, PERSON, FINANCE_DAYS),
    _f("expense_claims", "receipt_path", Kind.MEDIA_FILE, PERSON, FINANCE_DAYS),
    _f("expense_claims", "receipt_thumb_path", Kind.MEDIA_FILE, PERSON, FINANCE_DAYS),
    _f("outbox", "destination", Kind.CHAT_ID, (Link("destination", by="address"),), None,
       note="the recipient; the fact of delivery stays, erasure replaces the address",
       erase=False),
    _f("outbox", "payload", Kind.JSON,
       (Link("destination", by="address"), Link("payload", by="target")), MESSAGE_DAYS,
       mentions_public=True, json_keys=OUTBOX_KEYS,
       note="to them (destination) or about them (ids of their records in the payload, or "
            "their name in the text)", erase=False),
    _f("outbox", "error", Kind.FREE_TEXT, (Link("destination", by="address"),), MESSAGE_DAYS,
       note="the app's refusal may quote the chat", erase=False),
    _f("audit_events", "actor_label", Kind.NAME, (Link("actor_id"),), None,
       note="who did it: the point of an audit trail; erasure replaces it", erase=False),
    _f("audit_events", "before", Kind.JSON, (Link("actor_id"), Link("target_id", by="target")),
       AUDIT_DAYS, mentions_public=True, json_keys=("name", "summary", "applicant_contact"),
       note="snapshots of the changed fields", erase=False),
    _f("audit_events", "after", Kind.JSON, (Link("actor_id"), Link("target_id", by="target")),
       AUDIT_DAYS, mentions_public=True, json_keys=("name", "summary", "applicant_contact"),
       erase=False),
    _f("audit_events", "reason", Kind.FREE_TEXT,
       (Link("actor_id"), Link("target_id", by="target")), AUDIT_DAYS, mentions_public=True,
       erase=False),
    _f("form_drafts", "state", Kind.JSON, PERSON, DRAFT_DAYS, mentions_public=True,
       json_keys=("answers",), note="a half-finished form's answers", erase=False),
    _f("schedule_marks", "key", Kind.CHAT_ID, (Link("key", by="address"),), None,
       note="delivery_failed:<app>:<chat id> marks hold a chat id", erase=False),
)

# Columns that hold text or ids but no personal data, and why.
NOT_PERSONAL: dict[tuple[str, str], str] = {
    ("areas", "name"): "the scheme file's area names",
    ("plan_objectives", "name"): "the scheme file's objectives",
    ("people", "roles"): "role names from a fixed list",
    ("invites", "code"): "a random single-use token",
    ("invites", "role"): "a role name",
    ("engagements", "kind"): "one of the scheme file's engagement kinds",
    ("engagements", "status"): "a status word",
    ("feedback", "follow_up_needed"): "a fixed choice",
    ("feedback", "urgency"): "a fixed choice",
    ("feedback_groups", "name"): "the scheme file's demographic groups",
    ("feedback_topics", "name"): "the scheme file's topics",
    ("follow_ups", "needed_by"): "a fixed choice",
    ("follow_ups", "urgency"): "a fixed choice",
    ("follow_ups", "status"): "a status word",
    ("media", "kind"): "photo or video",
    ("media", "album_key"): "Telegram's id for an album sent at once; names nobody",
    ("media", "review_status"): "a status word",
    ("grant_recommendations", "status"): "a status word",
    ("funds", "name"): "the scheme's fund name",
    ("expense_claims", "kind"): "a fixed choice (mileage, travel ...)",
    ("expense_claims", "status"): "a status word",
    ("meetings", "kind"): "quarterly or catch-up",
    ("meetings", "title"): "the office's title for a meeting of the scheme",
    ("meetings", "place"): "the office's venue (a public place)",
    ("meeting_rsvps", "answer"): "yes/no/maybe; the row is theirs by person_id",
    ("meeting_rsvp_changes", "answer"): "yes/no/maybe; the row is theirs by person_id",
    ("catch_ups", "week"): "an ISO week (2026-W48); the row is theirs by person_id",
    ("meetings", "series_key"): "which of the scheme's pattern of meetings (quarterly:2027-04)",
    ("meetings", "date_note"): "why the date moved (a bank holiday, the office moved it)",
    ("outbox", "transport"): "telegram, slack or email",
    ("outbox", "event"): "a fixed event name",
    ("outbox", "ref"): "names a record by id (grant:3:grants)",
    ("outbox", "replaces_ref"): "names a record by id",
    ("outbox", "status"): "a status word",
    ("outbox", "external_id"): "the app's message number, meaningless without the chat",
    ("audit_events", "action"): "a fixed action name",
    ("audit_events", "target_type"): "a table name",
    ("audit_events", "outcome"): "done or refused",
    ("processed_updates", "key"): "Telegram's update number or Slack's retry key",
    ("form_drafts", "transport"): "telegram or slack",
    ("form_drafts", "form"): "a form's name",
    ("form_drafts", "message_id"): "the message number of the form in their chat",
    ("schedule_state", "job_id"): "a job's name",
    ("schedule_state", "trigger"): "a schedule",
}


def entries() -> Iterator[PersonalField]:
    yield from PERSONAL


def entries_for(table: str) -> list[PersonalField]:
    return [f for f in PERSONAL if f.table == table]


def by_table() -> dict[str, list[PersonalField]]:
    tables: dict[str, list[PersonalField]] = {}
    for f in PERSONAL:
        tables.setdefault(f.table, []).append(f)
    return tables


def may_hold_personal_data(column: Column) -> bool:
    """The columns the map must account for: text, JSON and big integers (external ids)."""
    return isinstance(column.type, String | Text | JSON | BigInteger)


def person_links() -> list[tuple[str, str]]:
    """(table, column) of every column holding a people.id: the rows that are someone's."""
    return [(table.name, column.name) for table in Base.metadata.sorted_tables
            for column in table.columns
            if any(fk.column.table.name == "people" for fk in column.foreign_keys)]


@dataclass
class Unaccounted:
    """What the map test reports: columns in neither list, entries naming no column."""
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    both: list[str] = field(default_factory=list)


def check(metadata: object = Base.metadata) -> Unaccounted:
    mapped = {(f.table, f.column) for f in PERSONAL}
    result = Unaccounted()
    existing: set[tuple[str, str]] = set()
    for table in metadata.sorted_tables:  # type: ignore[attr-defined]
        for column in table.columns:
            existing.add((table.name, column.name))
            key = (table.name, column.name)
            if may_hold_personal_data(column) and key not in mapped and key not in NOT_PERSONAL:
                result.missing.append(f"{table.name}.{column.name}")
    result.stale = sorted(f"{t}.{c}" for t, c in (mapped | set(NOT_PERSONAL)) - existing)
    result.both = sorted(f"{t}.{c}" for t, c in mapped & set(NOT_PERSONAL))
    return result
