"""E-mail through the outbox to a real SMTP server on loopback (aiosmtpd, STARTTLS required,
credentials checked): the report arrives once with its PDF attached, again only after a
failure, and a refusal fails the row with the reason; the digest goes by e-mail too."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from scheduler.digest import post_digest
from scheduler.dispatcher import Dispatcher
from scheduler.mail import EmailSender
from storage.models import Outbox, Person
from storage.reports.delivery import do_email_report
from storage.scheme import Email
from tests.storage.seed import Cast

USER, PASSWORD = "office", "correct horse"


class Inbox:
    """aiosmtpd's handler: keeps what arrives; `refuse` answers the next DATA commands
    with the given replies instead."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse:
            return self.refuse.pop(0)
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content,
                                                                    policy=policy.default)))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    # handled=False: aiosmtpd answers the refusal itself (535); its default says "already
    # answered" and leaves the client waiting.
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True,
                   capture_output=True)
    return cert, key


@pytest.fixture
def smtp(certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_require_tls=True,
                            authenticator=_authenticate)
    controller.start()
    inbox.port = port
    try:
        yield inbox
    finally:
        controller.stop()


def sender(inbox: Inbox, certificate, password: str = PASSWORD) -> EmailSender:
    return EmailSender("127.0.0.1", inbox.port, "reports@pcc.example", username=USER,
                       password=password, ca_file=str(certificate[0]), timeout=10)


def dispatcher(db, scheme, email: EmailSender) -> Dispatcher:
    return Dispatcher(db, scheme, {"email": email}, backoff_base=0.02, backoff_cap=0.1,
                      registry=CollectorRegistry())


@pytest.fixture
def mail_scheme(scheme):
    return scheme.model_copy(update={"email": Email(digest=["pcc@pcc.example"],
                                                    reports=["panel@council.example",
                                                             "pcc@pcc.example"])})


async def _queue_report(db, scheme, tmp_path) -> bytes:
    pdf = tmp_path / "q3.pdf"
    pdf.write_bytes(b"%PDF-1.7\n% a report\n%%EOF\n")
    cast = await Cast.create(db, scheme)
    async with db.transaction() as s:
        await do_email_report(s, scheme, title="Report to the panel, July to September 2026",
                              text="The report is attached.", html="<p>The report is "
                              "attached.</p>", pdf_path=str(pdf),
                              actor=await s.get(Person, cast.officer.id))
    return pdf.read_bytes()


async def test_a_report_arrives_once_with_its_pdf(db, mail_scheme, smtp, certificate,
                                                  tmp_path) -> None:
    pdf = await _queue_report(db, mail_scheme, tmp_path)
    rig = dispatcher(db, mail_scheme, sender(smtp, certificate))
    await rig.drain(timeout=20)
    await rig.drain(timeout=5)                          # nothing more goes out
    assert sorted(to for (to,), _ in smtp.messages) == ["panel@council.example",
                                                        "pcc@pcc.example"]
    _, message = smtp.messages[0]
    assert message["Subject"] == "Report to the panel, July to September 2026"
    assert message["From"] == "reports@pcc.example"
    assert message.get_body(("plain",)).get_content().strip() == "The report is attached."
    assert "attached" in message.get_body(("html",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "q3.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf
    async with db.transaction() as s:
        rows = (await s.scalars(select(Outbox).where(Outbox.transport == "email"))).all()
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


async def test_again_only_after_a_failure(db, mail_scheme, smtp, certificate, tmp_path) -> None:
    """A 451 (try later) is retried and the message arrives once; a 550 fails the row with
    the server's reason and nothing arrives."""
    await _queue_report(db, mail_scheme, tmp_path)
    smtp.refuse = ["451 4.3.0 Mailbox busy, try later", "550 5.1.1 No such mailbox"]
    rig = dispatcher(db, mail_scheme, sender(smtp, certificate))
    await rig.drain(timeout=20)
    async with db.transaction() as s:
        rows = {r.destination: r for r in
                (await s.scalars(select(Outbox).where(Outbox.transport == "email"))).all()}
    arrived = [to for (to,), _ in smtp.messages]
    # The two addresses are two queues side by side: which one met which refusal is the
    # order the server saw them in; each arrived at most once.
    assert len(arrived) == 1 and len(set(arrived)) == 1
    delivered, refused = rows[arrived[0]], next(r for d, r in rows.items() if d != arrived[0])
    assert (delivered.status, delivered.attempts) == ("sent", 2)
    assert refused.status == "failed" and "550" in refused.error


async def test_wrong_credentials_fail_without_sending(db, mail_scheme, smtp, certificate,
                                                      tmp_path) -> None:
    await _queue_report(db, mail_scheme, tmp_path)
    rig = dispatcher(db, mail_scheme, sender(smtp, certificate, password="wrong"))
    await rig.drain(timeout=20)
    async with db.transaction() as s:
        rows = (await s.scalars(select(Outbox).where(Outbox.transport == "email"))).all()
    assert smtp.messages == []
    assert {r.status for r in rows} == {"failed"} and all("535" in r.error for r in rows)


async def test_the_digest_goes_by_email_with_its_chart(db, mail_scheme, smtp, certificate,
                                                       tmp_path) -> None:
    await Cast.create(db, mail_scheme)
    now = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
    await post_digest(db, mail_scheme, None, False, now=now, chart_dir=tmp_path)
    rig = dispatcher(db, mail_scheme, sender(smtp, certificate))
    await rig.drain(timeout=20)
    [(to, message)] = smtp.messages
    assert to == ["pcc@pcc.example"]
    assert message["Subject"].startswith("Weekly digest: Mon 16 Nov 2026")
    assert "Urgent this week" in message.get_body(("html",)).get_content()
    [chart] = list(message.iter_attachments())
    assert chart.get_content_type() == "image/png"


async def test_no_report_addresses_is_said_plainly(db, scheme, tmp_path) -> None:
    from storage.errors import Refused
    cast = await Cast.create(db, scheme)
    with pytest.raises(Refused, match="names nobody to e-mail reports to"):
        async with db.transaction() as s:
            await do_email_report(s, scheme, title="t", text="t", html=None,
                                  pdf_path=str(tmp_path / "q3.pdf"),
                                  actor=await s.get(Person, cast.officer.id))
    async with db.transaction() as s:
        assert (await s.scalars(select(Outbox))).all() == []
