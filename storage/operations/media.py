"""Media records: photos and videos from engagements, consent, and review for use (DESIGN §9)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit, snapshot
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Engagement, EngagementStatus, Media, MediaKind, Person, ReviewStatus, utcnow
from storage.operations.engagements import get_own_engagement
from storage.permissions import Action, require
from storage.scheme import Scheme

CHILDREN_WITHOUT_CONSENT = ("Children are in this photo and no guardian consent is recorded, so "
                            "it can't be approved for use. Record the guardian consent first.")
NO_CONSENT = ("The ambassador did not confirm that the people shown agreed to be photographed, "
              "so it can't be approved for use.")


async def do_record_media(session: AsyncSession, scheme: Scheme, *, engagement_id: int,
                          kind: str, consent_given: bool, children_present: bool,
                          telegram_file_id: str | None = None, content_hash: str | None = None,
                          safe_path: str | None = None, thumb_path: str | None = None,
                          width: int | None = None, height: int | None = None,
                          size_bytes: int | None = None, caption: str | None = None,
                          album_key: str | None = None, actor: Person) -> Media:
    """Attach a photo or video to the ambassador's engagement and put it up for review.

    The same photo sent twice for one engagement is one record (by content hash).
    """
    engagement = await get_own_engagement(session, engagement_id, actor)
    if engagement.status == EngagementStatus.CANCELLED:
        raise Conflict("That engagement was cancelled; please pick another one.")
    try:
        kind_value = MediaKind(kind)
    except ValueError:
        raise InvalidInput("Only photos and videos can be attached.") from None
    if content_hash:
        existing = await session.scalar(select(Media).where(
            Media.engagement_id == engagement_id, Media.content_hash == content_hash))
        if existing is not None:
            return existing
    media = Media(engagement_id=engagement_id, ambassador_id=actor.id, kind=kind_value.value,
                  telegram_file_id=telegram_file_id, content_hash=content_hash,
                  safe_path=safe_path, thumb_path=thumb_path, width=width, height=height,
                  size_bytes=size_bytes, caption=(caption or "").strip()[:1000] or None,
                  album_key=album_key, consent_given=consent_given,
                  children_present=children_present, review_status=ReviewStatus.PENDING.value)
    session.add(media)
    await session.flush()
    audit(session, actor, "record_media", target=media,
          after=snapshot(media, "engagement_id", "kind", "consent_given", "children_present"))
    outbox.to_channel(
        session, scheme, "media", "media_received",
        f"New {kind_value.value} from {actor.name} for {engagement.title}. Consent: "
        f"{'yes' if consent_given else 'NO'}; children present: "
        f"{'yes' if children_present else 'no'}.",
        data={"media_id": media.id, "engagement_id": engagement.id, "kind": media.kind,
              "safe_path": safe_path, "thumb_path": thumb_path,
              "consent_given": consent_given, "children_present": children_present,
              "guardian_consent": False, "ambassador": actor.name, "title": engagement.title,
              "caption": media.caption, "review_status": media.review_status},
        ref=f"media:{media.id}:media")
    return media


async def _get_media(session: AsyncSession, media_id: int) -> Media:
    media = await session.get(Media, media_id)
    if media is None:
        raise NotFound("That photo or video no longer exists.")
    return media


async def do_record_guardian_consent(session: AsyncSession, *, media_id: int,
                                     actor: Person) -> Media:
    require(actor, Action.REVIEW_MEDIA, target_type="media", target_id=media_id)
    media = await _get_media(session, media_id)
    before = snapshot(media, "guardian_consent")
    media.guardian_consent = True
    audit(session, actor, "record_guardian_consent", target=media, before=before,
          after=snapshot(media, "guardian_consent"))
    return media


async def do_review_media(session: AsyncSession, scheme: Scheme, *, media_id: int,
                          approve: bool, actor: Person, reason: str | None = None) -> Media:
    """Approve a photo for the Commissioner's channels, or mark it not for use."""
    require(actor, Action.REVIEW_MEDIA, target_type="media", target_id=media_id)
    media = await _get_media(session, media_id)
    if approve and media.children_present and not media.guardian_consent:
        raise Conflict(CHILDREN_WITHOUT_CONSENT)
    if approve and not media.consent_given:
        raise Conflict(NO_CONSENT)
    target = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
    result = await session.execute(
        update(Media).where(Media.id == media_id,
                            Media.review_status == ReviewStatus.PENDING.value)
        .values(review_status=target.value, reviewed_by_id=actor.id, reviewed_at=utcnow())
        .execution_options(synchronize_session=False))
    await session.refresh(media)
    if result.rowcount != 1:
        reviewer = await session.get(Person, media.reviewed_by_id) if media.reviewed_by_id else None
        raise Conflict(f"Already reviewed ({media.review_status}"
                       f"{f' by {reviewer.name}' if reviewer else ''}).")
    audit(session, actor, "review_media", target=media, before={"review_status": "pending"},
          after={"review_status": target.value}, reason=reason)
    engagement = await session.get(Engagement, media.engagement_id)
    line = f"{'approved for use' if approve else 'not for use'} — {actor.name}"
    outbox.to_channel(session, scheme, "media", "media_reviewed",
                      f"{media.kind.capitalize()} for {engagement.title if engagement else ''}: "
                      f"{line}",
                      data={"media_id": media.id, "review_status": media.review_status,
                            "by": actor.name, "line": line, "safe_path": media.safe_path,
                            "thumb_path": media.thumb_path},
                      replaces_ref=f"media:{media.id}:media")
    return media
