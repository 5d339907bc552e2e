"""How an outbox row looks on Telegram or Slack: a small registry of renderers.

The dispatcher asks `render(row)` for the message of each row it sends. A renderer is a plain
function of the row (transport, destination, event, payload) returning the keyword arguments
of the send call:

* Telegram: those of `Bot.send_message` — `text`, and e.g. `reply_markup` (an
  `InlineKeyboardMarkup`), `parse_mode`. The same arguments are used for `edit_message_text`
  when the row rewrites an earlier message (`replaces_ref`).
* Slack: those of `chat.postMessage` / `chat.update` — `text` (the notification fallback) and
  `blocks` — plus, optionally, `file`: `{"path", "filename", "title", "alt_text"}`, uploaded
  into the new message's thread (not on a rewrite).

Register richer renderers per event from the transport's package, once at start-up::

    from scheduler import render

    def grant_card(row: render.Row) -> dict[str, Any]:
        return {"text": row.payload["text"], "blocks": grant_blocks(row.payload)}

    render.register("slack", "grant_recommended", grant_card)

Without one, an event is sent as its plain `payload["text"]`: on Telegram with no parse mode,
so nothing the public typed can break the formatting; on Slack as text plus section blocks with
`&`, `<` and `>` escaped, so a typed `<!channel>` is shown, not obeyed. A renderer that raises
fails that row with the reason (it is a bug to fix, and retrying would not help).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

TELEGRAM = "telegram"
SLACK = "slack"
EMAIL = "email"

TELEGRAM_MAX_TEXT = 4096      # UTF-16 code units, as Telegram counts
SLACK_MAX_SECTION = 3000
SLACK_MAX_BLOCKS = 50
SLACK_MAX_TEXT = 40_000
CUT = "\n…(shortened)"


class Row(Protocol):
    transport: str
    destination: str
    event: str
    payload: dict[str, Any]


Renderer = Callable[[Row], dict[str, Any]]
_renderers: dict[tuple[str, str], Renderer] = {}


def register(transport: str, event: str, renderer: Renderer) -> None:
    """Use `renderer` for `event` rows sent over `transport` (replacing any earlier one)."""
    _renderers[(transport, event)] = renderer


def unregister(transport: str, event: str) -> None:
    _renderers.pop((transport, event), None)


def render(row: Row) -> dict[str, Any]:
    """The send call's keyword arguments for this row."""
    renderer = _renderers.get((row.transport, row.event))
    if renderer is not None:
        return renderer(row)
    if row.transport == TELEGRAM:
        return telegram_text(row)
    if row.transport == SLACK:
        return slack_text(row)
    if row.transport == EMAIL:
        return email_parts(row)
    raise ValueError(f"no renderer for transport {row.transport!r}")


# ---- the defaults --------------------------------------------------------------------------


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit_telegram(text: str, limit: int = TELEGRAM_MAX_TEXT) -> str:
    """`text` cut to Telegram's limit (in UTF-16 units), saying so when it had to be cut."""
    if _utf16_len(text) <= limit:
        return text
    budget = limit - _utf16_len(CUT)
    cut = text[:budget]
    while _utf16_len(cut) > budget:
        cut = cut[:-1]
    return cut + CUT


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters; everything else shows as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text_sections(text: str) -> list[dict[str, Any]]:
    """Section blocks holding `text` (escaped), split between lines within Slack's limits."""
    escaped = mrkdwn_escape(text) or " "
    pieces: list[str] = []
    current = ""
    for line in escaped.split("\n"):
        while len(line) > SLACK_MAX_SECTION:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:SLACK_MAX_SECTION])
            line = line[SLACK_MAX_SECTION:]
        if current and len(current) + 1 + len(line) > SLACK_MAX_SECTION:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        pieces.append(current)
    pieces = pieces[:SLACK_MAX_BLOCKS]
    return [{"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in pieces]


def telegram_text(row: Row) -> dict[str, Any]:
    return {"text": fit_telegram(str(row.payload.get("text") or "(empty message)"))}


def slack_text(row: Row) -> dict[str, Any]:
    text = str(row.payload.get("text") or "(empty message)")[:SLACK_MAX_TEXT]
    # The fallback is mrkdwn too (it is what notifications show): escaped like the blocks.
    return {"text": mrkdwn_escape(text), "blocks": text_sections(text)}


def slack_digest(row: Row) -> dict[str, Any]:
    """The weekly digest carries its own Block Kit (scheduler/digest.py), and its chart goes
    into the post's thread."""
    blocks = row.payload.get("blocks")
    message = ({"text": mrkdwn_escape(str(row.payload["text"])[:SLACK_MAX_TEXT]), "blocks": blocks}
               if blocks else slack_text(row))
    chart = row.payload.get("chart_path")
    if chart:
        message["file"] = {"path": chart, "title": f"Weekly digest {row.payload.get('week', '')}"
                           .strip(), "alt_text": "Engagements and people reached by area, "
                           "this week and the week before"}
    return message


register(SLACK, "weekly_digest", slack_digest)


def slack_report(row: Row) -> dict[str, Any]:
    """A report someone asked for: a line naming it, the PDF in its thread."""
    message = slack_text(row)
    upload = row.payload.get("file") or {}
    if upload.get("path"):
        message["file"] = {"path": upload["path"], "filename": upload.get("filename"),
                           "title": str(row.payload.get("text") or "Report")[:200]}
    return message


register(SLACK, "report", slack_report)


def email_parts(row: Row) -> dict[str, Any]:
    """An e-mail: subject, plain text, optional HTML, attachments by path (the sender builds
    the MIME message; scheduler/mail.py)."""
    payload = row.payload
    text = str(payload.get("text") or "(empty message)")
    return {"to": str(payload.get("to") or row.destination),
            "subject": str(payload.get("subject") or text.splitlines()[0])[:200], "text": text,
            "html": payload.get("html"), "attachments": list(payload.get("attachments") or [])}


# ---- Telegram: meetings with RSVP buttons -------------------------------------------------

# The callback data of an RSVP button: handlers/telegram/router.py reads `r|<meeting>|<answer>`
# and records the answer with storage.operations.meetings.do_rsvp.
RSVP_LABELS = {"yes": "✅ Yes, I'll come", "maybe": "🤔 Maybe", "no": "❌ Can't make it"}


def rsvp_callback(meeting_id: Any, answer: str) -> str:
    return f"r|{int(meeting_id)}|{answer}"


def telegram_rsvp(row: Row) -> dict[str, Any]:
    """A meeting invitation or reminder: the text, and one button per RSVP answer (the one
    already given marked), so a tap records the answer."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    message = telegram_text(row)
    meeting_id = row.payload.get("meeting_id")
    answers = [a for a in row.payload.get("rsvp") or ("yes", "maybe", "no") if a in RSVP_LABELS]
    if meeting_id is None or not str(meeting_id).isdigit() or not answers:
        return message
    given = row.payload.get("answer")
    buttons = [InlineKeyboardButton(("• " if answer == given else "") + RSVP_LABELS[answer],
                                    callback_data=rsvp_callback(meeting_id, answer))
               for answer in sorted(answers, key=list(RSVP_LABELS).index)]
    message["reply_markup"] = InlineKeyboardMarkup([buttons])
    return message


# Slack: the same buttons as the office's meeting invitation (handlers/slack/render.py), whose
# listener (`meeting_rsvp_<answer>`, value `<meeting>:<answer>`) records the answer.
SLACK_RSVP_ACTION = "meeting_rsvp_"


def slack_rsvp(row: Row) -> dict[str, Any]:
    message = slack_text(row)
    meeting_id = row.payload.get("meeting_id")
    answers = [a for a in row.payload.get("rsvp") or ("yes", "maybe", "no") if a in RSVP_LABELS]
    if meeting_id is None or not str(meeting_id).isdigit() or not answers:
        return message
    given = row.payload.get("answer")
    elements = []
    for answer in sorted(answers, key=list(RSVP_LABELS).index):
        button: dict[str, Any] = {
            "type": "button", "action_id": SLACK_RSVP_ACTION + answer,
            "value": f"{int(meeting_id)}:{answer}",
            "text": {"type": "plain_text", "emoji": True,
                     "text": ("• " if answer == given else "") + RSVP_LABELS[answer]}}
        if answer == "yes":
            button["style"] = "primary"
        elements.append(button)
    message["blocks"] = [*message["blocks"][:SLACK_MAX_BLOCKS - 1],
                         {"type": "actions", "block_id": f"meeting:{int(meeting_id)}",
                          "elements": elements}]
    return message


for _event in ("meeting_invitation", "meeting_reminder"):
    register(TELEGRAM, _event, telegram_rsvp)
register(SLACK, "meeting_reminder", slack_rsvp)
