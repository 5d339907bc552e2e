"""Block Kit pieces within Slack's limits, and escaping of whatever people typed.

Every string that came from a person (an ambassador's summary, an applicant's name, a reason)
goes through `esc` before it is put in mrkdwn: `&`, `<` and `>` are escaped, so nobody can
write `<!channel>` or a fake link, and a typed @channel/@here/@everyone is broken with a
zero-width space so it never pings anyone.
"""

from __future__ import annotations

import re
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_OPTION = 75
MAX_FALLBACK = 3000
ELLIPSIS = "…"

# Photos and video: the Photos form takes them in Slack too (when this installation has the
# safe-media pipeline), as /photos does on Telegram.
PHOTOS_NOTE = ("Photos and video: press 📷 Photos (or use /photos on Telegram); they are made "
               "safe to publish and attached to the engagement.")
PHOTOS_UNAVAILABLE = ("Photos can't be received in Slack here: please send them from Telegram "
                      "(/photos), where they are made safe to publish and attached to the "
                      "engagement.")

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def esc(value: Any) -> str:
    """Text a person typed, made safe for mrkdwn (and for the notification fallback)."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@\u200b" + m.group(1), text)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def plain(text: str, limit: int = MAX_HEADER) -> dict[str, Any]:
    """A plain_text object (never interpreted, but kept free of broadcast words too)."""
    cleaned = _BROADCAST.sub(lambda m: "@\u200b" + m.group(1), text or "") or " "
    return {"type": "plain_text", "text": cut(cleaned, limit), "emoji": True}


def mrkdwn(text: str, limit: int = MAX_SECTION) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut(text or " ", limit)}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text, MAX_HEADER)}


def sections(text: str) -> list[dict[str, Any]]:
    """One or more section blocks holding `text` (already escaped), split at line breaks so
    each stays within Slack's 3,000 characters."""
    text = text.strip() or " "
    blocks: list[dict[str, Any]] = []
    while text:
        if len(text) <= MAX_SECTION:
            chunk, text = text, ""
        else:
            split = text.rfind("\n", 0, MAX_SECTION)
            if split < MAX_SECTION // 2:
                split = text.rfind(" ", 0, MAX_SECTION)
            if split < MAX_SECTION // 2:
                split = MAX_SECTION
            chunk, text = text[:split], text[split:].lstrip()
            # An escape like "&amp;" must not be cut in half.
            amp = chunk.rfind("&", max(0, len(chunk) - 5))
            if amp != -1 and ";" not in chunk[amp:]:
                chunk, text = chunk[:amp], chunk[amp:] + text
        blocks.append({"type": "section", "text": mrkdwn(chunk)})
    return blocks


def fields(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Label/value pairs as section fields, ten to a block; values already escaped."""
    items = [mrkdwn(f"*{label}*\n{value or '—'}", MAX_FIELD) for label, value in pairs]
    return [{"type": "section", "fields": items[i:i + 10]} for i in range(0, len(items), 10)]


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(text)]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None,
           confirm: dict[str, Any] | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "action_id": action_id,
                               "text": plain(text, MAX_BUTTON), "value": value[:2000]}
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def confirm(title: str, text: str, yes: str, no: str = "Cancel") -> dict[str, Any]:
    return {"title": plain(title, 100), "text": plain(text, 300), "confirm": plain(yes, 30),
            "deny": plain(no, 30)}


def actions(block_id: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id[:255], "elements": elements[:25]}


def option(label: str, value: str) -> dict[str, Any]:
    return {"text": plain(label, MAX_OPTION), "value": value[:150]}


def message(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A message within Slack's limits: at most 50 blocks (the actions, if any, kept last so
    the buttons survive trimming) and a fallback text of at most 3,000 characters."""
    if len(blocks) > MAX_BLOCKS:
        tail = [b for b in blocks[-2:] if b.get("type") == "actions"]
        keep = MAX_BLOCKS - 1 - len(tail)
        blocks = blocks[:keep] + [context("_(shortened — the full record is in the export)_")] \
            + tail
    return {"text": cut(esc(text), MAX_FALLBACK) or " ", "blocks": blocks}
