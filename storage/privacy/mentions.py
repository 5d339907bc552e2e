"""Members of the public (issue 17): someone who is not a user of the scheme, named in
feedback, a photo caption or as a grant contact, asks what is held about them, or to have it
deleted.

`find_mentions(session, scheme, text)` is the search, public for the subject-access export
(`export --mention`) too: every value of every text or JSON column in the personal-data map
(storage/personal_data.py) that mentions `text` — a name (any case, any spacing), an e-mail
address (any case) or a phone number (however written: "07700 900123" finds "+447700900123",
"07700900123" and "+44 7700 900123"; phonenumbers reads them, UK by default). Several texts
may be given at once (a name and a phone number); a value is found if it mentions any.
Each `Mention` names the table, the record, the field (a JSON value's path after a dot:
"payload.text", "state.answers.summary") and a short excerpt, for a DPO to read on screen.

`do_redact_mention` replaces each occurrence, in every field found, with the scheme's dated
words ("[removed on 4 Dec 2026 at the person's request]") and writes one audit line that
names no one. A photo whose caption named them keeps its file unless `with_media`: the photo
itself may show them, which only a person looking at it can tell, so the result lists them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import personal_data as pd
from storage.audit import audit
from storage.errors import InvalidInput
from storage.models import Media, Person, utcnow
from storage.permissions import Action, require
from storage.privacy import scan
from storage.privacy.erasure import placeholder
from storage.privacy.needles import Needle, Scrubber, strings_in
from storage.scheme import Scheme

EXCERPT_CHARS = 30
# Columns that hold ids, paths and hashes: nobody's name or number is written there.
_NOT_SEARCHED = (pd.Kind.CHAT_ID, pd.Kind.MEDIA_FILE, pd.Kind.LOCATION)


@dataclass(frozen=True)
class Mention:
    table: str
    record_id: str
    field: str
    excerpt: str


def needles_for(texts: str | Sequence[str]) -> list[Needle]:
    """What to look for; a sentence if a text can't be searched safely."""
    found = []
    for text in [texts] if isinstance(texts, str) else texts:
        needle = Needle.from_query(text)
        if needle is None:
            raise InvalidInput(f"{text.strip()!r} is too short to search for: give a full name, "
                               "a phone number or an e-mail address.")
        found.append(needle)
    if not found:
        raise InvalidInput("Give a name, a phone number or an e-mail address to search for.")
    return found


def _excerpt(text: str, start: int, end: int) -> str:
    left, right = max(0, start - EXCERPT_CHARS), min(len(text), end + EXCERPT_CHARS)
    piece = " ".join(text[left:right].split())
    return ("…" if left else "") + piece + ("…" if right < len(text) else "")


def _first_span(needles: list[Needle], text: str) -> tuple[int, int] | None:
    spans = [s for n in needles for s in n.spans(text)]
    return min(spans) if spans else None


def _searched() -> set[str]:
    return {e.table for e in pd.entries() if e.kind not in _NOT_SEARCHED}


async def _found(session: AsyncSession, needles: list[Needle]
                 ) -> list[tuple[scan.Value, list[Mention]]]:
    searched = {(e.table, e.column) for e in pd.entries() if e.kind not in _NOT_SEARCHED}
    hits = []
    async for value in scan.values(session):
        if (value.table, value.column) not in searched:
            continue
        mentions = []
        for path, text in strings_in(value.value):
            span = _first_span(needles, text)
            if span:
                where = f"{value.column}.{path}" if path else value.column
                mentions.append(Mention(value.table, "/".join(str(k) for k in value.key), where,
                                        _excerpt(text, *span)))
        if mentions:
            hits.append((value, mentions))
    return hits


async def find_mentions(session: AsyncSession, scheme: Scheme | None,
                        text: str | Sequence[str]) -> list[Mention]:
    """Every mapped field mentioning the name, phone number or e-mail address (see above)."""
    return [m for _, mentions in await _found(session, needles_for(text)) for m in mentions]


@dataclass
class Redaction:
    mentions: list[Mention] = field(default_factory=list)
    photos: list[int] = field(default_factory=list)  # media whose caption named them
    paths: list[str] = field(default_factory=list)  # deleted after commit with --with-media
    content_hashes: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len({(m.table, m.record_id) for m in self.mentions})


async def do_redact_mention(session: AsyncSession, scheme: Scheme | None, *,
                            texts: str | Sequence[str], actor: Person, with_media: bool = False,
                            now: dt.datetime | None = None) -> Redaction:
    """Replace every mention (see the module docstring); one audit line naming no one."""
    require(actor, Action.ERASE, target_type="people")
    now = now or utcnow()
    needles = needles_for(texts)
    words = placeholder(scheme, now, "removed_mention")
    redaction = Redaction()
    hits = await _found(session, needles)
    photo_ids = sorted({int(v.key[0]) for v, _ in hits
                        if v.table == "media" and v.column == "caption"})
    whole: list[str] = []
    if with_media and photo_ids:
        for media in (await session.scalars(select(Media).where(Media.id.in_(photo_ids)))):
            for value in (media.safe_path, media.thumb_path, media.telegram_file_id):
                if value:
                    whole.append(value)
            redaction.paths += [p for p in (media.safe_path, media.thumb_path) if p]
            if media.content_hash:
                redaction.content_hashes.append(media.content_hash)
        await session.execute(update(Media).where(Media.id.in_(photo_ids)).values(
            safe_path=None, thumb_path=None, telegram_file_id=None, content_hash=None)
            .execution_options(synchronize_session=False))
        # Copies of the paths in messages and audit lines go too.
        hits = await _found(session, needles + [Needle("passage", w) for w in whole])
    scrubber = Scrubber([(n, words) for n in needles], words, whole=whole)
    for value, mentions in hits:
        t = scan.table(value.table)
        await session.execute(update(t).where(*scan.where_key(t, value.key))
                               .values({value.column: scrubber.value(value.value)})
                               .execution_options(synchronize_session=False))
        redaction.mentions += mentions
    redaction.photos = photo_ids
    audit(session, actor, "redact_mention",
          after={"records": redaction.records, "fields": len(redaction.mentions),
                 "photos_named": len(photo_ids), "photo_files_deleted": with_media},
          reason="Mentions of a member of the public redacted at their request")
    return redaction


def describe(mentions: list[Mention]) -> list[str]:
    """Lines for the DPO's screen: table, record, field, excerpt."""
    return [f"{m.table}\t{m.record_id}\t{m.field}\t{m.excerpt}" for m in mentions]
