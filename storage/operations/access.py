"""Refusals at the door, audited (DESIGN §7 "Nobody in who doesn't belong", §8 "a refused
action ... is audited"): an unknown Telegram user, a deactivated person, a stranger on Slack,
a Slack request with a forged signature or a stale timestamp, a Telegram webhook call with the
wrong secret. The audit line says who knocked (an id, never what they wrote) and why no."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import audit
from storage.models import AuditEvent, Person

log = logging.getLogger(__name__)

# The audit actions of refusals at the door.
TELEGRAM_STRANGER = "telegram_stranger"
TELEGRAM_INACTIVE = "telegram_inactive"
SLACK_STRANGER = "slack_stranger"
SLACK_INACTIVE = "slack_inactive"
SLACK_UNSIGNED = "slack_request_unverified"
WEBHOOK_SECRET = "telegram_webhook_secret"


def record_refused_entry(session: AsyncSession, action: str, *, caller: str, reason: str,
                         actor: Person | None = None) -> AuditEvent:
    """Add the audit line of a refusal at the door to the caller's transaction. `caller` names
    who knocked ("telegram user 42", "slack user U0…", "127.0.0.1"), cut to fit."""
    event = audit(session, actor, action, reason=reason[:500],
                  actor_label=(actor.name if actor else caller)[:120])
    event.outcome = "refused"
    return event


async def audit_refused_request(db: Any, action: str, *, caller: str, reason: str) -> None:
    """A request refused at the door (bad webhook secret, unverified Slack signature) is
    audited in a transaction of its own; a failure to audit is only logged, because the
    request is refused either way."""
    try:
        async with db.transaction() as session:
            record_refused_entry(session, action, caller=caller, reason=reason)
    except Exception as error:  # noqa: BLE001 — the refusal stands whatever happened here
        log.warning("could not audit a refused request (%s): %s", action,
                    type(error).__name__)
