"""The door of POST /slack/events (issue 16, cases 1 and 2), on the real aiohttp server with
the real Bolt app behind it.

1. Whatever makes a request unverified — a timestamp of "abc" or "1733333333.5", none, a huge
   or foreign number, a signature that is wrong, missing or made with another secret, a time
   more than five minutes off — it gets 401, an audit line, and not one outgoing call: nothing
   reaches the Slack emulator and nothing reaches the response_url the body names (a listener
   of our own on loopback). Hypothesis throws the headers.
2. A request Slack signed whose body Slack would never send gets 400, one log line without the
   body, and changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from storage.models import AuditEvent, Outbox, ProcessedUpdate, Role
from storage.operations.access import SLACK_UNSIGNED
from tests.handlers.slack.harness import Office

OLIVE = "U0OLIVEOFF"
WRONG_SECRET = "not-the-signing-secret"


class Listener:
    """A loopback server that notes every request it gets: where a response_url points."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.url = ""

    async def note(self, request: web.Request) -> web.Response:
        self.hits.append(f"{request.method} {request.path}")
        return web.json_response({"ok": True})


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    heard = Listener()
    server = web.Application()
    server.router.add_route("*", "/{tail:.*}", heard.note)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    heard.url = f"http://{host}:{port}"
    try:
        yield heard
    finally:
        await runner.cleanup()


def bodies(response_url: str) -> dict[str, tuple[str, str]]:
    """What an attacker would send: each names a response_url of ours and an office user."""
    click = {"type": "block_actions", "user": {"id": OLIVE}, "team": {"id": "T0"},
             "trigger_id": "1.2.abc", "response_url": f"{response_url}/click",
             "channel": {"id": "C0ALERTS"}, "container": {"type": "message"},
             "actions": [{"action_id": "follow_up_ack", "block_id": "b", "value": "1",
                          "action_ts": "1.0", "type": "button"}]}
    command = {"command": "/ambassadors", "text": "stats", "user_id": OLIVE, "team_id": "T0",
               "channel_id": "C0ALERTS", "trigger_id": "1.3.abc",
               "response_url": f"{response_url}/command"}
    event = {"type": "event_callback", "team_id": "T0", "event_id": "Ev1",
             "event": {"type": "app_home_opened", "user": OLIVE, "tab": "home"}}
    form = "application/x-www-form-urlencoded"
    return {"click": (urlencode({"payload": json.dumps(click)}), form),
            "command": (urlencode(command), form),
            "event": (json.dumps(event), "application/json"),
            "broken": ("payload=%7Bnot-json", form),
            "empty": ("", form)}


HEADER_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=40)
TIMESTAMPS = st.one_of(
    st.none(),   # no header at all
    st.sampled_from(["abc", "1733333333.5", "", " ", "-1", "0", "9" * 40, "1e9", "NaN",
                     "1_796_000_000", "０１２３", "\u0661\u0662\u0663", "𝟏𝟐𝟑", "+1733333333",
                     "now", "now.5", "now-400", "now+400", "now ", "0x6a0b0c00"]),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    HEADER_TEXT,
)
SIGNATURES = st.one_of(
    st.none(),
    st.sampled_from(["correct", "other secret", "", "v0=", "v0=" + "0" * 64, "v1=abc",
                     "v0=é" * 10, "correct+space"]),
    HEADER_TEXT,
)


def header_value(drawn: str, now: int) -> str:
    if drawn.startswith("now"):
        rest = drawn[3:]
        if rest[:1] in "+-" and rest[1:].isdigit():
            return str(now + int(rest))
        return f"{now}{rest}"
    return drawn


def fresh(timestamp: str | None, now: int) -> bool:
    """Would this timestamp pass the five-minute rule if its signature were right?"""
    if timestamp is None or not timestamp.isascii() or not timestamp.strip().isdigit():
        return False
    return abs(int(timestamp) - now) <= 300


def headers_for(body: str, timestamp: str | None, signature: str | None,
                office: Office) -> dict[str, str]:
    headers = {}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if signature in ("correct", "correct+space", "other secret"):
        ts = timestamp or ""
        signed = office.emu.sign(body, ts)
        if signature == "other secret":
            office.emu.signing_secret, secret = WRONG_SECRET, office.emu.signing_secret
            signed = office.emu.sign(body, ts)
            office.emu.signing_secret = secret
        signature = signed + (" " if signature == "correct+space" else "")
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    return headers


async def test_every_unverified_request_is_refused_audited_and_calls_nobody(
        office: Office, listener: Listener) -> None:
    emu = office.emu
    kinds = bodies(listener.url)
    now = int(time.time())
    examples: list[tuple[str, str | None, str | None]] = []

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(kind=st.sampled_from(sorted(kinds)), timestamp=TIMESTAMPS, signature=SIGNATURES)
    def draw(kind: str, timestamp: str | None, signature: str | None) -> None:
        timestamp = None if timestamp is None else header_value(timestamp, now)
        # A right signature on a fresh whole-second timestamp is a verified request: not this.
        # (HTTP drops a header's trailing space, so "correct+space" would be right too.)
        assume(not (signature in ("correct", "correct+space") and fresh(timestamp, now)))
        examples.append((kind, timestamp, signature))

    draw()
    # The cases of the issue, whatever Hypothesis drew.
    examples += [("click", "abc", "correct"), ("click", "1733333333.5", "correct"),
                 ("command", "abc", "v0=" + "0" * 64), ("click", str(now), "other secret"),
                 ("click", str(now - 600), "correct"), ("broken", None, None)]
    calls_before = len(emu.calls)
    async with aiohttp.ClientSession() as http:
        for kind, timestamp, signature in examples:
            body, content_type = kinds[kind]
            headers = headers_for(body, timestamp, signature, office)
            refused_before = len(await office.refusals(SLACK_UNSIGNED))
            async with http.post(emu.app_url, data=body.encode(),
                                 headers={"Content-Type": content_type, **headers}) as answer:
                status = answer.status
            assert status == 401, (kind, timestamp, signature, status)
            knocks = (await office.refusals(SLACK_UNSIGNED))[refused_before:]
            assert len(knocks) == 1, (kind, timestamp, signature)
            # Nothing from the body is used, not even to say who knocked.
            assert OLIVE not in f"{knocks[0].actor_label} {knocks[0].reason}"
            assert knocks[0].actor_id is None
    assert emu.calls[calls_before:] == []
    assert listener.hits == []
    assert await office.rows(Outbox) == []
    assert await office.rows(ProcessedUpdate) == []
    assert emu.ephemerals(office.uid(Role.OFFICER)) == []


SIGNED_BUT_MALFORMED = [
    ("payload=%7Bnot-json", "application/x-www-form-urlencoded"),
    ("{not json", "application/json"),
    ('payload={"type": "block_actions"}', "text/plain"),
    ('{"type": "event_callback"}', "text/plain"),
    ("command=%2Fambassadors&text=stats", "multipart/form-data"),
    ('{"type": "event_callback", "event_id": "Ev9"}', "application/x-www-form-urlencoded"),
    ("[1, 2, 3]", "application/json"),
    ('"just a string"', "application/json"),
    ('{"no_type": true}', "application/json"),
    ("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
    ("payload=%7B%7D&payload=%7B%7D", "application/x-www-form-urlencoded"),
    ("text=hello&user_id=U0OLIVEOFF", "application/x-www-form-urlencoded"),
    ("", "application/x-www-form-urlencoded"),
    ("", "application/json"),
]


@pytest.mark.parametrize("body,content_type", SIGNED_BUT_MALFORMED)
async def test_a_signed_body_slack_would_not_send_is_refused_with_400_and_changes_nothing(
        office: Office, caplog: pytest.LogCaptureFixture, body: str, content_type: str) -> None:
    emu = office.emu
    audit_before = await office.rows(AuditEvent)
    calls_before = len(emu.calls)
    timestamp = str(int(time.time()))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        async with aiohttp.ClientSession() as http:
            async with http.post(emu.app_url, data=body.encode(), headers={
                    "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
                    "X-Slack-Signature": emu.sign(body, timestamp)}) as answer:
                status = answer.status
    assert status == 400
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1, [r.getMessage() for r in said]
    line = said[0].getMessage()
    assert said[0].exc_info is None and "Traceback" not in caplog.text
    if len(body) > 3:
        assert body not in caplog.text and body[:12] not in line
    assert [a.id for a in await office.rows(AuditEvent)] == [a.id for a in audit_before]
    assert await office.rows(Outbox) == [] and await office.rows(ProcessedUpdate) == []
    assert emu.calls[calls_before:] == []


async def test_a_verified_request_still_comes_in(office: Office) -> None:
    """The door lets Slack in: a signed command is answered."""
    olive = office.uid(Role.OFFICER)
    answer = await office.emu.slash_command(olive, "/ambassadors", "help")
    assert answer.status == 200
    await office.ephemeral(olive, "/ambassadors")
