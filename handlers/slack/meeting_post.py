"""The office's post of a meeting, as Block Kit: what, when (already in the scheme's zone),
where, who replied by name (can't come with its note), and once recorded who came, the notes,
decisions and actions, each open action with its Done button. Drawn whole from the payload
storage.operations.meetings.write_post builds, so every rewrite shows everything."""

from __future__ import annotations

from typing import Any

from handlers.slack.blocks import actions, button, context, esc, fields, header, message, sections

MEETING_NOTES_OPEN = "meeting_notes_open"
MEETING_MOVE_OPEN = "meeting_move_open"
MEETING_ACTION_DONE = "meeting_action_done"
ANSWERS = (("yes", "Coming"), ("maybe", "Maybe"), ("no", "Can't come"))


def _quote(text: Any) -> str:
    body = esc(text).strip()
    return "\n".join("> " + line for line in body.splitlines()) if body else "—"


def replies_text(replies: list[dict[str, Any]]) -> str:
    """"*Coming* (2): Ann Shaw, Raj Patel" and so on, one line per answer."""
    lines = []
    for answer, label in ANSWERS:
        names = [esc(r.get("name")) + (f" — “{esc(r['note'])}”" if r.get("note") else "")
                 for r in replies if r.get("answer") == answer]
        lines.append(f"*{label}* ({len(names)}): {', '.join(names) or '—'}")
    return "\n".join(lines)


def meeting_post(payload: dict[str, Any], tz: str = "Europe/London") -> dict[str, Any]:
    meeting_id = str(payload.get("meeting_id", ""))
    cancelled = bool(payload.get("cancelled"))
    title = f"{'Cancelled: ' if cancelled else ''}{payload.get('title', 'Meeting')}"
    blocks: list[dict[str, Any]] = [
        header(f"🗓 {title}"),
        *fields([("When", esc(payload.get("when"))), ("Where", esc(payload.get("place")))])]
    if payload.get("date_note"):
        blocks.append(context(esc(payload["date_note"])))
    blocks += sections(replies_text(payload.get("replies") or []))
    if payload.get("notes_recorded"):
        blocks += sections("*Came:* " + (", ".join(esc(n) for n in payload.get("attended") or [])
                                         or "nobody recorded"))
        blocks += sections("*Notes*\n" + _quote(payload.get("notes")))
        if payload.get("decisions"):
            blocks += sections("*Decided*\n" + _quote(payload.get("decisions")))
        for action in payload.get("actions") or []:
            line = (f"{'✅ ~' if action.get('done') else '• '}{esc(action.get('text'))}"
                    f"{'~' if action.get('done') else ''} — {esc(action.get('owner'))}, due "
                    f"{esc(action.get('due'))}")
            block = sections(line)[0]
            if not action.get("done"):
                block["accessory"] = button("Done", MEETING_ACTION_DONE,
                                            f"{action.get('follow_up_id')}:{meeting_id}")
            blocks.append(block)
    elif not cancelled:
        blocks.append(actions(f"meeting_post:{meeting_id}", [
            button("Record notes", MEETING_NOTES_OPEN, meeting_id, "primary"),
            button("Move", MEETING_MOVE_OPEN, meeting_id)]))
    return message(payload.get("text", ""), blocks)
