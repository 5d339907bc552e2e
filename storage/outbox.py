"""Writing messages to the outbox (DESIGN §5): only the dispatcher talks to Telegram or Slack.

Every row carries a plain `text` (what a person reads; the renderers may dress it up, the
plain-text fallback is always there) and the data a renderer needs. A message that will be
rewritten later (a grant's post once decided) gets a `ref`; the rewrite names it in
`replaces_ref`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Outbox, Person
from storage.scheme import Scheme

TELEGRAM = "telegram"
SLACK = "slack"
EMAIL = "email"
QUEUED = "outbox_queued"


def person_address(person: Person) -> tuple[str, str] | None:
    """Where a person is reached: Telegram first (the ambassadors' phones), else Slack DM."""
    if person.telegram_id is not None:
        return TELEGRAM, str(person.telegram_id)
    if person.slack_id:
        return SLACK, person.slack_id
    return None


def queue_row(session: AsyncSession, row: Outbox) -> None:
    session.add(row)
    # Database.transaction reads this after the commit and tells whoever delivers the outbox
    # (the dispatcher) to look now rather than at its next poll.
    session.info[QUEUED] = True


def to_channel(session: AsyncSession, scheme: Scheme, channel_key: str, event: str, text: str,
               *, data: dict[str, Any] | None = None, ref: str | None = None,
               replaces_ref: str | None = None) -> Outbox:
    """Queue a post to one of the scheme's Slack channels (engagements, alerts, ...)."""
    row = Outbox(transport=SLACK, destination=getattr(scheme.channels, channel_key), event=event,
                 payload={"text": text, **(data or {})}, ref=ref, replaces_ref=replaces_ref)
    queue_row(session, row)
    return row


def to_person(session: AsyncSession, person: Person, event: str, text: str, *,
              data: dict[str, Any] | None = None, ref: str | None = None,
              replaces_ref: str | None = None) -> Outbox | None:
    """Queue a message to a person on whichever app they use; None if they have neither
    (not yet linked, or erased) — nothing to deliver, and nothing is pretended."""
    address = person_address(person)
    if address is None or not person.active:
        return None
    transport, destination = address
    row = Outbox(transport=transport, destination=destination, event=event,
                 payload={"text": text, **(data or {})}, ref=ref, replaces_ref=replaces_ref)
    queue_row(session, row)
    return row


def to_email(session: AsyncSession, address: str, event: str, subject: str, text: str, *,
             html: str | None = None, attachments: list[dict[str, str]] | None = None,
             data: dict[str, Any] | None = None) -> Outbox:
    """Queue an e-mail (the scheme's addresses for the digest and reports): plain text, an
    optional HTML version, and files attached by path (`{"path", "filename"}`), read when the
    dispatcher sends it."""
    row = Outbox(transport=EMAIL, destination=address[:64], event=event,
                 payload={"text": text, "subject": subject, "html": html,
                          "attachments": attachments or [], "to": address, **(data or {})})
    queue_row(session, row)
    return row
