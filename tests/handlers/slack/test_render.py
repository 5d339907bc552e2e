"""The Slack renderers: every outbox event within Slack's limits, whatever people typed, with
the right buttons — and none left once something is decided."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.emulators.slack import SlackEmulator, block_problems
from handlers.slack.blocks import esc
from handlers.slack.render import SLACK_RENDERERS, render

HOSTILE = "<!channel> @here @everyone <https://evil.example|click> & *bold* " + "x" * 10_000
SHORT_HOSTILE = "<!here> Ludlow & District <@U123> @channel"


def payloads() -> dict[str, dict[str, Any]]:
    """A payload for each event, as the operations write them, stuffed with hostile text."""
    grant = {"grant_id": 7, "status": "recommended", "amount_pence": 100_000,
             "amount": "£1,000", "applicant": SHORT_HOSTILE, "project": HOSTILE,
             "area": "Shropshire", "ambassador": SHORT_HOSTILE,
             "objectives": [SHORT_HOSTILE] * 30, "deputy_recommendation": HOSTILE,
             "info_request": HOSTILE, "decision_reason": HOSTILE,
             "fund_remaining_pence": 3_900_000, "fund_remaining": "£39,000"}
    feedback = {"feedback_id": 3, "engagement_id": 2, "area": "Shropshire",
                "ambassador": SHORT_HOSTILE, "title": HOSTILE,
                "starts_at": "2026-11-23T18:00:00+00:00", "attendees": 40,
                "groups": [SHORT_HOSTILE] * 20, "topics": [HOSTILE] * 3, "summary": HOSTILE,
                "outcomes": HOSTILE, "follow_up_needed": "police_or_partner",
                "follow_up_detail": HOSTILE, "urgency": "urgent"}
    return {
        "engagement_prenotified": {"engagement_id": 2, "area": "Shropshire",
                                   "ambassador": SHORT_HOSTILE, "title": HOSTILE,
                                   "kind": "Other", "place": HOSTILE,
                                   "starts_at": "2026-11-26T19:00:00+00:00",
                                   "ends_at": "2026-11-26T21:00:00+00:00",
                                   "expected_audience": 30},
        "engagement_changed": {"engagement_id": 2, "changes": ["starts_at", "place"]},
        "engagement_cancelled": {"engagement_id": 2},
        "feedback_filed": feedback,
        "follow_up_alert": {**feedback, "follow_up_id": 9, "status": "open",
                            "due_at": "2026-11-25T12:00:00+00:00"},
        "follow_up_updated": {"follow_up_id": 9, "status": "acknowledged", "owner_id": 4,
                              "by": SHORT_HOSTILE, "line": HOSTILE},
        "follow_up_assigned": {"follow_up_id": 9},
        "media_received": {"media_id": 5, "engagement_id": 2, "kind": "photo",
                           "safe_path": "/srv/media/5.jpg", "thumb_path": None,
                           "consent_given": True, "children_present": True,
                           "guardian_consent": False, "ambassador": SHORT_HOSTILE,
                           "title": HOSTILE, "caption": HOSTILE, "review_status": "pending"},
        "media_reviewed": {"media_id": 5, "review_status": "approved", "by": "Olive",
                           "line": HOSTILE},
        "grant_recommended": grant,
        "grant_updated": {**grant, "status": "in_review", "by": "Colin", "line": HOSTILE},
        "grant_for_decision": {**grant, "status": "referred", "note": HOSTILE, "by": "Colin"},
        "grant_decided": {**grant, "status": "approved", "by": "John", "line": HOSTILE},
        "grant_news": {**grant, "by": "John", "line": HOSTILE},
        "expense_claimed": {"expense_id": 1, "amount_pence": 1250},
        "meeting_invitation": {"meeting_id": 4, "rsvp": ["yes", "no", "maybe"]},
        "meeting_rsvp_recorded": {"meeting_id": 4},
        "weekly_digest": {"week": "2026-W48", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "line"}}] * 80},
        "slack_menu": {},
        "something_new": {},
    }


def mrkdwn_texts(value: Any) -> list[str]:
    """Every mrkdwn string in a block structure (plain_text is never parsed by Slack)."""
    if isinstance(value, dict):
        own = [value["text"]] if value.get("type") == "mrkdwn" else []
        return own + [t for v in value.values() for t in mrkdwn_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in mrkdwn_texts(v)]
    return []


@pytest.mark.parametrize("event", sorted(payloads()))
def test_every_event_renders_within_slacks_limits_and_escapes(event: str) -> None:
    payload = {"text": HOSTILE, **payloads()[event]}
    rendered = render(event, payload)
    blocks = rendered["blocks"]
    assert block_problems(blocks, limit=50) == [], event
    assert 0 < len(rendered["text"]) <= 3000
    for text in [rendered["text"], *mrkdwn_texts(blocks)]:
        assert "<!" not in text and "<@" not in text and "<http" not in text, (event, text[:80])
        for word in ("@here", "@channel", "@everyone"):
            assert word not in text, (event, word)
    json.dumps(rendered)  # the dispatcher stores and sends it as JSON


def test_buttons_follow_the_record_and_none_remain_once_decided() -> None:
    def buttons(event: str, **extra: Any) -> list[str]:
        rendered = render(event, {**payloads()[event], "text": "t", **extra})
        return [b.text for b in SlackEmulator.buttons(_Message(rendered["blocks"]))]

    assert buttons("grant_recommended") == ["Refer to Commissioner", "Ask for information",
                                            "Decline", "Add recommendation (deputy)"]
    assert buttons("grant_updated", status="info_requested") == [
        "Decline", "Add recommendation (deputy)"]
    for status in ("referred", "approved", "rejected", "withdrawn"):
        assert buttons("grant_updated", status=status) == []
    assert buttons("grant_for_decision") == ["Approve", "Reject"]
    assert buttons("grant_decided") == []
    assert buttons("follow_up_alert") == ["Acknowledge", "Done"]
    assert buttons("follow_up_updated", status="acknowledged") == ["Done"]
    assert buttons("follow_up_updated", status="done") == []
    assert buttons("media_received") == ["Approve for use", "Don't use",
                                         "Record guardian consent"]
    assert buttons("media_received", guardian_consent=True) == ["Approve for use", "Don't use"]
    assert buttons("media_received", review_status="approved") == []
    assert buttons("media_reviewed") == []
    assert buttons("meeting_invitation") == ["Yes, I'll come", "Can't make it", "Maybe"]
    alert = render("follow_up_alert", {**payloads()["follow_up_alert"], "text": "t"})
    picker = [e for b in alert["blocks"] if b["type"] == "actions" for e in b["elements"]
              if e["type"] == "users_select"]
    assert picker and alert["blocks"][-1]["block_id"] == "follow_up:9"


def test_files_and_long_digests() -> None:
    media = render("media_received", {**payloads()["media_received"], "text": "t"})
    assert media["file"]["path"] == "/srv/media/5.jpg" and media["file"]["filename"] == "5.jpg"
    digest = render("weekly_digest", {**payloads()["weekly_digest"], "text": "t",
                                      "chart_path": "/tmp/digest-2026-W48.png"})
    assert len(digest["blocks"]) == 50 and digest["file"]["filename"] == "digest-2026-W48.png"
    assert set(SLACK_RENDERERS) >= {"grant_recommended", "follow_up_alert", "media_received"}


def test_escape() -> None:
    assert esc("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert esc("hi @here") == "hi @\u200bhere" and esc(None) == ""


class _Message:
    def __init__(self, blocks: list[dict[str, Any]]) -> None:
        self.blocks = blocks
