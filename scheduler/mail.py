"""E-mail through the outbox: the digest and reports for people who do not live in Slack.

`EmailSender` is the dispatcher's sender for `email` rows: it builds the message with the
standard library's `email` package (plain text, an HTML alternative, files attached) and sends
it with aiosmtplib over STARTTLS with the credentials from settings. It classifies what went
wrong the way the other senders do, so the outbox retries what may succeed later, fails what
never will, and tries at most once more what may already have arrived.
"""

from __future__ import annotations

import logging
import mimetypes
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib

from scheduler import render as renderers
from scheduler.dispatcher import Delivery, Result

log = logging.getLogger(__name__)


def build_message(parts: dict[str, Any], sender: str, message_id_domain: str) -> EmailMessage:
    """The MIME message: text, then HTML as its alternative, then each attachment."""
    message = EmailMessage()
    message["Subject"] = parts["subject"]
    message["From"] = sender
    message["To"] = parts["to"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    message.set_content(parts["text"])
    if parts.get("html"):
        message.add_alternative(parts["html"], subtype="html")
    for attachment in parts.get("attachments") or []:
        path = Path(attachment["path"])
        kind, _ = mimetypes.guess_type(path.name)
        maintype, subtype = (kind or "application/octet-stream").split("/", 1)
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype,
                               filename=attachment.get("filename") or path.name)
    return message


class EmailSender:
    """SMTP with STARTTLS (unless turned off for a server on the same machine). Built from
    settings by the caller; holds no connection between messages (a digest a week)."""

    transport = renderers.EMAIL

    def __init__(self, host: str, port: int, sender: str, *, username: str | None = None,
                 password: str | None = None, starttls: bool = True,
                 ca_file: str | None = None, timeout: float = 30.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout
        self.tls_context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    @classmethod
    def from_settings(cls, settings: Any) -> EmailSender | None:
        if not settings.smtp_host:
            return None
        return cls(settings.smtp_host, settings.smtp_port,
                   settings.smtp_from or settings.smtp_username or "ambassador-bot@localhost",
                   username=settings.smtp_username,
                   password=(settings.smtp_password.get_secret_value()
                             if settings.smtp_password else None),
                   starttls=settings.smtp_starttls,
                   ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
                   timeout=settings.smtp_timeout_seconds)

    async def deliver(self, delivery: Delivery, message: dict[str, Any]) -> Result:
        try:
            mime = build_message(message, self.sender, self.sender.rpartition("@")[2]
                                 or "localhost")
        except OSError as error:     # an attachment that is gone will not come back
            return Result("permanent", reason=f"E-mail: attachment unreadable ({error})")
        try:
            await aiosmtplib.send(mime, hostname=self.host, port=self.port,
                                  start_tls=self.starttls, username=self.username,
                                  password=self.password, tls_context=self.tls_context,
                                  timeout=self.timeout)
            return Result.sent(mime["Message-ID"])
        except aiosmtplib.SMTPRecipientsRefused as error:
            return Result("permanent", reason=f"E-mail: recipient refused ({error})"[:500])
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError) as error:
            return Result("transient", reason=f"E-mail: cannot reach the server ({error})")
        except aiosmtplib.SMTPResponseException as error:
            # 4xx: try later (greylisting, a full queue); 5xx: the server will not take it.
            kind = "transient" if 400 <= error.code < 500 else "permanent"
            return Result(kind, reason=f"E-mail: {error.code} {error.message}"[:500])
        except (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected) as error:
            # The message may have been handed over before the line went quiet.
            return Result("unknown", reason=f"E-mail: {error}"[:500])
        except (aiosmtplib.SMTPException, OSError) as error:
            return Result("transient", reason=f"E-mail: {error}"[:500])
