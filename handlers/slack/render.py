"""Outbox rows as Slack messages: Block Kit with a plain-text fallback (DESIGN §4 "Office").

One function per outbox event, each `fn(payload, tz=...) -> {"text", "blocks"}` and, where a
file goes with the message (a photo for review, the digest's chart), a `"file"` entry
`{"path", "filename", "title", "alt_text"}` for the dispatcher to upload with files_upload_v2.
Everything a person typed is escaped (see handlers.slack.blocks). A message that is later
rewritten (`replaces_ref`) is rendered from the rewriting row alone, showing the decision and
who made it, with only the buttons that still make sense — so no stale button remains.

`SLACK_RENDERERS` maps event → function; `register_all()` hands them to scheduler/render.py.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from handlers.slack.blocks import (PHOTOS_NOTE, actions, button, confirm, context, esc, fields,
                                   header, message, sections)
from storage.errors import AlreadyDecided
from handlers.slack.expenses import expense_claimed
from handlers.slack.meeting_post import meeting_post
from storage.parsers import format_money, format_when

DEFAULT_TZ = "Europe/London"
Payload = dict[str, Any]
Rendered = dict[str, Any]
Renderer = Callable[..., Rendered]

# Action ids: the listeners in handlers/slack/listeners/actions.py answer to these.
GRANT_REFER, GRANT_ASK, GRANT_DECLINE, GRANT_DEPUTY = ("grant_refer", "grant_ask",
                                                       "grant_decline", "grant_deputy")
GRANT_APPROVE, GRANT_REJECT = "grant_approve", "grant_reject"
FOLLOW_UP_ACK, FOLLOW_UP_ASSIGN, FOLLOW_UP_DONE = ("follow_up_ack", "follow_up_assign",
                                                   "follow_up_done")
MEDIA_APPROVE, MEDIA_REJECT, MEDIA_CONSENT = "media_approve", "media_reject", "media_consent"
MEDIA_DECISIONS = {"approved": "✅ *Approved for use*", "rejected": "🚫 *Not for use*"}
OUTCOME_PUBLISH = "outcome_publish"
RSVP_PREFIX = "meeting_rsvp_"
OPEN_FORM_PREFIX = "open_form_"

GRANT_STATUS_WORDS = {
    "recommended": "Recommended — waiting for the commissioning team",
    "in_review": "In review by the commissioning team",
    "info_requested": "Waiting for more information from the ambassador",
    "referred": "With the Commissioner for a decision",
    "approved": "Approved", "rejected": "Not approved", "withdrawn": "Withdrawn"}
FOLLOW_UP_NEEDED = {"none": "No follow-up", "office": "The office",
                    "commissioner": "The Commissioner",
                    "police_or_partner": "Police or a partner"}
URGENCY = {"routine": "Routine", "attention": "⚠️ Needs attention", "urgent": "🚨 Urgent"}


def _when(value: Any, tz: str) -> str:
    if not value:
        return "—"
    try:
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return esc(value)
    return format_when(moment, tz)


def _money(payload: Payload, key: str = "amount_pence") -> str:
    pence = payload.get(key)
    return format_money(pence) if isinstance(pence, int) else esc(payload.get("amount", "—"))


def _list(values: Any) -> str:
    return ", ".join(esc(v) for v in values or []) or "—"


def _quote(text: Any) -> str:
    """Free text a person wrote, escaped and shown as a quote."""
    body = esc(text).strip()
    return "\n".join("> " + line for line in body.splitlines()) if body else "—"


def _plain(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    """Any event without a renderer of its own: the row's text, escaped."""
    return message(payload.get("text", ""), sections(esc(payload.get("text", ""))))


# ---- engagements ------------------------------------------------------------------------

def engagement_prenotified(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    starts, ends = payload.get("starts_at"), payload.get("ends_at")
    until = ""
    if starts and ends:
        try:
            end = dt.datetime.fromisoformat(ends)
            until = f" – {end.astimezone(ZoneInfo(tz)):%H:%M}"
        except ValueError:
            until = ""
    audience = payload.get("expected_audience")
    blocks = [header(f"📅 Coming up: {payload.get('title', '')}"),
              *fields([("Area", esc(payload.get("area"))),
                       ("When", _when(starts, tz) + until),
                       ("Place", esc(payload.get("place"))),
                       ("Kind", esc(payload.get("kind"))),
                       ("Expected audience", f"{audience:,}" if isinstance(audience, int)
                        else "—"),
                       ("Notified by", esc(payload.get("ambassador")))]),
              context(f"Engagement #{payload.get('engagement_id', '?')}")]
    return message(payload.get("text", ""), blocks)


def engagement_changed(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    changes = payload.get("changes") or []
    blocks = [*sections(f"✏️ {esc(payload.get('text', ''))}")]
    if changes:
        blocks.append(context("Changed: " + _list(c.replace("_", " ") for c in changes)))
    return message(payload.get("text", ""), blocks)


def engagement_cancelled(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    return message(payload.get("text", ""), sections(f"🚫 {esc(payload.get('text', ''))}"))


def feedback_filed(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    needed = payload.get("follow_up_needed") or "none"
    blocks = [header(f"📝 Feedback: {payload.get('title', '')}"),
              *fields([("Area", esc(payload.get("area"))),
                       ("When", _when(payload.get("starts_at"), tz)),
                       ("Ambassador", esc(payload.get("ambassador"))),
                       ("People reached", f"{payload.get('attendees', 0):,}"),
                       ("Follow-up", FOLLOW_UP_NEEDED.get(needed, esc(needed))),
                       ("Urgency", URGENCY.get(payload.get("urgency") or "routine", "—"))]),
              *fields([("Groups met", _list(payload.get("groups"))),
                       ("Topics raised", _list(payload.get("topics")))]),
              *sections(f"*Summary*\n{_quote(payload.get('summary'))}")]
    if payload.get("outcomes"):
        blocks += sections(f"*Outcomes*\n{_quote(payload['outcomes'])}")
    if payload.get("follow_up_detail"):
        blocks += sections(f"*Follow-up needed*\n{_quote(payload['follow_up_detail'])}")
    published = payload.get("public_outcome")
    if published:
        blocks += sections(f"✅ *{esc(payload.get('public_outcome_line', ''))}*\n"
                           f"{_quote(published)}")
    elif payload.get("public_outcome_line"):
        blocks.append(context(f"↩️ {esc(payload['public_outcome_line'])}"))
    blocks.append(context(f"Feedback #{payload.get('feedback_id', '?')} · engagement "
                          f"#{payload.get('engagement_id', '?')}"))
    if payload.get("outcomes") or published:
        # Reports quote only what the office approves here, never the outcomes as typed.
        label = "Change the published excerpt" if published else "Mark an excerpt publishable"
        value = str(payload.get("feedback_id"))
        blocks.append(actions(f"outcome:{value}", [button(label, OUTCOME_PUBLISH, value)]))
    return message(payload.get("text", ""), blocks)


# ---- alerts: follow-ups -----------------------------------------------------------------

def follow_up_buttons(follow_up_id: Any, status: str) -> dict[str, Any]:
    """Acknowledge (while open), Assign (a user picker) and Done."""
    value = str(follow_up_id)
    elements = []
    if status == "open":
        elements.append(button("Acknowledge", FOLLOW_UP_ACK, value, "primary"))
    elements.append({"type": "users_select", "action_id": FOLLOW_UP_ASSIGN,
                     "placeholder": {"type": "plain_text", "text": "Assign to…"}})
    elements.append(button("Done", FOLLOW_UP_DONE, value))
    # The user picker carries no value of its own: the block id names the follow-up.
    return actions(f"follow_up:{value}", elements)


FOLLOW_UP_STATUS = {"open": "Open", "acknowledged": "👀 Acknowledged", "done": "✅ Done"}


def follow_up_alert(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    """The alert, first posted and after every step: the same detail each time (what,
    where, who reported it, the summary, the due date), its status, and each step taken with
    who acted — a step adds a line and removes nothing. Buttons only while there is
    something left to do."""
    urgency = payload.get("urgency") or "attention"
    needed = payload.get("follow_up_needed") or "office"
    status = payload.get("status") or "open"
    title = payload.get("title") or "Follow-up"
    owner = payload.get("owner")
    blocks = [header(f"{URGENCY.get(urgency, urgency)}: {title}"),
              *fields([("Area", esc(payload.get("area") or "—")),
                       ("Reported by", esc(payload.get("ambassador") or "—")),
                       ("When", _when(payload.get("starts_at"), tz)),
                       ("Needs", FOLLOW_UP_NEEDED.get(needed, esc(needed))),
                       ("Due", _when(payload.get("due_at"), tz)),
                       ("Status", FOLLOW_UP_STATUS.get(status, esc(status))
                        + (f" · {esc(owner)}" if owner else ""))]),
              *sections(f"*What needs following up*\n{_quote(payload.get('follow_up_detail'))}")]
    if payload.get("summary"):
        blocks += sections(f"*Summary*\n{_quote(payload['summary'])}")
    steps = [str(step) for step in payload.get("steps") or []]
    if not steps and payload.get("line"):        # a rewrite queued before steps were kept
        steps = [str(payload["line"])]
    if steps:
        blocks += sections("*What has been done*\n" + "\n".join(f"• {esc(step)}"
                                                                  for step in steps))
    blocks.append(context(f"Follow-up #{payload.get('follow_up_id', '?')}"))
    if status != "done":
        blocks.append(follow_up_buttons(payload.get("follow_up_id"), status))
    return message(payload.get("text", ""), blocks)


# A rewrite is drawn by the same function as the first post, so the two cannot drift apart.
follow_up_updated = follow_up_alert


def follow_up_escalated(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    """The alert sent to someone directly (the Commissioner, the deputy, the next in the
    escalation chain): why it came to them, then the alert itself with its buttons."""
    rendered = follow_up_alert(payload, tz)
    if payload.get("reason"):
        rendered["blocks"][1:1] = sections(f"*{esc(payload['reason'])}*")
    return rendered


def follow_up_assigned(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    return message(payload.get("text", ""),
                   [*sections(f"📌 {esc(payload.get('text', ''))}"),
                    context(f"Follow-up #{payload.get('follow_up_id', '?')} — mark it done "
                            "in the alerts channel.")])


# ---- catch-ups ------------------------------------------------------------------------------

CATCH_UP_FOLLOW_UP = "catch_up_follow_up"


def catch_up_answer(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    """An ambassador's catch-up answer, kept; "Make a follow-up" turns it into one. The
    rewrite after the press (catch_up_follow_up) shows the same answer and the follow-up."""
    area = f" ({esc(payload['area'])})" if payload.get("area") else ""
    blocks = [*sections(f"💬 *Catch-up from {esc(payload.get('ambassador', ''))}{area}*, "
                        f"week {esc(payload.get('week', ''))}\n{_quote(payload.get('answer'))}")]
    value = str(payload.get("catch_up_id", ""))
    if payload.get("line"):
        blocks.append(context(f"📌 {esc(payload['line'])}"))
        if payload.get("follow_up_id") is not None:
            blocks.append(follow_up_buttons(payload["follow_up_id"],
                                            payload.get("status") or "open"))
    elif payload.get("catch_up_id") is not None:
        blocks.append(actions(f"catch_up:{value}",
                              [button("Make a follow-up", CATCH_UP_FOLLOW_UP, value)]))
    return message(payload.get("text", ""), blocks)


catch_up_follow_up = catch_up_answer


# ---- media --------------------------------------------------------------------------------

def _media_file(payload: Payload) -> dict[str, Any] | None:
    path = payload.get("safe_path")
    if not path:
        return None
    name = os.path.basename(str(path)) or f"media-{payload.get('media_id')}.jpg"
    title = f"{payload.get('kind', 'photo')} for {payload.get('title') or 'an engagement'}"
    return {"path": path, "filename": name, "title": title[:250],
            "alt_text": f"{payload.get('kind', 'photo')} from "
                        f"{payload.get('ambassador', '')}"[:1000]}


def media_received(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    """A photo or video for review; approval needs consent, and guardian consent if children
    are in it (the buttons are offered, the operation refuses with the reason)."""
    kind = payload.get("kind") or "photo"
    children, guardian = payload.get("children_present"), payload.get("guardian_consent")
    status = payload.get("review_status") or "pending"
    blocks = [header(f"📷 New {kind} from {payload.get('ambassador', '')}"),
              *fields([("Engagement", esc(payload.get("title"))),
                       ("Consent given", "Yes" if payload.get("consent_given") else "*NO*"),
                       ("Children present", "*Yes*" if children else "No"),
                       ("Guardian consent", ("Recorded" if guardian else "*Not recorded*")
                        if children else "Not needed")])]
    if payload.get("caption"):
        blocks += sections(f"*Caption*\n{_quote(payload['caption'])}")
    if children and not guardian:
        blocks.append(context("⚠️ Children are shown: it can't be approved for use until "
                              "guardian consent is recorded."))
    if status != "pending":
        decided = MEDIA_DECISIONS.get(status, esc(status))
        by = payload.get("reviewed_by")
        blocks += sections(f"{decided}{f' — {esc(by)}' if by else ''}")
    if payload.get("line"):
        blocks.append(context(esc(payload["line"])))
    blocks.append(context(f"{kind.capitalize()} #{payload.get('media_id', '?')}"))
    if status == "pending":
        # The buttons carry the state they were shown in: an action on an older copy of the
        # post is refused by the operation once the state has moved on.
        value = str(payload.get("media_id"))
        if payload.get("state"):
            value = f"{value}:{payload['state']}"
        elements = [button("Approve for use", MEDIA_APPROVE, value, "primary"),
                    button("Don't use", MEDIA_REJECT, value, "danger")]
        if children and not guardian:
            elements.append(button("Record guardian consent", MEDIA_CONSENT, value))
        blocks.append(actions(f"media:{value}", elements))
    rendered = message(payload.get("text", ""), blocks)
    file = _media_file(payload)
    if file:
        rendered["file"] = file
    return rendered


def media_answers_changed(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    """The ambassador sent a photo again with stricter answers: said in the channel, as well
    as on the (rewritten) post."""
    return message(payload.get("text", ""),
                   [*sections(esc(payload.get("text", ""))),
                    context(f"{esc(payload.get('title'))} · "
                            f"{(payload.get('kind') or 'photo').capitalize()} "
                            f"#{payload.get('media_id', '?')}")])


def already_decided(refusal: AlreadyDecided, tz: str = DEFAULT_TZ) -> str:
    """A media button pressed on a post whose state moved on since it was shown."""
    when = f", {format_when(refusal.at, tz)}" if refusal.at is not None else ""
    return f"Already decided by {refusal.by} ({refusal.decision}{when})."


def media_reviewed(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    mark = "✅" if payload.get("review_status") == "approved" else "🚫"
    return message(payload.get("text", ""),
                   [*sections(f"{mark} {esc(payload.get('text', ''))}"),
                    context(f"Media #{payload.get('media_id', '?')} · "
                            f"{esc(payload.get('review_status', ''))}")])


# ---- grants -------------------------------------------------------------------------------

def _grant_body(payload: Payload, title: str) -> list[dict[str, Any]]:
    pairs = [("Amount", _money(payload)), ("Organisation", esc(payload.get("applicant"))),
             ("Area", esc(payload.get("area"))), ("Ambassador", esc(payload.get("ambassador")))]
    if payload.get("fund_remaining_pence") is not None:
        pairs.append(("Fund remaining", _money(payload, "fund_remaining_pence")))
    pairs.append(("Status", GRANT_STATUS_WORDS.get(payload.get("status") or "", "—")))
    blocks = [header(title), *fields(pairs),
              *sections(f"*Project*\n{_quote(payload.get('project'))}"),
              *sections(f"*Plan objectives*\n{_list(payload.get('objectives'))}")]
    if payload.get("info_request"):
        blocks += sections(f"*Information asked for*\n{_quote(payload['info_request'])}")
    if payload.get("deputy_recommendation"):
        blocks += sections(f"*The deputy recommends*\n{_quote(payload['deputy_recommendation'])}")
    if payload.get("decision_reason"):
        blocks += sections(f"*Reason*\n{_quote(payload['decision_reason'])}")
    return blocks


def scrutiny_buttons(grant_id: Any, status: str) -> dict[str, Any] | None:
    """The commissioning team's buttons for a grant in this status (none once referred)."""
    value = str(grant_id)
    elements = []
    if status in ("recommended", "in_review"):
        elements.append(button("Refer to Commissioner", GRANT_REFER, value, "primary",
                               confirm("Refer to the Commissioner?",
                                       "The grant goes to the Commissioner for a decision.",
                                       "Refer")))
        elements.append(button("Ask for information", GRANT_ASK, value))
    if status in ("recommended", "in_review", "info_requested"):
        elements.append(button("Decline", GRANT_DECLINE, value, "danger"))
        elements.append(button("Add recommendation (deputy)", GRANT_DEPUTY, value))
    return actions(f"grant:{value}", elements) if elements else None


def decision_buttons(grant_id: Any, payload: Payload) -> dict[str, Any]:
    value = str(grant_id)
    return actions(f"grant_decision:{value}", [
        button("Approve", GRANT_APPROVE, value, "primary",
               confirm("Approve this grant?",
                       f"{_money(payload)} will be committed from the fund.", "Approve")),
        button("Reject", GRANT_REJECT, value, "danger")])


def grant_recommended(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    blocks = [*_grant_body(payload, f"💷 Grant recommended: {_money(payload)} to "
                                    f"{payload.get('applicant', '')}"),
              context(f"Grant #{payload.get('grant_id', '?')}")]
    buttons = scrutiny_buttons(payload.get("grant_id"), payload.get("status") or "recommended")
    if buttons:
        blocks.append(buttons)
    return message(payload.get("text", ""), blocks)


def grant_updated(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    """The grants channel post rewritten after each step: the latest step and who took it."""
    status = payload.get("status") or ""
    mark = {"approved": "✅", "rejected": "🚫", "referred": "➡️", "withdrawn": "↩️"}.get(
        status, "💷")
    blocks = [*_grant_body(payload, f"{mark} Grant: {_money(payload)} to "
                                    f"{payload.get('applicant', '')}"),
              context(f"Grant #{payload.get('grant_id', '?')} · latest: "
                      f"{esc(payload.get('line', ''))}")]
    buttons = scrutiny_buttons(payload.get("grant_id"), status)
    if buttons:
        blocks.append(buttons)
    return message(payload.get("text", ""), blocks)


def grant_for_decision(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    blocks = [*_grant_body(payload, f"💷 For your decision: {_money(payload)} to "
                                    f"{payload.get('applicant', '')}")]
    if payload.get("note"):
        blocks += sections(f"*Note from {esc(payload.get('by'))}*\n{_quote(payload['note'])}")
    blocks.append(context(f"Grant #{payload.get('grant_id', '?')} · referred by "
                          f"{esc(payload.get('by', ''))}"))
    blocks.append(decision_buttons(payload.get("grant_id"), payload))
    return message(payload.get("text", ""), blocks)


def grant_decided(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    mark = "✅" if payload.get("status") == "approved" else "🚫"
    blocks = [*_grant_body(payload, f"{mark} Decided: {_money(payload)} to "
                                    f"{payload.get('applicant', '')}"),
              context(f"Grant #{payload.get('grant_id', '?')} · {esc(payload.get('line', ''))}")]
    return message(payload.get("text", ""), blocks)


def grant_news(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    return message(payload.get("text", ""), [*sections(f"💷 {esc(payload.get('text', ''))}")])


# ---- expenses, meetings, digest, menu ------------------------------------------------------

def meeting_invitation(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    value = str(payload.get("meeting_id"))
    labels = {"yes": "Yes, I'll come", "no": "Can't make it", "maybe": "Maybe"}
    elements = [button(labels.get(answer, answer.capitalize()), RSVP_PREFIX + answer,
                       f"{value}:{answer}", "primary" if answer == "yes" else None)
                for answer in payload.get("rsvp") or ("yes", "no", "maybe")]
    return message(payload.get("text", ""),
                   [*sections(f"🗓 {esc(payload.get('text', ''))}"),
                    actions(f"meeting:{value}", elements)])


def meeting_rsvp_recorded(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    return message(payload.get("text", ""), [*sections(f"🗓 {esc(payload.get('text', ''))}")])


def weekly_digest(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    """The digest builds its own blocks (scheduler/digest.py); kept within the limits here."""
    blocks = payload.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        blocks = sections(esc(payload.get("text", "")))
    rendered = message(payload.get("text", ""), list(blocks))
    if payload.get("chart_path"):
        rendered["file"] = {"path": payload["chart_path"],
                            "filename": os.path.basename(str(payload["chart_path"])),
                            "title": f"Weekly digest {payload.get('week', '')}".strip(),
                            "alt_text": "Engagements by area this week"}
    return rendered


FORM_BUTTONS = (("📅 Pre-notify", "prenotify"), ("📝 Feedback", "feedback"),
                ("📷 Photos", "photos"), ("💷 Grant", "grant"), ("⏱ Hours", "hours"), ("🧾 Expenses", "expenses"),
                ("🌴 Away", "away"))


def form_buttons(block_id: str = "forms") -> dict[str, Any]:
    """Buttons that open the ambassador's forms as modals (App Home and the DM menu)."""
    return actions(block_id, [button(label, OPEN_FORM_PREFIX + name, name)
                              for label, name in FORM_BUTTONS])


def slack_menu(payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    """The reply to an ambassador's DM: what they can do, with the forms one click away."""
    return message(payload.get("text", ""),
                   [*sections(esc(payload.get("text", ""))), form_buttons("dm_forms"),
                    context(PHOTOS_NOTE)])


SLACK_RENDERERS: dict[str, Renderer] = {
    "engagement_prenotified": engagement_prenotified,
    "engagement_changed": engagement_changed,
    "engagement_cancelled": engagement_cancelled,
    "feedback_filed": feedback_filed,
    "follow_up_alert": follow_up_alert,
    "follow_up_updated": follow_up_updated,
    "follow_up_escalated": follow_up_escalated,
    "catch_up_answer": catch_up_answer,
    "catch_up_follow_up": catch_up_follow_up,
    "follow_up_assigned": follow_up_assigned,
    "media_received": media_received,
    "media_reviewed": media_reviewed,
    "media_answers_changed": media_answers_changed,
    "grant_recommended": grant_recommended,
    "grant_updated": grant_updated,
    "grant_for_decision": grant_for_decision,
    "grant_decided": grant_decided,
    "grant_news": grant_news,
    "expense_claimed": expense_claimed,
    "meeting_invitation": meeting_invitation,
    "meeting_rsvp_recorded": meeting_rsvp_recorded,
    "meeting_post": meeting_post,
    "weekly_digest": weekly_digest,
    "slack_menu": slack_menu,
}


def render(event: str, payload: Payload, tz: str = DEFAULT_TZ) -> Rendered:
    """The Slack message for one outbox row (plain text for events without a renderer)."""
    return SLACK_RENDERERS.get(event, _plain)(payload, tz=tz)


def for_dispatcher(fn: Renderer, tz: str) -> Callable[[Any], Rendered]:
    """A renderer in scheduler/render.py's shape: a function of the outbox row giving the
    keyword arguments of chat.postMessage / chat.update (`text`, `blocks`), plus the `file`
    the dispatcher uploads into the new post's thread (a photo for review)."""

    def renderer(row: Any) -> Rendered:
        return fn(row.payload, tz=tz)

    renderer.__name__ = f"slack_{fn.__name__}"
    return renderer


def register_all(tz: str = DEFAULT_TZ) -> bool:
    """Hand the renderers to scheduler/render.py's registry; False when it isn't there. The
    weekly digest keeps the renderer scheduler/render.py registers for it."""
    try:
        from scheduler import render as registry  # the dispatcher's side, written separately
    except ImportError:
        return False
    for event, fn in SLACK_RENDERERS.items():
        if event != "weekly_digest":
            registry.register(registry.SLACK, event, for_dispatcher(fn, tz))
    return True
