"""The office's modals: a reason or question for a grant step, an invite, a meeting; and the
small views every modal flow uses (loading, done, a notice)."""

from __future__ import annotations

import json
from typing import Any

from handlers.slack.blocks import context, esc, option, plain, sections
from storage.models import Role
from storage.operations.meetings import WORDS_CHARS
from storage.scheme import Scheme

TITLE_LIMIT = 24

GRANT_REASON = "grant_reason"
INVITE = "invite"
MEETING = "meeting"

# What each grant step's modal asks; `required` False means the text may be left empty.
GRANT_STEPS: dict[str, dict[str, Any]] = {
    "ask": {"title": "Ask for information", "label": "Your question for the ambassador",
            "submit": "Send question", "required": True},
    "decline": {"title": "Decline the grant", "label": "Why is it declined? (the ambassador "
                "is told)", "submit": "Decline", "required": True},
    "deputy": {"title": "Add recommendation", "label": "Your recommendation to the "
               "Commissioner", "submit": "Add", "required": True},
    "reject": {"title": "Reject the grant", "label": "Why is it rejected? (the ambassador is "
               "told)", "submit": "Reject", "required": True},
}


def modal(title: str, blocks: list[dict[str, Any]], *, callback_id: str = "notice",
           submit: str | None = None, close: str = "Close",
           private_metadata: str = "") -> dict[str, Any]:
    view: dict[str, Any] = {"type": "modal", "callback_id": callback_id,
                            "title": plain(title, TITLE_LIMIT), "close": plain(close, 24),
                            "blocks": blocks}
    if submit:
        view["submit"] = plain(submit, 24)
    if private_metadata:
        view["private_metadata"] = private_metadata
    return view


def notice_view(title: str, sentence: str) -> dict[str, Any]:
    """A modal that only says something (a refusal, a confirmation)."""
    return modal(title, sections(esc(sentence)))


def loading_view(title: str) -> dict[str, Any]:
    """Opened at once with the trigger id (it expires in 3 s); filled by views.update."""
    return modal(title, [context("Loading…")])


def text_input(block_id: str, label: str, *, multiline: bool = False, max_length: int = 2000,
               optional: bool = False, placeholder: str | None = None,
               initial: str | None = None, hint: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": block_id,
                               "multiline": multiline, "max_length": min(max_length, 3000)}
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    if initial:
        element["initial_value"] = initial[:max_length]
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "optional": optional,
                             "label": plain(label, 2000), "element": element}
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def select_input(block_id: str, label: str, options: list[tuple[str, str]], *,
                 optional: bool = False, radio: bool = False) -> dict[str, Any]:
    element = {"type": "radio_buttons" if radio else "static_select", "action_id": block_id,
               "options": [option(text, value) for text, value in options]}
    if not radio:
        element["placeholder"] = plain("Choose…", 150)
    return {"type": "input", "block_id": block_id, "optional": optional,
            "label": plain(label, 2000), "element": element}


def grant_reason_view(step: str, grant_id: int, summary: str,
                      where: dict[str, Any]) -> dict[str, Any]:
    """The reason (or question) for a grant step; `where` is the clicked message, so the
    submission can rewrite it at once."""
    meta = {"step": step, "grant_id": grant_id, **where}
    return reason_modal(GRANT_STEPS[step], summary, GRANT_REASON, meta)


# A text box takes one character more than the rule behind it allows: Slack's client cuts a
# paste at max_length without a word, so at the limit itself a too-long reason would be cut
# short silently; one over, it reaches the operation, which says the limit in a sentence.
REASON_LIMIT = 2000
NAME_LIMIT = 120


def reason_modal(spec: dict[str, Any], summary: str, callback_id: str,
                 meta: dict[str, Any]) -> dict[str, Any]:
    """A button's decision that needs a reason: what was clicked on, then the reason box
    (`spec`: its title, label and submit words); `meta` comes back with the submission."""
    return modal(spec["title"], [*sections(esc(summary)),
                                 text_input("reason", spec["label"], multiline=True,
                                            max_length=REASON_LIMIT + 1)],
                 callback_id=callback_id, submit=spec["submit"], close="Cancel",
                 private_metadata=json.dumps(meta))


INVITABLE = ((Role.AMBASSADOR, "Ambassador"), (Role.OFFICER, "Engagement officer"),
             (Role.COMMISSIONING, "Commissioning team"), (Role.COMMISSIONER, "Commissioner"),
             (Role.DEPUTY, "Deputy (DPCC)"))


def invite_view(scheme: Scheme) -> dict[str, Any]:
    return modal("Invite someone", [
        text_input("name", "Their name", max_length=NAME_LIMIT + 1),
        select_input("role", "Role", [(label, role.value) for role, label in INVITABLE]),
        select_input("area", "Area (needed for an ambassador)",
                     [(area, area) for area in scheme.areas], optional=True),
    ], callback_id=INVITE, submit="Create invite", close="Cancel")


def invite_done_view(name: str, code: str, link: str, days: int) -> dict[str, Any]:
    return modal("Invite created", [
        *sections(f"Invite for *{esc(name)}* — single use, valid for {days} days.\n\n"
                  f"*Telegram:* send them this link: {esc(link)}\n"
                  f"*Slack:* they type `/ambassadors join {esc(code)}`"),
        context("Anyone with the link can use it once, so send it to them directly."),
    ], close="Done")


MEETING_KINDS = (("Quarterly meeting", "quarterly"), ("Weekly catch-up", "catch_up"))
MEETING_LENGTHS = (("30 minutes", "30"), ("1 hour", "60"), ("1½ hours", "90"),
                   ("2 hours", "120"), ("3 hours", "180"))


def meeting_view(scheme: Scheme) -> dict[str, Any]:
    return modal("Schedule a meeting", [
        select_input("kind", "Kind", list(MEETING_KINDS), radio=True),
        text_input("title", "Title", max_length=WORDS_CHARS + 1,
                   placeholder="e.g. Quarterly ambassadors' meeting"),
        text_input("place", "Where", max_length=WORDS_CHARS + 1,
                   placeholder=f"e.g. {scheme.words.meeting_venue}, or online"),
        text_input("starts_at", "When", max_length=200,
                   placeholder="e.g. 14/03 19:00 or next Tuesday 10am"),
        select_input("length", "How long", list(MEETING_LENGTHS)),
    ], callback_id=MEETING, submit="Schedule", close="Cancel")
