"""Audit rows: who changed what, when, from what to what (written inside the change's
transaction, so a rolled-back change leaves no audit line claiming it happened)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Person


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def snapshot(record: Any, *fields: str) -> dict[str, Any]:
    """The named fields of a record as JSON-ready values, for `before`/`after`."""
    return {name: _plain(getattr(record, name)) for name in fields}


def audit(session: AsyncSession, actor: Person | None, action: str, *,
          target: Any = None, before: dict[str, Any] | None = None,
          after: dict[str, Any] | None = None, reason: str | None = None,
          actor_label: str | None = None) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.name if actor else "system"),
        action=action,
        target_type=target.__tablename__ if target is not None else None,
        target_id=getattr(target, "id", None),
        before={k: _plain(v) for k, v in before.items()} if before else None,
        after={k: _plain(v) for k, v in after.items()} if after else None,
        reason=reason,
    )
    session.add(event)
    return event
