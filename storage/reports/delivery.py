"""Sending a finished report: by e-mail to the scheme's report addresses, or to one person's
Slack DM (the slash command). Both through the outbox, in the transaction that records who
asked for it, so a report goes out once and is retried until it does."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.audit import audit
from storage.errors import InvalidInput
from storage.models import Outbox, Person
from storage.permissions import Action, require
from storage.scheme import Scheme

REPORT_EVENT = "report"


async def do_email_report(session: AsyncSession, scheme: Scheme, *, title: str, text: str,
                          html: str | None, pdf_path: str, actor: Person) -> int:
    """Queue the report to every address in the scheme's `email: reports:`; how many."""
    require(actor, Action.SEE_ALL, target_type="reports")
    if not scheme.email.reports:
        raise InvalidInput("The scheme file names nobody to e-mail reports to: add "
                           "addresses under email: reports:.")
    filename = pdf_path.rsplit("/", 1)[-1]
    for address in scheme.email.reports:
        outbox.to_email(session, address, REPORT_EVENT, title, text, html=html,
                        attachments=[{"path": pdf_path, "filename": filename}])
    audit(session, actor, "email_report", after={"title": title,
                                                 "recipients": len(scheme.email.reports)})
    return len(scheme.email.reports)


async def do_send_report_to_person(session: AsyncSession, *, title: str, pdf_path: str,
                                   actor: Person) -> None:
    """Queue the report's PDF to the person's own Slack DM (they asked for it there)."""
    require(actor, Action.SEE_ALL, target_type="reports")
    if not actor.slack_id:
        raise InvalidInput("Reports are sent to your Slack direct messages; your account "
                           "has no Slack link.")
    outbox.queue_row(session, Outbox(
        transport=outbox.SLACK, destination=actor.slack_id, event=REPORT_EVENT,
        payload={"text": title, "file": {"path": pdf_path,
                                         "filename": pdf_path.rsplit("/", 1)[-1]}}))
    audit(session, actor, "send_report", after={"title": title})
