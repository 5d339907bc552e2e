"""The door of POST /slack/events: who may come in, and in what shape.

A request is verified with the signing secret (slack_sdk's `SignatureVerifier`) before anything
reads its body; whatever makes the check fail or even raise (a timestamp like "abc" or
"1733333333.5", a signature that is not ASCII, a body that is not UTF-8, no secret set) means
"not verified". Only then is the body looked at, and it must be one of the shapes Slack sends.
Both answers are fixed sentences for the log and the audit line: never the body, which holds
what people wrote, and never a header's value, which the caller chose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

# Slack's timestamps are whole seconds; anything else is refused before the verifier sees it.
TIMESTAMP = re.compile(r"[0-9]{1,12}")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def verifier_for(signing_secret: str) -> SignatureVerifier | None:
    """None when no secret is set: then nothing can be verified and every request is refused
    (an empty secret would make any signature easy to forge)."""
    try:
        return SignatureVerifier(signing_secret)
    except ValueError:
        return None


def unverified(verifier: SignatureVerifier | None, body: bytes,
               headers: Mapping[str, str]) -> str | None:
    """Why the request is not verified, or None when its signature and timestamp check out."""
    if verifier is None:
        return "no signing secret is set"
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if not timestamp or not signature:
        return "signature or timestamp missing"
    if not TIMESTAMP.fullmatch(timestamp):
        return "timestamp is not a whole number of seconds"
    try:
        if verifier.is_valid(body, timestamp, signature):
            return None
        stale = abs(verifier.clock.now() - int(timestamp)) > 60 * 5
    except Exception:  # noqa: BLE001 — whatever the verifier choked on, it did not verify
        return "signature could not be checked"
    return "timestamp more than five minutes off" if stale else "signature does not match"


def malformed(body: bytes, content_type: str) -> str | None:
    """Why a verified body is not one Slack sends, or None: a JSON event, a form with an
    interaction's `payload` (a JSON object), a slash command, or Slack's SSL check."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if content_type == JSON:
        return _not_an_object(text, "JSON body")
    if content_type != FORM:
        return "content type is neither a form nor JSON"
    if text.startswith("{"):
        return "form body is JSON"
    fields = parse_qs(text, keep_blank_values=True)
    if "payload" in fields:
        if len(fields["payload"]) != 1:
            return "more than one payload"
        return _not_an_object(fields["payload"][0], "payload")
    if "command" in fields or "ssl_check" in fields:
        return None
    return "form is neither an interaction, a command nor an SSL check"


def _not_an_object(text: str, what: str) -> str | None:
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return f"{what} is not JSON"
    if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
        return f"{what} is not a Slack object"
    return None
