"""The meeting post's modals: Record notes (who came, notes, decisions, a few action rows of
text, owner and due date) and Move (a new date and time)."""

from __future__ import annotations

import json
from typing import Any

from handlers.slack.blocks import context, esc, option, plain
from handlers.slack.modals import modal, text_input
from storage.operations.meeting_notes import ACTION_CHARS
from storage.scheme import Scheme

MEETING_NOTES = "meeting_notes"
MEETING_MOVE = "meeting_move"
ACTION_ROWS = 4
MAX_OPTIONS = 100           # Slack's limit on a select's options


def _people_select(block_id: str, label: str, people: list[tuple[int, str]], *,
                   many: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "multi_static_select" if many else "static_select", "action_id": block_id,
        "placeholder": plain("Choose…", 150),
        "options": [option(name, str(person_id)) for person_id, name in people[:MAX_OPTIONS]]}
    return {"type": "input", "block_id": block_id, "optional": True,
            "label": plain(label, 2000), "element": element}


def _date_input(block_id: str, label: str) -> dict[str, Any]:
    return {"type": "input", "block_id": block_id, "optional": True, "label": plain(label, 2000),
            "element": {"type": "datepicker", "action_id": block_id}}


def notes_view(scheme: Scheme, meeting: dict[str, Any], people: list[tuple[int, str]],
               where: dict[str, Any]) -> dict[str, Any]:
    """`meeting`: its id, title and when; `where`: the post, rewritten on submit."""
    limit = scheme.limits.max_text_chars
    # One character over the limit, so text too long is refused in our words, not cut off.
    blocks = [context(f"*{esc(meeting['title'])}* — {esc(meeting['when'])}"),
              _people_select("attended", "Who came", people, many=True),
              text_input("notes", "Notes", multiline=True, max_length=limit + 1),
              text_input("decisions", "Decisions", multiline=True, max_length=limit + 1,
                         optional=True)]
    for row in range(1, ACTION_ROWS + 1):
        blocks += [text_input(f"action_{row}", f"Action {row}", max_length=ACTION_CHARS + 1,
                              optional=True, placeholder="What is to be done"),
                   _people_select(f"owner_{row}", f"Action {row}: who will do it", people),
                   _date_input(f"due_{row}", f"Action {row}: due by (empty: in "
                               f"{scheme.limits.follow_up_due_days} days)")]
    return modal("Record notes", blocks, callback_id=MEETING_NOTES, submit="Record",
                 close="Cancel",
                 private_metadata=json.dumps({"meeting_id": meeting["id"], **where}))


def move_view(meeting: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    return modal("Move the meeting", [
        context(f"*{esc(meeting['title'])}* — now {esc(meeting['when'])}"),
        text_input("starts_at", "New date and time", max_length=200,
                   placeholder="e.g. 21/04 10:00 or next Tuesday 10am"),
    ], callback_id=MEETING_MOVE, submit="Move", close="Cancel",
        private_metadata=json.dumps({"meeting_id": meeting["id"], **where}))
