"""Erasing a person in the scheme (DESIGN §9; issue 17): driven by the personal-data map.

What goes, in one transaction:
- their own record: name becomes "Erased person N", e-mail and chat ids go, deactivated;
- every value the map says they own and that is theirs alone (`erase=True`: feedback, follow-up
  detail, engagement titles and places, captions, hours and expense descriptions, grant
  contacts): free text becomes the scheme's dated placeholder ("Text erased on 4 Dec 2026 at
  the person's request."), files, file ids, hashes and locations go;
- everywhere else in every mapped text and JSON column (the outbox, audit before/after,
  officers' notes, others' records): their name, e-mail and chat ids are replaced where they
  occur, and a value quoting something they wrote becomes the placeholder;
- messages to them: pending ones are cancelled, all lose their body and address;
- their half-finished forms are deleted.
Records stay (anonymised), so figures do not change and the office's follow-ups still list and
close, showing the placeholder. One audit line says it happened, naming no one.
Files on disk are deleted after the commit (`remove_files`), so a failed erasure leaves no
record pointing at nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage import personal_data as pd
from storage.audit import audit
from storage.errors import Conflict, NotFound
from storage.models import FormDraft, Media, Outbox, OutboxStatus, Person, Role, utcnow
from storage.permissions import Action, require
from storage.privacy import scan
from storage.privacy.needles import Needle, Scrubber
from storage.scheme import Scheme, Words

log = logging.getLogger(__name__)

HASH_NAME = re.compile(r"[0-9a-f]{64}")

# A message to an erased person that had not gone yet (the dispatcher sends only pending ones).
CANCELLED = "cancelled"
# Passages shorter than this are replaced only in records about the person: "Call back" in
# someone else's follow-up is not theirs.
GLOBAL_PASSAGE_CHARS = 20


def day_words(scheme: Scheme | None, when: dt.datetime) -> str:
    local = when.astimezone(scheme.tz) if scheme else when
    return f"{local.day} {local:%b %Y}"


def placeholder(scheme: Scheme | None, when: dt.datetime, template: str = "erased_text") -> str:
    words = scheme.words if scheme else Words()
    return getattr(words, template).format(date=day_words(scheme, when))


@dataclass
class Erasure:
    """What an erasure did; `paths` and `content_hashes` are removed by `remove_files`."""
    person_id: int
    values: int = 0
    messages_cancelled: int = 0
    paths: list[str] = field(default_factory=list)
    content_hashes: list[str] = field(default_factory=list)


def remove_files(paths: list[str], content_hashes: list[str],
                 media_root: Path | None) -> int:
    """Delete the files after the commit: the paths recorded, and every file the media store
    holds for each hash (original, safe copy, thumbnail, video and its thumbnail)."""
    from storage.media.store import MediaStore

    targets = {Path(p) for p in paths}
    if media_root is not None:
        store = MediaStore(media_root)
        # A receipt's files are named by its hash too: its original goes with its copies.
        named = [Path(p).stem for p in paths if HASH_NAME.fullmatch(Path(p).stem)]
        for digest in {*content_hashes, *named}:
            targets.update(store.files_of(digest))
    removed = 0
    for path in sorted(targets):
        try:
            if path.is_file():
                path.unlink()
                removed += 1
        except OSError as error:
            log.warning("erasure: a file could not be deleted: %s", error.strerror)
    return removed


def _passages(values: list[str]) -> tuple[list[str], list[str]]:
    texts = sorted({v for v in values if v and v.strip()}, key=len, reverse=True)
    return texts, [v for v in texts if len(v) >= GLOBAL_PASSAGE_CHARS]


async def _owned_values(session: AsyncSession, erasure: Erasure, person_id: int,
                        text: str) -> list[str]:
    """Replace every `erase=True` value the person owns; returns the old texts."""
    old: list[str] = []
    shared_hashes = set()
    for entry in pd.entries():
        condition = scan.owner_condition(entry, person_id)
        if not entry.erase or condition is None:
            continue
        t = scan.table(entry.table)
        column = t.columns[entry.column]
        found = (await session.execute(select(column).where(condition, column.isnot(None))))
        current = [v for (v,) in found.all()]
        if not current:
            continue
        if entry.kind in (pd.Kind.FREE_TEXT, pd.Kind.CONTACT, pd.Kind.NAME):
            new: Any = text
        else:
            new = None
        if entry.kind is pd.Kind.MEDIA_FILE and entry.column.endswith("_path"):
            erasure.paths += [str(v) for v in current]
        if entry.column == "content_hash":
            erasure.content_hashes += [str(v) for v in current]
        if isinstance(current[0], str):
            old += current
        await session.execute(update(t).where(condition, column.isnot(None))
                              .values({entry.column: new})
                              .execution_options(synchronize_session=False))
        erasure.values += len(current)
    # A photo someone else also sent is stored once: its files stay for them.
    if erasure.content_hashes:
        shared_hashes = set((await session.scalars(select(Media.content_hash).where(
            Media.content_hash.in_(erasure.content_hashes)))).all())
        erasure.content_hashes = [h for h in erasure.content_hashes if h not in shared_hashes]
        erasure.paths = [p for p in erasure.paths if not any(h in p for h in shared_hashes)]
    return old


def _addresses(person: Person) -> set[tuple[str, str]]:
    found = set()
    if person.telegram_id is not None:
        found.add(("telegram", str(person.telegram_id)))
    if person.slack_id:
        found.add(("slack", person.slack_id))
    if person.email:
        found.add(("email", person.email))
    return found


def _about(name: str, row: Any, owned: dict[str, set[tuple[Any, ...]]], key: tuple[Any, ...],
           person_id: int) -> bool:
    """Whether a row is about the person: theirs, their audit line, a message about a record
    of theirs."""
    mapping = row._mapping
    if name == "audit_events":
        target = (mapping["target_id"],)
        return (mapping["actor_id"] == person_id
                or (mapping["target_type"] in owned and target in owned[mapping["target_type"]]))
    if name == "outbox":
        payload = mapping["payload"] or {}
        for payload_key, table_name in pd.OUTBOX_RECORD_KEYS.items():
            ids = payload.get(payload_key) if isinstance(payload, dict) else None
            ids = ids if isinstance(ids, list) else [ids]
            if any((i,) in owned.get(table_name, set()) for i in ids if isinstance(i, int)):
                return True
        return False
    return key in owned.get(name, set())


class _Posts:
    """Posts in Slack channels showing what was erased are edited in place: the latest
    message of each post (`ref`), if erasure changed it, is sent again as a rewrite."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[int, Any, Any, bool]] = {}

    def seen(self, found: scan.Value, new: Any) -> None:
        mapping = found.row._mapping
        name = mapping["ref"] or mapping["replaces_ref"]
        if name and found.key[0] > self.latest.get(name, (0,))[0]:
            self.latest[name] = (found.key[0], mapping, new, new != found.value)

    def rewrite(self, session: AsyncSession) -> None:
        for name, (_, mapping, new, changed) in sorted(self.latest.items()):
            if changed and mapping["status"] == OutboxStatus.SENT.value \
                    and mapping["transport"] == outbox.SLACK:
                outbox.queue_row(session, Outbox(
                    transport=mapping["transport"], destination=mapping["destination"],
                    event=mapping["event"], payload=new, replaces_ref=name))


def _judging_columns(t: Any) -> list[Any]:
    wanted = {"audit_events": ("actor_id", "target_type", "target_id"),
              "outbox": ("transport", "destination", "payload", "status", "event", "ref",
                         "replaces_ref")}.get(t.name, ())
    return [t.columns[c] for c in wanted]


async def do_erase_person(session: AsyncSession, scheme: Scheme | None = None, *,
                          person_id: int, actor: Person,
                          now: dt.datetime | None = None) -> Erasure:
    require(actor, Action.ERASE, target_type="people", target_id=person_id)
    now = now or utcnow()
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"There is no person with id {person_id}.")
    if person.erased_at is not None:
        raise Conflict(f"Person {person_id} was already erased on "
                       f"{day_words(scheme, person.erased_at)}.")
    if person.has_role(Role.ADMIN):
        others = (await session.scalars(select(Person).where(
            Person.active.is_(True), Person.id != person.id))).all()
        if not any(p.has_role(Role.ADMIN) for p in others):
            raise Conflict("That is the last administrator; invite another before erasing.")
    erasure = Erasure(person_id=person.id)
    text = placeholder(scheme, now)
    label, id_label = f"Erased person {person.id}", f"[erased person {person.id}]"
    addresses = _addresses(person)
    owned = await scan.owned_keys(session, person.id)

    needles: list[tuple[Needle, str]] = []
    invite_names = set((await session.scalars(select(pd_invites().columns["name"]).where(
        pd_invites().columns["used_by_id"] == person.id))).all())
    for name in {person.name, *invite_names}:
        needle = Needle.name(name)
        if needle:
            needles.append((needle, label))
    if person.email:
        needles.append((Needle("email", person.email.strip().casefold()), id_label))
    for _transport, address in addresses:
        if _transport != "email":
            needles.append((Needle("id", address), id_label))

    passages, long_passages = _passages(await _owned_values(session, erasure, person.id, text))
    about = Scrubber(needles, text, whole=passages)
    anywhere = Scrubber(needles, text, whole=long_passages)

    changes: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    cancelled = 0
    posts = _Posts()
    async for found in scan.values(session, skip={"people", "form_drafts"},
                                   extra=_judging_columns):
        mapping = found.row._mapping
        if found.table == "outbox" and (mapping["transport"], mapping["destination"]) in \
                addresses:
            if found.column != "payload":
                continue  # the whole row is rewritten once, from its payload
            values: dict[str, Any] = {
                "destination": id_label, "error": None,
                "payload": {"text": text, **{k: v for k, v in found.value.items()
                                             if isinstance(v, int | bool)}}}
            if mapping["status"] == OutboxStatus.PENDING.value:
                values["status"] = CANCELLED
                cancelled += 1
            changes.append((found.table, found.key, values))
            continue
        scrubber = (about if _about(found.table, found.row, owned, found.key, person.id)
                    else anywhere)
        new = scrubber.value(found.value)
        if found.table == "outbox" and found.column == "payload":
            posts.seen(found, new)
        if new != found.value:
            changes.append((found.table, found.key, {found.column: new}))

    for name, key, values in changes:
        t = scan.table(name)
        await session.execute(update(t).where(*scan.where_key(t, key)).values(values)
                              .execution_options(synchronize_session=False))
    erasure.values += len(changes)
    erasure.messages_cancelled = cancelled
    posts.rewrite(session)

    await session.execute(FormDraft.__table__.delete().where(FormDraft.person_id == person.id))
    person.name = label
    person.email = None
    person.telegram_id = None
    person.slack_id = None
    person.active = False
    person.erased_at = now
    audit(session, actor, "erase_person", target=person,
          after={"values_replaced": erasure.values, "messages_cancelled": cancelled,
                 "files": len(erasure.paths) + len(erasure.content_hashes)},
          reason=f"Personal data of person {person.id} erased at their request")
    return erasure


def pd_invites() -> Any:
    return scan.table("invites")
