"""Media records: photos and videos from engagements, consent, and review for use (DESIGN §9).

Two rules hold every change here together:

* **The latest answer is never lost, and the stricter one wins.** The same photo sent again
  for one engagement is the same record (by content hash); its new answers about consent and
  children are compared with the stored ones, and a more restrictive answer (consent No beats
  Yes, children present beats not) replaces the stored one, is audited and is shown to the
  office. A less restrictive answer does not loosen a restriction the office may already act
  on: it stays as the stricter one and the person is told to ask the office.
* **A button acts on the state it was shown.** The office's post carries the record's review
  state (`review_state`) in its buttons; an action whose state has moved on is refused with
  who moved it, what they decided and when (`AlreadyDecided`). Each field of the state only
  ever moves one way (consent is only withdrawn, children only added, guardian consent only
  recorded, a decision only made — or withdrawn when consent is), so a state never comes back
  and a stale button can never pass for a fresh one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit, snapshot
from storage.errors import AlreadyDecided, Conflict, InvalidInput, NotFound
from storage.models import (AuditEvent, Engagement, EngagementStatus, Media, MediaKind, Person,
                            ReviewStatus, utcnow)
from storage.operations.engagements import get_own_engagement
from storage.parsers import format_when
from storage.permissions import Action, require
from storage.scheme import Scheme

CHILDREN_WITHOUT_CONSENT = ("Children are in this photo and no guardian consent is recorded, so "
                            "it can't be approved for use. Record the guardian consent first.")
NO_CONSENT = ("The ambassador did not confirm that the people shown agreed to be photographed, "
              "so it can't be approved for use.")

# What the audit trail's actions mean, in the words of the "Already decided" sentence.
RECORD_MEDIA, CHANGE_ANSWERS = "record_media", "change_media_answers"
REVIEW, GUARDIAN = "review_media", "record_guardian_consent"
_STATE_ACTIONS = (RECORD_MEDIA, CHANGE_ANSWERS, REVIEW, GUARDIAN)


def review_state(review_status: str | None, guardian_consent: Any, consent_given: Any,
                 children_present: Any) -> str:
    """The state a media post shows, in four characters its buttons carry back: the review
    status's first letter, then guardian consent, consent and children as 0/1."""
    status = (review_status or ReviewStatus.PENDING.value)[:1]
    return f"{status}{int(bool(guardian_consent))}{int(bool(consent_given))}" \
           f"{int(bool(children_present))}"


def state_of(media: Media) -> str:
    return review_state(media.review_status, media.guardian_consent, media.consent_given,
                        media.children_present)


def media_payload(media: Media, engagement: Engagement | None, ambassador: Person | None,
                  reviewer: Person | None = None) -> dict[str, Any]:
    """The data of a media post, from the record as it is now (with the state its buttons
    carry, `state`, and who decided it, `reviewed_by`)."""
    return {"reviewed_by": reviewer.name if reviewer else None,"media_id": media.id, "engagement_id": media.engagement_id, "kind": media.kind,
            "safe_path": media.safe_path, "thumb_path": media.thumb_path,
            "consent_given": media.consent_given, "children_present": media.children_present,
            "guardian_consent": media.guardian_consent,
            "ambassador": ambassador.name if ambassador else "",
            "title": engagement.title if engagement else "", "caption": media.caption,
            "review_status": media.review_status, "state": state_of(media)}


def _post_ref(media: Media) -> str:
    return f"media:{media.id}:media"


# ---- the ambassador sends photos -------------------------------------------------------------

@dataclass
class Recorded:
    """What one photo of a submission did: `new` (a record), `tightened` (an earlier record's
    answers made stricter: `changes` names them), `unchanged` (already sent with these
    answers), or `kept_stricter` (already sent with stricter answers, which stand)."""

    media: Media
    outcome: str
    changes: list[str] = field(default_factory=list)


@dataclass
class MediaReport:
    """A submission's photos, for the sentence the person is told."""

    items: list[Recorded] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    def sentence(self) -> str:
        parts = []
        new = self.count("new")
        if new:
            parts.append(f"{_items(new)} sent to the office for review")
        changes: dict[str, int] = {}
        for item in self.items:
            if item.outcome == "tightened":
                for change in item.changes:
                    changes[change] = changes.get(change, 0) + 1
        for change, count in changes.items():
            parts.append(f"{change} for {_items(count)} already sent — the office has been told")
        unchanged = self.count("unchanged")
        if unchanged:
            parts.append(f"{_items(unchanged)} already sent with these answers, so not sent again")
        stricter = self.count("kept_stricter")
        if stricter:
            parts.append(f"{_items(stricter)} already sent with a stricter answer (no consent, or "
                         "children present), which stands — please ask the office if that has "
                         "changed")
        return "Thank you — " + "; ".join(parts) + "."


def _items(n: int) -> str:
    return f"{n} item{'s' if n != 1 else ''}"


async def do_record_media(session: AsyncSession, scheme: Scheme, *, engagement_id: int,
                          kind: str, consent_given: bool, children_present: bool,
                          telegram_file_id: str | None = None, content_hash: str | None = None,
                          safe_path: str | None = None, thumb_path: str | None = None,
                          width: int | None = None, height: int | None = None,
                          size_bytes: int | None = None, caption: str | None = None,
                          album_key: str | None = None, actor: Person) -> Media:
    """Attach a photo or video to the ambassador's engagement and put it up for review.

    The same photo sent twice for one engagement is one record (by content hash); the newer,
    stricter answers win (see the module docstring and `record_media`)."""
    recorded = await record_media(
        session, scheme, engagement_id=engagement_id, kind=kind, consent_given=consent_given,
        children_present=children_present, telegram_file_id=telegram_file_id,
        content_hash=content_hash, safe_path=safe_path, thumb_path=thumb_path, width=width,
        height=height, size_bytes=size_bytes, caption=caption, album_key=album_key, actor=actor)
    return recorded.media


async def do_record_media_items(session: AsyncSession, scheme: Scheme, *, engagement_id: int,
                                items: list[dict[str, Any]], consent_given: bool,
                                children_present: bool, caption: str | None = None,
                                actor: Person, now: dt.datetime | None = None) -> MediaReport:
    """A submission's photos (each the fields the media pipeline gave), in one transaction;
    the report says truthfully what became of each."""
    report = MediaReport()
    for fields in items:
        report.items.append(await record_media(
            session, scheme, engagement_id=engagement_id, consent_given=consent_given,
            children_present=children_present, caption=caption, actor=actor, now=now,
            **fields))
    return report


async def record_media(session: AsyncSession, scheme: Scheme, *, engagement_id: int, kind: str,
                       consent_given: bool, children_present: bool, actor: Person,
                       content_hash: str | None = None, caption: str | None = None,
                       now: dt.datetime | None = None, **fields: Any) -> Recorded:
    engagement = await get_own_engagement(session, engagement_id, actor)
    if engagement.status == EngagementStatus.CANCELLED:
        raise Conflict("That engagement was cancelled; please pick another one.")
    if engagement.starts_at > (now or utcnow()):
        raise Conflict(f"That engagement hasn't started yet (it starts "
                       f"{format_when(engagement.starts_at, scheme.timezone)}); photos and "
                       f"videos can be added once it has.")
    try:
        kind_value = MediaKind(kind)
    except ValueError:
        raise InvalidInput("Only photos and videos can be attached.") from None
    if content_hash:
        existing = await session.scalar(select(Media).where(
            Media.engagement_id == engagement_id, Media.content_hash == content_hash)
            .with_for_update())
        if existing is not None:
            return await _answer_again(session, scheme, existing, engagement,
                                       consent_given=consent_given,
                                       children_present=children_present, actor=actor)
    media = Media(engagement_id=engagement_id, ambassador_id=actor.id, kind=kind_value.value,
                  content_hash=content_hash, caption=(caption or "").strip()[:1000] or None,
                  consent_given=consent_given, children_present=children_present,
                  guardian_consent=False, review_status=ReviewStatus.PENDING.value,
                  **fields)
    session.add(media)
    await session.flush()
    audit(session, actor, RECORD_MEDIA, target=media,
          after=snapshot(media, "engagement_id", "kind", "consent_given", "children_present"))
    outbox.to_channel(
        session, scheme, "media", "media_received",
        f"New {kind_value.value} from {actor.name} for {engagement.title}. Consent: "
        f"{'yes' if consent_given else 'NO'}; children present: "
        f"{'yes' if children_present else 'no'}.",
        data=media_payload(media, engagement, actor), ref=_post_ref(media))
    return Recorded(media, "new")


async def _answer_again(session: AsyncSession, scheme: Scheme, media: Media,
                        engagement: Engagement, *, consent_given: bool, children_present: bool,
                        actor: Person) -> Recorded:
    """The same photo with answers given again: stricter ones replace the stored ones."""
    changes: dict[str, Any] = {}
    if media.consent_given and not consent_given:
        changes["consent_given"] = False
    if children_present and not media.children_present:
        changes["children_present"] = True
    if not changes:
        looser = (consent_given and not media.consent_given) or \
                 (media.children_present and not children_present)
        return Recorded(media, "kept_stricter" if looser else "unchanged")
    fields = ["consent_given", "children_present", "review_status"]
    before = snapshot(media, *fields)
    for name, value in changes.items():
        setattr(media, name, value)
    withdrawn = media.review_status == ReviewStatus.APPROVED.value and (
        not media.consent_given or (media.children_present and not media.guardian_consent))
    if withdrawn:  # an approval given on the earlier answers no longer holds
        media.review_status = ReviewStatus.PENDING.value
        media.reviewed_by_id = None
        media.reviewed_at = None
    await session.flush()
    words = [w for w in (("consent updated to No" if "consent_given" in changes else None),
                         ("children present updated to Yes" if "children_present" in changes
                          else None)) if w]
    audit(session, actor, CHANGE_ANSWERS, target=media, before=before,
          after=snapshot(media, *fields))
    line = f"⚠️ {actor.name} changed the answers: {'; '.join(words)}" + (
        " — the approval for use is withdrawn until it is reviewed again" if withdrawn else "")
    title = engagement.title
    data = await _post_data(session, media)
    # The post is rewritten (its buttons carry the new state), and a new message says so in
    # the channel: an edit to an old post alone is easily missed.
    outbox.to_channel(session, scheme, "media", "media_received",
                      f"{media.kind.capitalize()} for {title}: {line}",
                      data={**data, "line": line}, replaces_ref=_post_ref(media))
    outbox.to_channel(session, scheme, "media", "media_answers_changed",
                      f"{media.kind.capitalize()} #{media.id} for {title}: {line}.",
                      data={**data, "line": line, "changes": words})
    return Recorded(media, "tightened", words)


# ---- the office reviews ----------------------------------------------------------------------

async def _get_media(session: AsyncSession, media_id: int | None) -> Media:
    media = await session.get(Media, media_id) if media_id is not None else None
    if media is None:
        raise NotFound("That photo or video no longer exists.")
    return media


async def already_decided(session: AsyncSession, media: Media) -> AlreadyDecided:
    """Who last moved the record's state, what they did and when (from the audit trail)."""
    event = await session.scalar(
        select(AuditEvent).where(AuditEvent.target_type == Media.__tablename__,
                                 AuditEvent.target_id == media.id,
                                 AuditEvent.outcome == "done",
                                 AuditEvent.action.in_(_STATE_ACTIONS))
        .order_by(AuditEvent.id.desc()).limit(1))
    if event is None:
        return AlreadyDecided(by="someone", decision=_decision(media.review_status), at=None)
    return AlreadyDecided(by=event.actor_label, decision=_described(event), at=event.at)


def _decision(status: str | None) -> str:
    return {"approved": "approved for use", "rejected": "not for use"}.get(
        status or "", "waiting for review")


def _described(event: AuditEvent) -> str:
    after = event.after or {}
    if event.action == REVIEW:
        return _decision(after.get("review_status"))
    if event.action == GUARDIAN:
        return "guardian consent recorded"
    if event.action == CHANGE_ANSWERS:
        before = event.before or {}
        words = [w for key, w in (("consent_given", "consent changed to No"),
                                  ("children_present", "children present changed to Yes"))
                 if before.get(key) != after.get(key)]
        return "; ".join(words) or "answers changed"
    return "sent"


async def _move(session: AsyncSession, media: Media, shown: str | None,
                **values: Any) -> None:
    """Change the record only if it still is in the state the button was shown (compare and
    set in one UPDATE, so two clicks at once cannot both pass); else `AlreadyDecided`.
    `shown` None (a button from before states were carried) means "still pending"."""
    if shown is not None and shown != state_of(media):
        raise await already_decided(session, media)
    result = await session.execute(
        update(Media).where(Media.id == media.id,
                            Media.review_status == media.review_status,
                            Media.guardian_consent == media.guardian_consent,
                            Media.consent_given == media.consent_given,
                            Media.children_present == media.children_present)
        .values(**values).execution_options(synchronize_session=False))
    await session.refresh(media)
    if result.rowcount != 1:
        raise await already_decided(session, media)


async def do_record_guardian_consent(session: AsyncSession, scheme: Scheme | None = None, *,
                                     media_id: int | None, actor: Person,
                                     shown: str | None = None) -> Media:
    """An officer records that a guardian consented to a photo with children in it. Only
    while it waits for review, and only in the state the button was shown; the post is
    rewritten to show it (when `scheme` is given: the command line passes none)."""
    require(actor, Action.REVIEW_MEDIA, target_type="media", target_id=media_id)
    media = await _get_media(session, media_id)
    if media.review_status != ReviewStatus.PENDING.value:
        raise await already_decided(session, media)
    before = snapshot(media, "guardian_consent")
    await _move(session, media, shown, guardian_consent=True)
    audit(session, actor, GUARDIAN, target=media, before=before,
          after=snapshot(media, "guardian_consent"))
    if scheme is not None:
        await _queue_post(session, scheme, media, f"guardian consent recorded by {actor.name}")
    return media


async def _post_data(session: AsyncSession, media: Media) -> dict[str, Any]:
    engagement = await session.get(Engagement, media.engagement_id)
    ambassador = await session.get(Person, media.ambassador_id)
    reviewer = await session.get(Person, media.reviewed_by_id) if media.reviewed_by_id else None
    return media_payload(media, engagement, ambassador, reviewer)


async def _queue_post(session: AsyncSession, scheme: Scheme, media: Media, line: str) -> None:
    data = {**await _post_data(session, media), "line": line}
    outbox.to_channel(session, scheme, "media", "media_received",
                      f"{media.kind.capitalize()} for {data['title']}: {line}", data=data,
                      replaces_ref=_post_ref(media))


async def do_review_media(session: AsyncSession, scheme: Scheme, *, media_id: int | None,
                          approve: bool, actor: Person, reason: str | None = None,
                          shown: str | None = None) -> Media:
    """Approve a photo for the Commissioner's channels, or mark it not for use — only while
    it waits for review and only in the state the button was shown (else "Already
    decided by …", before any other reason)."""
    require(actor, Action.REVIEW_MEDIA, target_type="media", target_id=media_id)
    media = await _get_media(session, media_id)
    if media.review_status != ReviewStatus.PENDING.value or \
            (shown is not None and shown != state_of(media)):
        raise await already_decided(session, media)
    if approve and media.children_present and not media.guardian_consent:
        raise Conflict(CHILDREN_WITHOUT_CONSENT)
    if approve and not media.consent_given:
        raise Conflict(NO_CONSENT)
    target = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
    now: dt.datetime = utcnow()
    await _move(session, media, shown, review_status=target.value, reviewed_by_id=actor.id,
                reviewed_at=now)
    audit(session, actor, REVIEW, target=media, before={"review_status": "pending"},
          after={"review_status": target.value}, reason=reason)
    engagement = await session.get(Engagement, media.engagement_id)
    line = f"{'approved for use' if approve else 'not for use'} — {actor.name}"
    outbox.to_channel(session, scheme, "media", "media_reviewed",
                      f"{media.kind.capitalize()} for {engagement.title if engagement else ''}: "
                      f"{line}",
                      data={"media_id": media.id, "review_status": media.review_status,
                            "by": actor.name, "line": line, "safe_path": media.safe_path,
                            "thumb_path": media.thumb_path, "state": state_of(media)},
                      replaces_ref=_post_ref(media))
    return media
