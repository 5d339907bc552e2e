"""`/ambassadors`: stats | team | invite | meetings | export | digest | join CODE | help.

Each subcommand checks the person's role first (a refusal is one sentence, audited); the
answer is shown only to the person who typed it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from handlers.slack import modals
from handlers.slack.blocks import actions, button, context, esc, header, sections
from handlers.slack.context import (STRANGER, Duplicate, SlackServices, check, once, services,
                                    who)
from handlers.slack.home import home_view, team_blocks
from handlers.slack.listeners.actions import MEETING_CANCEL, MEETING_SCHEDULE
from scheduler.digest import post_digest
from storage.errors import Refused
from storage.exports import EXTRACTS, extract_rows
from storage.models import Person
from storage.operations import office, people
from storage.operations.oversight import team_overview
from storage.parsers import format_date, format_money, format_when
from storage.permissions import Action, who_may

log = logging.getLogger(__name__)
COMMAND = "/ambassadors"
HELP = ("*/ambassadors* — the Community Ambassador scheme from Slack\n"
        "• `stats` — this week and this quarter, by area\n"
        f"• `team` — each ambassador's work at a glance ({who_may(Action.OVERSEE)})\n"
        "• `invite` — invite an ambassador or a member of the office\n"
        "• `meetings` — the meetings coming up; schedule a quarterly meeting or a catch-up\n"
        f"• `export` — the CSV extracts, sent to you by DM ({who_may(Action.EXPORT)})\n"
        "• `digest` — post the weekly digest now\n"
        "• `report panel 2026-Q3`, `report annual 2026-27` or `report grants 2026-27` — the "
        "PDF, sent to you by DM\n"
        "• `join CODE` — link your Slack account with an invite code\n"
        "• `help` — this list\n"
        "Open the app's *Home* tab for the scheme at a glance.")


async def ambassadors(ack, body, command, context, client, respond) -> None:
    """Route `/ambassadors <subcommand>`."""
    await ack()
    svc = services(context)
    words = (command.get("text") or "").split()
    sub = words[0].lower() if words else "help"
    person = await who(svc, command["user_id"])
    if sub == "join":
        await join(svc, command, respond, client, words[1] if len(words) > 1 else "")
        return
    if sub == "help":
        await respond(text=HELP, response_type="ephemeral")
        return
    if person is None:
        await respond(text=STRANGER, response_type="ephemeral")
        return
    handler = SUBCOMMANDS.get(sub)
    if handler is None:
        await respond(text=f"I don't know “{esc(sub[:40])}”. " + HELP,
                      response_type="ephemeral")
        return
    await handler(svc, person, command, respond, client, words[1:])


async def join(svc: SlackServices, command: dict[str, Any], respond: Any, client: Any,
               code: str) -> None:
    """Redeem an invite for this Slack user."""
    if not code:
        await respond(text="Please type the code from your invite: `/ambassadors join CODE`.",
                      response_type="ephemeral")
        return
    try:
        async with once(svc, f"slack:cmd:{command.get('trigger_id', '')}") as s:
            person = await people.do_redeem_invite(s, svc.scheme, code=code,
                                                   slack_id=command["user_id"], now=svc.now())
            await s.refresh(person, ["area"])
    except Duplicate:
        return
    except Refused as refusal:
        await respond(text=esc(refusal.sentence), response_type="ephemeral")
        return
    await respond(text=f"Welcome, {esc(person.name)} — your Slack account is linked. Open the "
                       "app's Home tab to get started.", response_type="ephemeral")
    try:
        await client.views_publish(user_id=command["user_id"], view=await home_view(svc, person))
    except SlackApiError as error:
        log.info("home not published after join: %s", error.response.get("error"))


def _figure_lines(rows: list[office.AreaFigures]) -> str:
    lines = [f"• *{esc(r.area)}*: {r.engagements} engagement{'s' * (r.engagements != 1)}, "
             f"{r.feedback} feedback, {r.people_reached:,} people reached, {r.grants} grant"
             f"{'s' * (r.grants != 1)} ({format_money(r.grants_pence)})" for r in rows]
    total = office.AreaFigures("Total")
    for r in rows:
        total.engagements += r.engagements
        total.feedback += r.feedback
        total.people_reached += r.people_reached
        total.grants += r.grants
        total.grants_pence += r.grants_pence
    lines.append(f"*All areas*: {total.engagements} engagements, {total.feedback} feedback, "
                 f"{total.people_reached:,} people reached, {total.grants} grants "
                 f"({format_money(total.grants_pence)})")
    return "\n".join(lines)


async def stats(svc: SlackServices, person: Person, command: dict[str, Any], respond: Any,
                client: Any, args: list[str]) -> None:
    """This week and this quarter, by area."""
    refusal = await check(svc, person, Action.SEE_ALL)
    if refusal:
        await respond(text=esc(refusal), response_type="ephemeral")
        return
    now = svc.now()
    week = office.week_start(now, svc.scheme)
    quarter = office.quarter_start(now, svc.scheme)
    async with svc.db.transaction() as s:
        this_week = await office.figures_by_area(s, week, week + dt.timedelta(days=7))
        this_quarter = await office.figures_by_area(s, quarter, now + dt.timedelta(days=1))
        size, remaining = await office.fund_remaining(s, svc.scheme)
    blocks = [header("Community Ambassadors — figures"),
              *sections(f"*This week* (from {format_date(week.date())})\n"
                        + _figure_lines(this_week)),
              *sections(f"*This quarter* (from {format_date(quarter.date())})"
                        "\n" + _figure_lines(this_quarter)),
              context(f"Grant fund: {format_money(remaining)} of {format_money(size)} remaining")]
    await respond(text="Community Ambassadors — figures", blocks=blocks,
                  response_type="ephemeral")


async def invite(svc: SlackServices, person: Person, command: dict[str, Any], respond: Any,
                 client: Any, args: list[str]) -> None:
    """Open the invite modal."""
    refusal = await check(svc, person, Action.INVITE, target_type="invites")
    if refusal:
        await respond(text=esc(refusal), response_type="ephemeral")
        return
    await client.views_open(trigger_id=command["trigger_id"], view=modals.invite_view(svc.scheme))


async def meetings_list(svc: SlackServices, person: Person, command: dict[str, Any],
                        respond: Any, client: Any, args: list[str]) -> None:
    """The meetings coming up, with replies so far; schedule or cancel from here."""
    refusal = await check(svc, person, Action.MANAGE_MEETINGS, target_type="meetings")
    if refusal:
        await respond(text=esc(refusal), response_type="ephemeral")
        return
    if args and args[0].lower() in ("schedule", "new", "add"):
        await client.views_open(trigger_id=command["trigger_id"],
                                view=modals.meeting_view(svc.scheme))
        return
    tz = svc.scheme.timezone
    async with svc.db.transaction() as s:
        coming = await office.upcoming_meetings(s, svc.now())
    blocks: list[dict[str, Any]] = [header("Meetings coming up")]
    for m in coming:
        replies = ", ".join(f"{count} {esc(answer)}"
                            for answer, count in sorted(m.answers.items()))
        kind = "Quarterly meeting" if m.kind == "quarterly" else "Catch-up"
        blocks.append({"type": "section", "block_id": f"meeting_row:{m.id}",
                       "text": {"type": "mrkdwn", "text": (
                           f"*{esc(m.title)}* — {kind}\n{format_when(m.starts_at, tz)}, "
                           f"{esc(m.place)}\nReplies: {replies or 'none yet'}")[:3000]},
                       "accessory": button("Cancel", MEETING_CANCEL, str(m.id), "danger")})
    if not coming:
        blocks += sections("No meetings are scheduled.")
    blocks.append(actions("meetings", [button("Schedule a meeting", MEETING_SCHEDULE,
                                              "schedule", "primary")]))
    await respond(text="Meetings coming up", blocks=blocks[:50], response_type="ephemeral")


def _csv(header_row: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header_row)
    for row in rows:
        # A cell starting with = + - @ would run as a formula in a spreadsheet.
        writer.writerow([f"'{v}" if isinstance(v, str) and v[:1] in "=+-@" else v for v in row])
    return out.getvalue()


async def export(svc: SlackServices, person: Person, command: dict[str, Any], respond: Any,
                 client: Any, args: list[str]) -> None:
    """The office's CSV extracts, uploaded to the requester's DM (administrators only)."""
    refusal = await check(svc, person, Action.EXPORT)
    if refusal:
        await respond(text=esc(refusal), response_type="ephemeral")
        return
    wanted = [a.lower() for a in args if a.lower() in EXTRACTS] or list(EXTRACTS)
    uploads = []
    async with svc.db.transaction() as s:
        for name in wanted:
            head, rows = await extract_rows(s, svc.scheme, name, None, None)
            uploads.append({"content": _csv(head, rows), "filename": f"{name}.csv",
                            "title": f"{name.replace('_', '-').capitalize()} ({len(rows)} rows)"})
    opened = await client.conversations_open(users=command["user_id"])
    await client.files_upload_v2(file_uploads=uploads, channel=opened["channel"]["id"],
                                 initial_comment="The Community Ambassador extracts you asked "
                                                 "for. Please keep them safe: they name people.")
    await respond(text=f"I've sent {len(uploads)} CSV extract{'s' * (len(uploads) != 1)} to "
                       "your direct messages.", response_type="ephemeral")


async def digest(svc: SlackServices, person: Person, command: dict[str, Any], respond: Any,
                 client: Any, args: list[str]) -> None:
    """Post last week's digest now, to the digest channel and the Commissioner (through the
    outbox, like the Monday one); once per command even if Slack delivers it twice."""
    refusal = await check(svc, person, Action.SEE_ALL)
    if refusal:
        await respond(text=esc(refusal), response_type="ephemeral")
        return
    try:
        async with once(svc, f"slack:cmd:{command.get('trigger_id', '')}"):
            pass
    except Duplicate:
        return
    await post_digest(svc.db, svc.scheme, now=svc.now(), chart_dir=svc.extra.get("chart_dir"))
    await respond(text="The digest for last week is on its way to the digest channel and to "
                       "the Commissioner.", response_type="ephemeral")


REPORT_USAGE = ("Which report? `/ambassadors report panel 2026-Q3` (a quarter), "
                "`/ambassadors report annual 2026-27` (a financial year) or "
                "`/ambassadors report grants 2026-27` (the grants register for publication).")


async def report(svc: SlackServices, person: Person, command: dict[str, Any], respond: Any,
                 client: Any, args: list[str]) -> None:
    """The panel or annual report, or the grants register, as a PDF sent to the person's DM
    through the outbox (officers, deputy, Commissioner); once per command even if Slack
    delivers it twice."""
    import asyncio
    from pathlib import Path

    from scheduler.reports.build import (annual_report_html, grants_register_html,
                                         panel_report_html)
    from scheduler.reports.render import html_to_pdf
    from storage.reports.delivery import do_send_report_to_person
    from storage.reports.periods import parse_quarter, parse_year

    refusal = await check(svc, person, Action.SEE_ALL)
    if refusal:
        await respond(text=esc(refusal), response_type="ephemeral")
        return
    kind = args[0].lower() if args else ""
    if kind not in ("panel", "annual", "grants") or len(args) != 2:
        await respond(text=REPORT_USAGE, response_type="ephemeral")
        return
    try:
        period = (parse_quarter if kind == "panel" else parse_year)(args[1])
    except ValueError as error:
        await respond(text=esc(str(error)), response_type="ephemeral")
        return
    try:
        async with once(svc, f"slack:cmd:{command.get('trigger_id', '')}"):
            pass
    except Duplicate:
        return
    what = "grants register" if kind == "grants" else f"{kind} report"
    await respond(text=f"Putting the {what} for {period.label} together; it will "
                       "arrive in your direct messages.", response_type="ephemeral")
    chart_dir = svc.extra.get("chart_dir")
    media_dir = Path(chart_dir).parent if chart_dir else Path("media")
    if kind == "panel":
        html = await panel_report_html(svc.db, svc.scheme, period, media_dir=media_dir)
        title = f"Report to the police and crime panel, {period.label}"
    elif kind == "annual":
        html = await annual_report_html(svc.db, svc.scheme, period, media_dir=media_dir)
        title = f"Annual report, {period.label}"
    else:
        html = await grants_register_html(svc.db, svc.scheme, period)
        title = f"Grants register, {period.label}"
    pdf = await asyncio.to_thread(html_to_pdf, html)   # drawing a PDF takes a second or two
    out = media_dir / "reports" / f"{kind}-{period.key}-{svc.now():%Y%m%d%H%M%S}.pdf"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    async with svc.db.transaction() as s:
        await do_send_report_to_person(s, title=title, pdf_path=str(out.resolve()),
                                       actor=person)


async def team(svc: SlackServices, person: Person, command: dict[str, Any], respond: Any,
               client: Any, args: list[str]) -> None:
    """Each ambassador's work: the deputy's (and the Commissioner's) oversight."""
    try:
        async with svc.db.transaction() as s:
            overview = await team_overview(s, svc.scheme, actor=await s.merge(person),
                                           now=svc.now())
    except Refused as refusal:
        await respond(text=esc(refusal.sentence), response_type="ephemeral")
        return
    title = "Community Ambassadors — the team"
    await respond(text=title, blocks=[header(title),
                                      *team_blocks(overview, svc.scheme.timezone)],
                  response_type="ephemeral")


SUBCOMMANDS = {"stats": stats, "team": team, "invite": invite, "meetings": meetings_list, "export": export,
               "digest": digest, "report": report}


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(ambassadors)
