"""The sandbox without a browser: it starts, seeds the demo scheme through the operations,
serves the page and its live updates, and shuts down cleanly — in-process and as
`python -m bot sandbox`."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bot.sandbox import Sandbox, SandboxConfig
from bot.sandbox.seed import AMBASSADORS, OFFICE
from storage.models import (AuditEvent, Engagement, Feedback, FollowUp, GrantRecommendation,
                            HoursEntry, Meeting, Outbox, Person)
from tests.e2e.processes import ROOT, start_sandbox

ANN = AMBASSADORS[0].telegram_id


async def count(sandbox: Sandbox, model: type, *where: object) -> int:
    async with sandbox.db.transaction() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def next_event(stream: aiohttp.ClientResponse, source: str) -> dict:
    async with asyncio.timeout(10):
        while True:
            line = (await stream.content.readline()).decode()
            if line.startswith("event: ") and line[7:].strip() == source:
                data = (await stream.content.readline()).decode()
                return json.loads(data.removeprefix("data: "))


async def test_starts_seeds_serves_the_page_and_stops(tmp_path: Path) -> None:
    config = SandboxConfig(db_path=tmp_path / "sandbox.db", data_dir=tmp_path / "data", port=0,
                           reset=True)
    sandbox = await Sandbox(config).start()
    try:
        # Seeded through the operations: everyone linked, a few weeks of history, audited.
        assert await count(sandbox, Person, Person.telegram_id.in_(
            [a.telegram_id for a in AMBASSADORS])) == 4
        assert await count(sandbox, Person, Person.slack_id.in_(
            [o.slack_id for o in OFFICE])) == 4
        assert await count(sandbox, Engagement) >= 10
        assert await count(sandbox, Feedback) >= 6
        assert await count(sandbox, FollowUp, FollowUp.urgency == "urgent",
                           FollowUp.status == "open") == 1
        async with sandbox.db.transaction() as session:
            stages = set((await session.scalars(select(GrantRecommendation.status))).all())
        assert {"approved", "referred", "recommended"} <= stages
        assert await count(sandbox, HoursEntry) >= 8
        assert await count(sandbox, Meeting) == 2     # last quarter's, with notes, and the next
        assert await count(sandbox, AuditEvent) >= 40
        assert await count(sandbox, Outbox, Outbox.destination == "#ambassador-alerts") >= 2
        # A claim with its receipt waits for the office: the post with Approve, the receipt
        # photo under it (delivered by the outbox dispatcher to the Slack emulator).
        slack = sandbox.slack
        channel = "#ambassador-engagements"

        def claim_post():
            posts = [m for m in slack.messages(channel)
                     if not m.files and "Expense claim from Tom Fairbairn" in m.text]
            return posts[-1] if posts else None
        post = await slack.wait_for(claim_post, 20)
        assert [b.text for b in slack.buttons(post)] == ["Approve", "Query", "Reject"]
        await slack.wait_for(lambda: any(m.files and m.thread_ts == post.ts
                                         for m in slack.messages(channel)), 20)

        async with aiohttp.ClientSession(sandbox.url) as http:
            page = await (await http.get("/")).text()
            assert "Ambassador Bot" in page and "/static/sandbox.js" in page
            for asset in ("/static/sandbox.js", "/static/sandbox.css"):
                assert (await http.get(asset)).status == 200
            state = await (await http.get("/api/state")).json()
            assert [a["area"] for a in state["ambassadors"]] == sandbox.scheme.areas
            assert [p["title"] for p in state["office"]] == [
                "Engagement officer", "Commissioning officer", "Commissioner",
                "Deputy Commissioner"]
            assert state["fund"]["remaining"] == "£39,400"   # £40,000 less one £600 grant
            assert ("prenotify", "Tell the office about an upcoming engagement") in [
                tuple(c) for c in state["commands"]]
            running = {p["key"]: p["running"] for p in state["pieces"]}
            assert running["telegram"] is True

            # The phone is live: what the bot says arrives on the page's event stream.
            async with http.get("/api/events") as events:
                sent = await http.post(f"/api/telegram/chats/{ANN}/text", json={"text": "/menu"})
                assert sent.status == 200
                event = await next_event(events, "telegram")
                assert event["chat_id"] == ANN
                await sandbox.telegram.wait_for(
                    lambda: any("What would you like to do?" in (m.text or "")
                                for m in sandbox.telegram.bot_messages(ANN)), 10)
            chat = await (await http.get(f"/api/telegram/chats/{ANN}")).json()
            menu = chat["messages"][-1]
            assert menu["from_bot"] and menu["keyboard"][0][0]["text"].startswith("📅")

            # A clear sentence, never a stack trace, for what can't be done.
            refused = await http.post("/api/telegram/chats/42/text", json={"text": "hi"})
            assert refused.status == 404 and "demo ambassadors" in (await refused.json())["error"]
            moved = await http.post("/api/clock", json={"hours": 24})
            assert (await moved.json())["clock"]["offset_hours"] == 24

            restarted = await http.post("/api/restart", json={})
            assert restarted.status == 200
            assert sandbox.application is not None and sandbox.application.running
    finally:
        await sandbox.stop()
    assert sandbox.application is None and sandbox.telegram is None
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()
                 and not t.done()]
    assert leftovers == []
    assert (tmp_path / "data" / "clock.json").exists()   # the clock survives a restart


def test_the_command_starts_keeps_its_data_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    first = start_sandbox(tmp_path, "--reset")
    try:
        with __import__("urllib.request").request.urlopen(f"{first.url}/healthz", timeout=10) \
                as answer:
            assert json.load(answer) == {"ok": True}
    finally:
        assert first.stop() == 0, first.output()
    output = first.output()
    assert "sandbox seeded" in output and "Stopping the sandbox" in output
    assert "Traceback" not in output

    again = start_sandbox(tmp_path)   # no --reset: the same database, not seeded twice
    assert again.stop() == 0, again.output()
    assert "sandbox seeded" not in again.output()


def test_a_port_in_use_is_said_plainly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "bot", "sandbox", "--port", str(port),
                               "--db", str(tmp_path / "sandbox.db")], cwd=ROOT, text=True,
                              capture_output=True, timeout=60)
    assert done.returncode == 1
    assert f"Is something else using port {port}?" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


async def test_a_build_without_the_office_pieces_still_runs_and_says_so(
        tmp_path: Path, monkeypatch) -> None:
    """Before the Slack app, the dispatcher and the schedules exist, the phone works, the
    office's posts wait in the outbox, and the page says why instead of failing."""
    from bot.sandbox import pieces

    real = pieces.optional_module
    absent = {"handlers.slack.app", "scheduler.dispatcher", "scheduler.runner",
              "scheduler.digest"}
    monkeypatch.setattr(pieces, "optional_module",
                        lambda name: None if name in absent else real(name))
    config = SandboxConfig(db_path=tmp_path / "sandbox.db", data_dir=tmp_path / "data", port=0)
    async with Sandbox(config) as sandbox, aiohttp.ClientSession(sandbox.url) as http:
        state = await (await http.get("/api/state")).json()
        notes = {p["key"]: (p["running"], p["note"]) for p in state["pieces"]}
        assert notes["telegram"][0] and not notes["slack"][0]
        assert "messages wait in the outbox" in notes["dispatcher"][1]
        assert "nothing is nudged" in notes["schedules"][1]

        await http.post(f"/api/telegram/chats/{ANN}/text", json={"text": "/menu"})
        await sandbox.telegram.wait_for(lambda: sandbox.telegram.bot_messages(ANN), 10)
        outbox = await (await http.get("/api/outbox")).json()
        assert outbox["rows"] and {r["status"] for r in outbox["rows"]} == {"pending"}

        alert = sandbox.slack.channel("#ambassador-alerts")
        assert alert is not None and not alert.by_ts   # nothing delivered, nothing pretended
        opened = await http.post("/api/slack/home-opened", json={"user": OFFICE[0].slack_id})
        assert opened.status == 200 and "isn't running" in (await opened.json())["error"]
        digest = await http.post("/api/digest", json={})
        assert digest.status == 501 and "not in this build" in (await digest.json())["error"]
        moved = await http.post("/api/clock", json={"hours": 1})
        assert (await moved.json())["ran"] == []


async def test_files_in_slack_are_served_by_the_page_pictures_only_as_pictures(
        tmp_path: Path) -> None:
    """What the app uploads to Slack is shown from the sandbox's own address: a picture as a
    picture, anything else (here a page of HTML) as a download the browser may not sniff; and
    the page itself allows only its own script."""
    from slack_sdk.web.async_client import AsyncWebClient

    from tests.e2e.test_sandbox_browser import a_photo

    config = SandboxConfig(db_path=tmp_path / "sandbox.db", data_dir=tmp_path / "data", port=0,
                           reset=True, schedules=False)
    async with Sandbox(config) as sandbox, aiohttp.ClientSession(sandbox.url) as http:
        client = AsyncWebClient(token=sandbox.slack.bot_token,
                                base_url=sandbox.slack.api_base_url)
        channel = sandbox.slack.channel(sandbox.scheme.channels.media)
        await client.files_upload_v2(channel=channel.id, content=a_photo(),
                                     filename="photo.jpg", title="A photo")
        await client.files_upload_v2(channel=channel.id, filename="page.html", title="A page",
                                     content="<script>alert(1)</script>")

        shown = await (await http.get(f"/api/slack/channels/{channel.id}")).json()
        files = {f["title"]: f for m in shown["messages"] for f in m.get("files") or []}
        photo, page = files["A photo"], files["A page"]
        assert photo["is_image"] and not page["is_image"]
        assert photo["src"].startswith("/api/slack/files/")

        picture = await http.get(photo["src"])
        assert picture.content_type == "image/jpeg"
        assert (await picture.read())[:3] == b"\xff\xd8\xff"
        download = await http.get(page["src"])
        assert download.content_type == "application/octet-stream"
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert (await http.get("/api/slack/files/F404")).status == 404

        index = await http.get("/")
        assert "script-src 'self'" in index.headers["Content-Security-Policy"]
