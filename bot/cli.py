"""The command line: migrate, invite, people, export, erase, find-person, redact, run, digest,
retention, backup, restore, sandbox, report, finance, fund."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from sqlalchemy import select

from bot.settings import Settings
from storage import migrate
from storage.db import Database
from storage.errors import Refused
from storage.scheme import Scheme, SchemeError, load_scheme

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Ambassador Bot: runs a Community Ambassador scheme.")
T = TypeVar("T")
log = logging.getLogger(__name__)


def _settings() -> Settings:
    return Settings()


def _scheme(settings: Settings) -> Scheme:
    try:
        return load_scheme(settings.scheme_file)
    except SchemeError as error:
        typer.echo(f"The scheme file can't be used:\n{error}", err=True)
        raise typer.Exit(2) from None


def _run(work: Callable[[Database, Scheme], Awaitable[T]]) -> T:
    """Migrate-free helper: open the database, sync the scheme, run `work`, close."""
    settings = _settings()
    scheme = _scheme(settings)

    async def main() -> T:
        from storage.operations.people import sync_scheme
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                await sync_scheme(session, scheme)
            return await work(db, scheme)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except Refused as refusal:
        typer.echo(refusal.sentence, err=True)
        raise typer.Exit(1) from None


@app.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the database schema (Alembic)."""
    settings = _settings()
    _scheme(settings)
    migrate.upgrade(settings.database_url)
    _run(lambda db, scheme: asyncio.sleep(0))
    typer.echo("Database is up to date.")


@app.command()
def invite(name: str = typer.Option(..., help="The person's name"),
           role: str = typer.Option("ambassador", help="ambassador, officer, commissioning, "
                                    "commissioner, deputy or admin"),
           area: str | None = typer.Option(None, help="Area (required for an ambassador)")
           ) -> None:
    """Invite someone: prints a single-use Telegram link and the code for Slack."""
    from storage.operations.people import cli_admin, do_create_invite

    settings = _settings()
    bot_username, why_not = asyncio.run(_telegram_bot_username(settings))

    async def work(db: Database, scheme: Scheme) -> Any:
        async with db.transaction() as session:
            admin = await cli_admin(session)
            return await do_create_invite(session, scheme, name=name, role=role, area=area,
                                          actor=admin)

    created = _run(work)
    typer.echo(f"Invite for {created.name} ({created.role}), valid until "
               f"{created.expires_at:%d %B %Y}:")
    if bot_username:
        typer.echo(f"  Telegram: https://t.me/{bot_username}?start={created.code}")
    else:
        typer.echo(f"  Telegram: no link, because {why_not}.")
    typer.echo(f"  Code (Slack: /ambassadors join CODE): {created.code}")


async def _telegram_bot_username(settings: Settings) -> tuple[str | None, str]:
    """The bot's @username for a deep link: what Telegram's getMe says with TELEGRAM_BOT_TOKEN
    (as the running bot asks), else TELEGRAM_BOT_USERNAME; without either, why not."""
    configured = (settings.telegram_bot_username or "").lstrip("@") or None
    if not settings.telegram_bot_token:
        return configured, "neither TELEGRAM_BOT_TOKEN nor TELEGRAM_BOT_USERNAME is set"
    from telegram import Bot
    try:
        async with Bot(settings.telegram_bot_token.get_secret_value(),
                       base_url=settings.telegram_api_base_url) as bot:
            return bot.username, ""
    except Exception as error:  # noqa: BLE001 — said plainly: its text may hold the token
        return configured, (f"Telegram did not say the bot's name ({type(error).__name__}); "
                            "check TELEGRAM_BOT_TOKEN or set TELEGRAM_BOT_USERNAME")


@app.command()
def people() -> None:
    """List the people in the scheme."""
    from storage.models import Area, Person

    async def work(db: Database, scheme: Scheme) -> list[tuple[Any, ...]]:
        async with db.transaction() as session:
            rows = await session.execute(select(Person, Area.name).outerjoin(
                Area, Area.id == Person.area_id).order_by(Person.id))
            return [(p.id, p.name, ",".join(p.roles), a or "", "active" if p.active else
                     "inactive", "telegram" if p.telegram_id else "slack" if p.slack_id else "-")
                    for p, a in rows.all()]

    for row in _run(work):
        typer.echo("\t".join(str(c) for c in row))


EXPORTS = ("engagements", "feedback", "grants", "hours", "expenses")


@app.command()
def export(out: Path = typer.Option(Path("exports"), help="Directory for the extracts (or the "
                                    ".zip file with --person)"),
           person: int | None = typer.Option(None, help="Subject-access bundle for one person"),
           mention: str | None = typer.Option(None, help="Subject-access bundle for a member "
                                              "of the public: a name, phone number or e-mail "
                                              "address named in the records"),
           since: str | None = typer.Option(None, help="From date, YYYY-MM-DD"),
           until: str | None = typer.Option(None, help="Until date, YYYY-MM-DD"),
           xlsx: bool = typer.Option(True, help="Also write an XLSX workbook"),
           force: bool = typer.Option(False, help="Overwrite existing files")) -> None:
    """Write the office's CSV (and XLSX) extracts: engagements, feedback, follow-ups, grants
    (by decision date), hours, expenses, media and meetings."""
    if person is not None or mention is not None:
        _subject_access(person, mention, out, force)
        return
    from storage.exports import EXTRACTS, Extract, extract, write_xlsx

    try:
        start = dt.date.fromisoformat(since) if since else None
        end = dt.date.fromisoformat(until) if until else None
    except ValueError:
        typer.echo("Dates must be written YYYY-MM-DD, e.g. 2026-04-01.", err=True)
        raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    targets = [out / f"{name}.csv" for name in EXTRACTS]
    if not force and any(t.exists() for t in targets):
        typer.echo(f"Extracts already exist in {out}; use --force to overwrite.", err=True)
        raise typer.Exit(1)

    async def work(db: Database, scheme: Scheme) -> list[Extract]:
        tables = []
        with typer.progressbar(EXTRACTS, label="Exporting") as names:
            for name in names:
                async with db.transaction() as session:
                    tables.append(await extract(session, scheme, name, start, end))
        return tables

    tables = _run(work)
    for table in tables:
        with open(out / f"{table.name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([c.header for c in table.columns])
            writer.writerows(table.csv_rows())
    if xlsx:
        write_xlsx(tables, out / "extracts.xlsx")
    for table in tables:
        typer.echo(f"{table.name}: {len(table.rows)} rows")
    typer.echo(f"Written to {out}/")


def _subject_access(person: int | None, mention: str | None, out: Path, force: bool) -> None:
    from storage.subject_access import mention_bundle, person_bundle, write_bundle

    if person is not None and mention is not None:
        typer.echo("Give --person or --mention, not both.", err=True)
        raise typer.Exit(2)
    if mention is not None and len(mention.strip()) < 3:
        typer.echo("Give at least 3 characters to look for, e.g. a name, a phone number or "
                   "an e-mail address.", err=True)
        raise typer.Exit(2)
    which = f"person-{person}" if person is not None else "mention"
    if out.suffix != ".zip":
        out = out / f"subject-access-{which}.zip" if out.is_dir() else out.with_suffix(".zip")
    if out.exists() and not force:
        typer.echo(f"{out} already exists; use --force to overwrite.", err=True)
        raise typer.Exit(1)

    async def work(db: Database, scheme: Scheme) -> tuple[Any, Scheme]:
        async with db.transaction() as session:
            if person is not None:
                return await person_bundle(session, person), scheme
            return await mention_bundle(session, scheme, mention or ""), scheme

    bundle, scheme = _run(work)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = write_bundle(bundle, out, scheme)
    # Counts and ids only: what the bundle holds is for the person, not for this terminal.
    subject = f"person {person}" if person is not None else "the text given"
    typer.echo(f"Subject-access bundle for {subject}: {bundle.total} records from "
               f"{len(bundle.tables)} tables, {files} files, written to {out}")


@app.command()
def erase(person: int = typer.Option(..., help="The person's id (see `people`)"),
          yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation")) -> None:
    """Erase a person's personal data everywhere (records, messages, audit detail, drafts,
    files); records stay, anonymised, with one audit line."""
    from storage.operations.people import cli_admin
    from storage.privacy.erasure import do_erase_person, remove_files

    if not yes and not typer.confirm(f"Erase the personal data of person {person}? This "
                                     "cannot be undone"):
        raise typer.Exit(1)

    async def work(db: Database, scheme: Scheme) -> Any:
        async with db.transaction() as session:
            return await do_erase_person(session, scheme, person_id=person,
                                         actor=await cli_admin(session))

    done = _run(work)
    files = remove_files(done.paths, done.content_hashes, _settings().media_dir)
    typer.echo(f"Person {person}'s personal data is erased: {done.values:,} values replaced, "
               f"{done.messages_cancelled:,} unsent messages to them cancelled, {files:,} "
               "files deleted.")


@app.command()
def deactivate(person: int = typer.Option(..., help="The person's id (see `people`)"),
               reason: str | None = typer.Option(None, help="Why, for the audit trail")) -> None:
    """Stop a person using the bot and receiving anything (objection, restriction, leaving);
    their records stay until erased or past retention."""
    from storage.operations.people import cli_admin, do_deactivate_person

    async def work(db: Database, scheme: Scheme) -> None:
        async with db.transaction() as session:
            await do_deactivate_person(session, person_id=person, reason=reason,
                                       actor=await cli_admin(session))

    _run(work)
    typer.echo(f"Person {person} is deactivated: they receive nothing and cannot use the bot.")


@app.command("find-person")
def find_person(text: list[str] = typer.Argument(..., help="A name, phone number or e-mail "
                                                 "address (several: any of them)")) -> None:
    """List every record that mentions a person (a member of the public, say): table, record,
    field and a short excerpt, for the Data Protection Officer's eyes only (not logged)."""
    from storage.privacy.mentions import describe, find_mentions

    async def work(db: Database, scheme: Scheme) -> Any:
        async with db.transaction() as session:
            return await find_mentions(session, scheme, text)

    mentions = _run(work)
    for line in describe(mentions):
        typer.echo(line)
    typer.echo(f"{len(mentions):,} mentions in "
               f"{len({(m.table, m.record_id) for m in mentions}):,} records.", err=True)


@app.command()
def redact(mention: list[str] = typer.Option(..., "--mention", help="A name, phone number or "
                                             "e-mail address to remove (repeat for each)"),
           with_media: bool = typer.Option(False, "--with-media", help="Also delete the "
                                           "photos whose caption names them"),
           yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation")) -> None:
    """Remove every mention of a person who is not a user of the scheme (see find-person),
    with one audit line; records stay with the mention replaced."""
    from storage.operations.people import cli_admin
    from storage.privacy.erasure import remove_files
    from storage.privacy.mentions import do_redact_mention

    if not yes and not typer.confirm("Remove every mention listed by find-person? This "
                                     "cannot be undone"):
        raise typer.Exit(1)

    async def work(db: Database, scheme: Scheme) -> Any:
        async with db.transaction() as session:
            return await do_redact_mention(session, scheme, texts=mention,
                                           with_media=with_media,
                                           actor=await cli_admin(session))

    done = _run(work)
    files = remove_files(done.paths, done.content_hashes, _settings().media_dir)
    typer.echo(f"Removed {len(done.mentions):,} mentions from {done.records:,} records.")
    for media_id in done.photos:
        if with_media:
            typer.echo(f"Photo {media_id}: its caption named them; its files are deleted.")
        else:
            typer.echo(f"Photo {media_id}: its caption named them and is redacted; the photo "
                       "itself may show them. Look at it, and if it does, run this again "
                       "with --with-media to delete the photos named.")
    if files:
        typer.echo(f"{files:,} files deleted.")


@app.command()
def run() -> None:
    """Run the bot (Telegram and Slack)."""
    settings = _settings()
    _scheme(settings)
    missing = settings.missing_for_run()
    if missing:
        typer.echo("The bot can't start yet: set " + ", ".join(missing) + " in .env (see "
                   ".env.example). To try it without tokens, run `make demo`.", err=True)
        raise typer.Exit(2)
    from bot.logs import configure_logging
    from bot.runner import run as serve

    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(serve(settings, _scheme(settings)))


@app.command()
def digest(now: bool = typer.Option(False, "--now", help="Post it now (to the digest channel "
                                    "and each Commissioner)"),
           week: str | None = typer.Option(None, "--week", help="Which week: 2026-W47 or any "
                                           "date in it (default: the last complete week)"),
           dry_run: bool = typer.Option(False, "--dry-run", help="Print it; post nothing"),
           chart: Path | None = typer.Option(None, "--chart", help="Also write the chart "
                                             "to this PNG file")) -> None:
    """The Commissioner's weekly digest: print it (--dry-run) or post it now (--now)."""
    from scheduler.digest import parse_week, post_digest

    if now == dry_run:
        typer.echo("Say --now to post the digest, or --dry-run to print it without posting.",
                   err=True)
        raise typer.Exit(2)
    try:
        monday = parse_week(week) if week else None
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    settings = _settings()

    async def work(db: Database, scheme: Scheme) -> str:
        return await post_digest(db, scheme, monday, dry_run,
                                 chart_dir=settings.media_dir / "charts", chart_out=chart)

    text = _run(work)
    typer.echo(text)
    if chart is not None:
        typer.echo(f"Chart written to {chart}", err=True)
    if not dry_run:
        typer.echo("\nQueued for the digest channel and each Commissioner; a running bot sends "
                   "it within seconds.", err=True)


@app.command()
def retention(dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be "
                                           "removed; remove nothing")) -> None:
    """Remove what is past the scheme's retention periods (the daily job does this too)."""
    from scheduler.retention import enforce_retention

    media_dir = _settings().media_dir

    async def work(db: Database, scheme: Scheme) -> str:
        plan = await enforce_retention(db, scheme, dry_run=dry_run, media_dir=media_dir)
        return plan.summary(scheme, done=not dry_run)

    typer.echo(_run(work))


@app.command()
def sandbox(port: int = typer.Option(8080, help="Port of the web page (on 127.0.0.1)"),
            reset: bool = typer.Option(False, "--reset",
                                       help="Start again from the demo scheme (recreates "
                                            "sandbox.db)"),
            scheme: Path | None = typer.Option(None, "--scheme", help="A scheme file other "
                                               "than West Mercia's"),
            db: Path = typer.Option(Path("sandbox.db"), "--db", help="The sandbox's SQLite "
                                    "file")) -> None:
    """Try the whole scheme locally with no tokens (web page on 127.0.0.1)."""
    from bot.logs import configure_logging
    from bot.sandbox import run_sandbox

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        load_scheme(scheme or settings.scheme_file)
    except SchemeError as error:
        typer.echo(f"The scheme file can't be used:\n{error}", err=True)
        raise typer.Exit(2) from None
    try:
        asyncio.run(run_sandbox(port=port, reset=reset, scheme_file=scheme or
                                settings.scheme_file, db_path=db, announce=typer.echo))
    except OSError as error:
        typer.echo(f"The sandbox can't start: {error.strerror or error}. Is something else "
                   f"using port {port}? Try --port 8081.", err=True)
        raise typer.Exit(1) from None


@app.command("backup")
def backup_command(out: Path = typer.Option(..., help="A new directory for the backup")) -> None:
    """Back up the database and the media directory together (see docs/operations.md)."""
    from bot.backup import BackupError, backup

    settings = _settings()
    try:
        report = asyncio.run(backup(settings.database_url, settings.media_dir, out))
    except BackupError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Backed up {sum(report.row_counts.values())} rows and {report.media_files} "
               f"media files to {report.directory}.")


@app.command("restore")
def restore_command(source: Path = typer.Option(..., "--from", help="A backup's directory"),
                    yes: bool = typer.Option(False, "--yes", help="Don't ask first")) -> None:
    """Replace the database and the media directory with a backup's. Stop the bot first."""
    from bot.backup import BackupError, restore

    settings = _settings()
    if not yes and not typer.confirm(f"Replace the database and {settings.media_dir} with the "
                                     f"backup in {source}?"):
        raise typer.Exit(1)
    try:
        report = asyncio.run(restore(source, settings.database_url, settings.media_dir))
    except BackupError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Restored {sum(report.row_counts.values())} rows and {report.media_files} "
               "media files; the row counts match the backup's manifest. Now run "
               "`python -m bot migrate`.")


# ---- reports (issue 20): the panel report, the annual report, the grants register --------

report_app = typer.Typer(no_args_is_help=True, help="Reports for the police and crime panel, "
                         "the annual report and the grants register for publication.")
app.add_typer(report_app, name="report")


def _period(parse: Callable[[str], Any], text: str) -> Any:
    try:
        return parse(text)
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


def _report_out(out: Path, email: bool = False) -> Path:
    if out.suffix.lower() not in (".pdf", ".html"):
        typer.echo("--out must end in .pdf or .html (e.g. q3.pdf).", err=True)
        raise typer.Exit(2)
    if email and out.suffix.lower() != ".pdf":
        typer.echo("--email sends the PDF: give --out a .pdf file.", err=True)
        raise typer.Exit(2)
    return out


def _email_report(out: Path, title: str) -> None:
    from scheduler.reports.build import email_report

    count = _run(lambda db, scheme: email_report(db, scheme, out, title))
    typer.echo(f"Queued to {count} address{'es' if count != 1 else ''}; a running bot sends "
               "it within seconds.")


@report_app.command("panel")
def report_panel(quarter: str = typer.Option(..., "--quarter", help="e.g. 2026-Q3 (July to "
                                             "September 2026)"),
                 out: Path = typer.Option(..., "--out", help="The file: .pdf or .html"),
                 email: bool = typer.Option(False, "--email", help="Also e-mail the PDF to "
                                            "the scheme's report addresses")) -> None:
    """The quarterly report to the police and crime panel (PDF or HTML)."""
    from scheduler.reports.build import write_panel_report
    from storage.reports.periods import parse_quarter

    period, out = _period(parse_quarter, quarter), _report_out(out, email)
    settings = _settings()
    _run(lambda db, scheme: write_panel_report(db, scheme, period, out,
                                               media_dir=settings.media_dir))
    typer.echo(f"Panel report for {period.label} written to {out}")
    if email:
        _email_report(out, f"Community Ambassadors: report to the police and crime panel, "
                           f"{period.label}")


@report_app.command("annual")
def report_annual(year: str = typer.Option(..., "--year", help="The financial year, e.g. "
                                           "2026-27"),
                  out: Path | None = typer.Option(None, "--out", help="The file: .pdf or "
                                                  ".html (default annual-YEAR.pdf)"),
                  email: bool = typer.Option(False, "--email", help="Also e-mail the PDF to "
                                             "the scheme's report addresses")) -> None:
    """The annual report, by quarter (PDF or HTML)."""
    from scheduler.reports.build import write_annual_report
    from storage.reports.periods import parse_year

    period = _period(parse_year, year)
    out = _report_out(out or Path(f"annual-{period.key}.pdf"), email)
    settings = _settings()
    _run(lambda db, scheme: write_annual_report(db, scheme, period, out,
                                                media_dir=settings.media_dir))
    typer.echo(f"Annual report for {period.label} written to {out}")
    if email:
        _email_report(out, f"Community Ambassadors: annual report, {period.label}")


@report_app.command("grants")
def report_grants(year: str = typer.Option(..., "--year", help="The financial year, e.g. "
                                           "2026-27"),
                  out: Path = typer.Option(Path("."), "--out", help="Directory for the CSV "
                                           "and HTML"),
                  all_decisions: bool = typer.Option(False, "--all-decisions", help="List "
                                                     "grants not approved too")) -> None:
    """The grants register for publication: grants decided in the year (CSV and HTML)."""
    from scheduler.reports.build import write_grants_register
    from storage.reports.periods import parse_year

    period = _period(parse_year, year)
    files, count = _run(lambda db, scheme: write_grants_register(
        db, scheme, period, out, all_decisions=all_decisions))
    typer.echo(f"{count} grant{'s' if count != 1 else ''} decided in {period.label}: "
               + ", ".join(str(f) for f in files))


# ---- money (issue 18): the finance statement, paying approved claims, the grant fund --------

finance_app = typer.Typer(no_args_is_help=True, help="The finance team's statement and paying "
                          "approved expense claims in a batch.")
fund_app = typer.Typer(no_args_is_help=True, help="The grant fund by financial year.")
app.add_typer(finance_app, name="finance")
app.add_typer(fund_app, name="fund")


@finance_app.command("statement")
def finance_statement(month: str | None = typer.Option(None, "--month", help="e.g. 2026-11"),
                      quarter: str | None = typer.Option(None, "--quarter",
                                                         help="e.g. 2026-Q3"),
                      out: Path = typer.Option(Path("."), "--out", help="Directory for the "
                                               "CSV and XLSX")) -> None:
    """Per ambassador: the fee due, approved expenses to pay, hours against commitment."""
    from storage.finance.sheets import write_statement
    from storage.finance.statement import build_statement, period_of
    from storage.operations.people import cli_admin

    async def work(db: Database, scheme: Scheme) -> Any:
        period = period_of(month, quarter)
        async with db.transaction() as session:
            statement = await build_statement(session, scheme, period,
                                              actor=await cli_admin(session))
        return statement, write_statement(statement, out)

    statement, files = _run(work)
    total = sum(line.total_pence for line in statement.lines)
    typer.echo(f"Statement for {statement.period.label}: {len(statement.lines)} ambassadors, "
               f"£{total / 100:,.2f} to pay — " + ", ".join(str(f) for f in files))


@finance_app.command("mark-paid")
def finance_mark_paid(through: str = typer.Option(..., "--through", help="Pay every claim "
                                                  "approved on or before this day "
                                                  "(YYYY-MM-DD)")) -> None:
    """Mark approved expense claims paid, as one batch; each ambassador is told."""
    from storage.models import utcnow
    from storage.operations.expenses import do_mark_expenses_paid
    from storage.operations.people import cli_admin
    from storage.reports.periods import local_midnight

    try:
        day = dt.date.fromisoformat(through.strip())
    except ValueError:
        typer.echo(f"{through!r} is not a date; write it like 2026-11-30.", err=True)
        raise typer.Exit(2) from None

    async def work(db: Database, scheme: Scheme) -> Any:
        if day > utcnow().astimezone(scheme.tz).date():
            raise Refused("--through can't be in the future: only claims already approved "
                          "can be paid.")
        async with db.transaction() as session:
            paid = await do_mark_expenses_paid(
                session, scheme, approved_before=local_midnight(
                    day + dt.timedelta(days=1), scheme.tz), actor=await cli_admin(session))
            return [(c.id, c.amount_pence) for c in paid]

    paid = _run(work)
    if not paid:
        typer.echo(f"No approved claims waiting to be paid through {day:%d %B %Y}.")
        return
    typer.echo(f"Marked {len(paid)} claim{'s' if len(paid) != 1 else ''} paid "
               f"(£{sum(p for _, p in paid) / 100:,.2f}); the ambassadors are being told.")


@fund_app.command("open")
def fund_open(period: str = typer.Option(..., "--period", help="The financial year, e.g. "
                                         "2027-28"),
              amount: str = typer.Option(..., "--amount", help="e.g. 40000 or £40,000"),
              carry_over: bool = typer.Option(False, "--carry-over", help="Add what the "
                                              "previous fund left unspent")) -> None:
    """Open the grant fund for a period (audited); unspent money stays behind unless
    --carry-over."""
    from storage.operations.funds import do_open_fund, period_label
    from storage.operations.people import cli_admin
    from storage.parsers import format_money, parse_money

    async def work(db: Database, scheme: Scheme) -> Any:
        text = amount.strip()
        if text.startswith("-"):
            raise Refused("The fund must be more than £0.")
        pence = parse_money(text if text.startswith("£") else f"£{text}")
        async with db.transaction() as session:
            fund = await do_open_fund(session, scheme, period=period, amount_pence=pence,
                                      carry_over=carry_over, actor=await cli_admin(session))
            return (period_label(fund.starts_on, fund.ends_on), format_money(fund.size_pence),
                    fund.starts_on, fund.ends_on)

    label, size, starts, ends = _run(work)
    typer.echo(f"Opened the {label} grant fund: {size}, {starts:%d %B %Y} to {ends:%d %B %Y}.")


if __name__ == "__main__":  # pragma: no cover
    app()
    sys.exit(0)
