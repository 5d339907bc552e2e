"""The sandbox's web server: the page, the JSON the page reads and the actions it takes.

The page never talks to the emulators directly: everything goes through `/api/…` here, which
acts on the emulators in-process exactly as their own control endpoints do (a person typing,
tapping a button, pressing a Slack button or submitting a modal), and `/api/events` carries
every change back. `/slack/events` is the Slack app's Request URL, as in production.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from bot.emulators.slack import EmulatorUsageError, SlackMessage, SlackView
from bot.sandbox import seed
from handlers.forms import engine as forms
from storage.models import FormDraft, Outbox
from storage.operations.people import person_by_telegram
from storage.parsers import format_when
from storage.scheme import CHANNEL_KEYS

if TYPE_CHECKING:
    from bot.sandbox.sandbox import Sandbox

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SANDBOX: web.AppKey[Any] = web.AppKey("sandbox")
OUTBOX_ROWS = 60
MAX_TEXT = 10_000
TELEGRAM_MAX_TEXT = 4096       # what Telegram itself carries in one message
MAX_UPLOAD = 50 * 1024 * 1024  # a bot may download files up to 20 MB; the page sends a little more
ADVANCE_LIMIT_HOURS = 24 * 7 * 8
# The page is plain HTML and its own script: nothing inline, nothing from elsewhere. Whatever
# text slipped past the escaping still could not run.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Files people sent are served from the page's own address, so only pictures are served as
# pictures; anything else is a download that the browser may not sniff into a page.
IMAGE_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
               (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


class Problem(Exception):
    """Something the page asked that can't be done: a sentence and an HTTP status."""

    def __init__(self, sentence: str, status: int = 400) -> None:
        super().__init__(sentence)
        self.sentence, self.status = sentence, status


@web.middleware
async def sentences(request: web.Request, handler: Any) -> web.StreamResponse:
    """Problems become `{"error": sentence}`; nothing reaches the page as a stack trace."""
    if request.path.startswith(("/api/", "/slack/")) and not request.app[SANDBOX].ready:
        return web.json_response({"error": "The sandbox is starting or stopping; try again "
                                  "in a moment."}, status=503)
    try:
        return await handler(request)
    except Problem as problem:
        return web.json_response({"error": problem.sentence}, status=problem.status)
    except EmulatorUsageError as error:
        return web.json_response({"error": str(error)}, status=400)
    except aiohttp.ClientError as error:
        return web.json_response({"error": f"the app could not be reached: {error}"},
                                 status=502)


def routes(sandbox: Sandbox) -> list[web.AbstractRouteDef]:
    api = PageApi(sandbox)
    return [
        web.get("/", api.page),
        web.static("/static", STATIC_DIR),
        web.get("/healthz", api.healthz),
        web.get("/api/state", api.state),
        web.get("/api/events", sandbox.bus.stream),
        web.get("/api/telegram/chats/{chat_id}", api.telegram_chat),
        web.post("/api/telegram/chats/{chat_id}/text", api.telegram_text),
        web.post("/api/telegram/chats/{chat_id}/press", api.telegram_press),
        web.post("/api/telegram/chats/{chat_id}/photo", api.telegram_photo),
        web.post("/api/telegram/chats/{chat_id}/document", api.telegram_document),
        web.post("/api/telegram/chats/{chat_id}/location", api.telegram_location),
        web.get("/api/telegram/files/{file_id}", api.telegram_file),
        web.get("/api/slack/channels", api.slack_channels),
        web.get("/api/slack/channels/{channel}", api.slack_channel),
        web.get("/api/slack/files/{file_id}", api.slack_file),
        web.get("/api/slack/users/{user}/home", api.slack_home),
        web.get("/api/slack/users/{user}/views", api.slack_views),
        web.post("/api/slack/home-opened", api.slack_home_opened),
        web.post("/api/slack/click", api.slack_click),
        web.post("/api/slack/submit", api.slack_submit),
        web.post("/api/slack/close", api.slack_close),
        web.post("/api/slack/command", api.slack_command),
        web.post("/api/slack/message", api.slack_message),
        web.get("/api/outbox", api.outbox),
        web.get("/api/clock", api.clock),
        web.post("/api/clock", api.advance_clock),
        web.post("/api/digest", api.digest),
        web.post("/api/restart", api.restart),
        web.post("/slack/events", sandbox.slack_events),
    ]


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Problem("Send a JSON object.")
    return body


def image_type(data: bytes) -> str | None:
    """The picture type from the file's first bytes (never from its name); None if not one."""
    for magic, kind in IMAGE_TYPES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def file_response(data: bytes, name: str) -> web.Response:
    """A file for the page: a picture inline, anything else as a download, never sniffed."""
    headers = {"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; sandbox"}
    kind = image_type(data)
    if kind is None:
        safe = "".join(c for c in name if c.isalnum() or c in "._-")[:100] or "file"
        headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return web.Response(body=data, content_type=kind or "application/octet-stream",
                        headers=headers)


class PageApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.tg_names = {who.telegram_id: who.name for who in seed.AMBASSADORS}
        self.slack_names = {who.slack_id: who.name for who in seed.OFFICE}

    @property
    def tz(self) -> str:
        return self.sandbox.scheme.timezone

    # -- the page and what it shows at first -----------------------------------------------

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html",
                                headers={"Cache-Control": "no-cache",
                                         "Content-Security-Policy": PAGE_POLICY,
                                         "X-Content-Type-Options": "nosniff"})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def state(self, request: web.Request) -> web.Response:
        sandbox = self.sandbox
        scheme = sandbox.scheme
        return web.json_response({
            "scheme": {"name": scheme.name, "office": scheme.office,
                       "timezone": scheme.timezone},
            "bot": sandbox.telegram.bot_user,
            "commands": sandbox.telegram.commands,
            "ambassadors": [{"key": w.key, "name": w.name, "telegram_id": w.telegram_id,
                             "area": seed.area_of(scheme, w)} for w in seed.AMBASSADORS],
            "office": [{"key": w.key, "name": w.name, "slack_id": w.slack_id,
                        "role": w.role.value, "title": seed.ROLE_TITLES[w.role]}
                       for w in seed.OFFICE],
            "channels": [{"key": key, "name": getattr(scheme.channels, key).lstrip("#")}
                         for key in CHANNEL_KEYS],
            "clock": sandbox.clock_json(),
            "fund": await sandbox.fund_json(),
            "pieces": sandbox.status_json(),
        })

    # -- Telegram: the ambassador's phone ----------------------------------------------------

    def _user(self, request: web.Request) -> Any:
        try:
            chat_id = int(request.match_info["chat_id"])
        except ValueError:
            raise Problem("No such chat.", 404) from None
        if chat_id not in self.tg_names:
            raise Problem("Only the demo ambassadors' phones are in the sandbox.", 404)
        return self.sandbox.telegram.user(chat_id)

    async def telegram_chat(self, request: web.Request) -> web.Response:
        user = self._user(request)
        chat = user.chat
        messages = []
        for message in chat.messages:
            shown = message.to_json()
            rows = (message.raw.get("reply_markup") or {}).get("inline_keyboard") or []
            shown["keyboard"] = [[{"text": b.get("text", ""), "data": b.get("callback_data"),
                                   "url": b.get("url") or (b.get("web_app") or {}).get("url")}
                                  for b in row] for row in rows]
            if message.file_id:
                shown["file_url"] = f"/api/telegram/files/{message.file_id}"
            messages.append(shown)
        return web.json_response({"chat_id": chat.id, "messages": messages,
                                  "reply_keyboard": chat.reply_keyboard,
                                  "commands": self.sandbox.telegram.commands,
                                  "max_length": await self._max_length(chat.id)})

    async def _max_length(self, telegram_id: int) -> int:
        """How many characters the page's box lets through: one more than the bot takes for
        the question the person is being asked, so a longer paste is refused by the bot, in
        its own words, with the real limit; Telegram's own limit when no typed answer is due."""
        async with self.sandbox.db.transaction() as session:
            person = await person_by_telegram(session, telegram_id)
            draft = None if person is None else await session.scalar(select(FormDraft).where(
                FormDraft.person_id == person.id, FormDraft.transport == "telegram",
                FormDraft.active.is_(True)))
        step = (draft.state or {}).get("step") if draft is not None else None
        try:
            field = forms.form_named(draft.state["form"]).field(step)  # type: ignore[union-attr]
        except (KeyError, StopIteration, TypeError, AttributeError):
            return TELEGRAM_MAX_TEXT
        if field.kind != "text":
            return TELEGRAM_MAX_TEXT
        return max(field.max_chars + 1, 1)

    async def telegram_text(self, request: web.Request) -> web.Response:
        user = self._user(request)
        text = str((await _body(request)).get("text") or "")
        if not text.strip():
            raise Problem("Type something first.")
        if len(text) > MAX_TEXT:
            raise Problem(f"That's {len(text):,} characters; Telegram itself stops at 4,096.")
        message = await user.send_text(text)
        return web.json_response({"ok": True, "message": message.to_json()})

    async def telegram_press(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await _body(request)
        try:
            await user.press(str(body.get("data") or body.get("text") or ""),
                             int(body["message_id"]) if body.get("message_id") else None)
        except (AssertionError, KeyError, ValueError) as error:
            raise Problem(f"That button can't be pressed: {error}") from None
        return web.json_response({"ok": True})

    async def telegram_photo(self, request: web.Request) -> web.Response:
        user = self._user(request)
        form = await request.post()
        upload = form.get("photo")
        if not isinstance(upload, web.FileField):
            raise Problem("Choose a photo or video to send.")
        data = upload.file.read()
        caption = str(form.get("caption") or "") or None
        kind = upload.content_type or ""
        if kind.startswith("video/"):
            message = await user.send_video(data, caption=caption)
        elif kind.startswith("image/"):
            message = await user.send_photo(data, caption)
        else:
            # A phone sends what is not a picture as a file, with its name: so does this.
            message = await user.send_document(
                data, file_name=Path(upload.filename or "file").name[:200] or "file",
                mime_type=kind or "application/octet-stream", caption=caption)
        return web.json_response({"ok": True, "message": message.to_json()})

    async def telegram_document(self, request: web.Request) -> web.Response:
        """A file from the paperclip's File: sent as a document, with its name and type."""
        user = self._user(request)
        form = await request.post()
        upload = form.get("document")
        if not isinstance(upload, web.FileField):
            raise Problem("Choose a file to send.")
        data = upload.file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise Problem("That file is too big for the sandbox (50 MB at most).")
        name = Path(upload.filename or "file").name[:200] or "file"
        caption = str(form.get("caption") or "") or None
        message = await user.send_document(
            data, file_name=name, mime_type=upload.content_type or "application/octet-stream",
            caption=caption)
        return web.json_response({"ok": True, "message": message.to_json()})

    async def telegram_location(self, request: web.Request) -> web.Response:
        """A place from the paperclip's Location, as the phone shares it."""
        user = self._user(request)
        body = await _body(request)
        try:
            latitude, longitude = float(body["latitude"]), float(body["longitude"])
        except (KeyError, TypeError, ValueError):
            raise Problem("Type the latitude and longitude as numbers, e.g. 52.3676 and "
                          "-2.7186.") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise Problem("A latitude is between -90 and 90, a longitude between -180 and 180.")
        message = await user.send_location(latitude, longitude)
        return web.json_response({"ok": True, "message": message.to_json()})

    async def telegram_file(self, request: web.Request) -> web.Response:
        try:
            data = self.sandbox.telegram.file_bytes(request.match_info["file_id"])
        except KeyError:
            raise Problem("No such file.", 404) from None
        return file_response(data, request.match_info["file_id"])

    # -- Slack: the office ---------------------------------------------------------------------

    def _slack_message(self, message: SlackMessage) -> dict[str, Any]:
        shown = message.to_payload()
        author = self.sandbox.slack.bot_user_id if message.from_bot else message.user
        shown.update(channel=message.channel, ephemeral_to=message.ephemeral_to,
                     edit_count=len(message.edits), from_bot=message.from_bot,
                     author=("Ambassador Bot" if message.from_bot
                             else self.slack_names.get(author, author)))
        # Files the app uploaded (a photo for review, the digest's chart) are shown from this
        # server, not from the emulator's address.
        shown["files"] = [self._file(file) for file in shown.get("files") or []]
        return shown

    def _file(self, shown: dict[str, Any]) -> dict[str, Any]:
        stored = self.sandbox.slack.files.get(str(shown.get("id") or ""))
        content = stored.content if stored is not None else None
        return shown | {"src": f"/api/slack/files/{shown.get('id')}" if content else None,
                        "is_image": bool(content) and image_type(content) is not None}

    def _view(self, view: SlackView | None) -> dict[str, Any] | None:
        if view is None:
            return None
        return view.to_payload() | {"errors": view.errors, "user": view.user}

    async def slack_file(self, request: web.Request) -> web.Response:
        """A file the app uploaded to Slack, as the office would open it."""
        stored = self.sandbox.slack.files.get(request.match_info["file_id"])
        if stored is None or stored.content is None:
            raise Problem("No such file.", 404)
        return file_response(stored.content, stored.name)

    async def slack_channels(self, request: web.Request) -> web.Response:
        channels = []
        for channel in self.sandbox.slack.channels():
            channels.append({"id": channel.id, "name": channel.name, "is_im": channel.is_im,
                             "user": channel.user,
                             "label": (self.slack_names.get(channel.user or "", channel.user)
                                       if channel.is_im else channel.name),
                             "message_count": len(channel.by_ts)})
        users = [{"id": u.id, "name": u.name, "real_name": u.real_name}
                 for u in self.sandbox.slack.users()]
        return web.json_response({"channels": channels, "users": users})

    async def slack_channel(self, request: web.Request) -> web.Response:
        slack = self.sandbox.slack
        channel = slack.channel(request.match_info["channel"])
        if channel is None:
            raise Problem("No such channel.", 404)
        user = request.query.get("user")
        ephemerals = ([self._slack_message(m) for m in slack.ephemerals(user, channel.id)]
                      if user and user in self.slack_names else [])
        return web.json_response({
            "channel": {"id": channel.id, "name": channel.name, "is_im": channel.is_im},
            "messages": [self._slack_message(m) for m in slack.messages(channel.id)],
            "ephemerals": ephemerals})

    def _office_user(self, user: Any) -> str:
        if str(user) not in self.slack_names:
            raise Problem("Pick someone from the office to act as.")
        return str(user)

    async def slack_home(self, request: web.Request) -> web.Response:
        user = self._office_user(request.match_info["user"])
        return web.json_response({"view": self._view(self.sandbox.slack.home(user))})

    async def slack_views(self, request: web.Request) -> web.Response:
        user = self._office_user(request.match_info["user"])
        return web.json_response({"views": [self._view(v)
                                            for v in self.sandbox.slack.views(user)]})

    async def _answer(self, response: Any) -> web.Response:
        """What the app said to Slack's request, with a sentence when it said no."""
        if response is None:
            return web.json_response({"ok": True, "status": None})
        shown = response.to_json()
        if response.status == 503:
            shown["error"] = (response.data or {}).get("error") or "The Slack app isn't running."
        elif response.status >= 400:
            shown["error"] = f"The Slack app answered {response.status}."
        elif response.problems:
            shown["warning"] = "; ".join(response.problems)
        shown["ok"] = response.status < 400
        return web.json_response(shown)

    async def slack_home_opened(self, request: web.Request) -> web.Response:
        user = self._office_user((await _body(request)).get("user"))
        return await self._answer(await self.sandbox.slack.send_event(
            user, {"type": "app_home_opened"}))

    def _target(self, body: dict[str, Any], user: str) -> SlackMessage | SlackView:
        slack = self.sandbox.slack
        if body.get("view_id"):
            return slack.view(str(body["view_id"]))
        ts = str(body.get("ts") or "")
        if body.get("ephemeral"):
            found = [m for m in slack.ephemerals(user) if m.ts == ts]
        else:
            found = [m for m in slack.messages(str(body.get("channel") or "")) if m.ts == ts]
        if not found:
            raise Problem("That message is no longer there.", 404)
        return found[0]

    async def slack_click(self, request: web.Request) -> web.Response:
        body = await _body(request)
        user = self._office_user(body.get("user"))
        response = await self.sandbox.slack.click(
            user, self._target(body, user), str(body.get("action_id") or ""),
            value=body.get("value"), selected_user=body.get("selected_user"),
            selected_option=body.get("selected_option"), block_id=body.get("block_id"))
        return await self._answer(response)

    async def slack_submit(self, request: web.Request) -> web.Response:
        body = await _body(request)
        user = self._office_user(body.get("user"))
        return await self._answer(await self.sandbox.slack.submit_view(
            user, body.get("view_id"), body.get("values") or {}))

    async def slack_close(self, request: web.Request) -> web.Response:
        body = await _body(request)
        user = self._office_user(body.get("user"))
        return await self._answer(await self.sandbox.slack.close_view(
            user, body.get("view_id"), clear=bool(body.get("clear"))))

    async def slack_command(self, request: web.Request) -> web.Response:
        body = await _body(request)
        user = self._office_user(body.get("user"))
        command, _, text = str(body.get("text") or "").strip().partition(" ")
        if not command.startswith("/"):
            raise Problem("A slash command starts with /, e.g. /ambassadors help.")
        return await self._answer(await self.sandbox.slack.slash_command(
            user, command, text.strip(), body.get("channel") or None))

    async def slack_message(self, request: web.Request) -> web.Response:
        body = await _body(request)
        user = self._office_user(body.get("user"))
        text = str(body.get("text") or "").strip()
        if not text:
            raise Problem("Type something first.")
        channel = str(body.get("channel") or self.sandbox.slack.user(user).dm_channel)
        return await self._answer(await self.sandbox.slack.send_message(user, channel,
                                                                        text[:MAX_TEXT]))

    # -- the sandbox itself ---------------------------------------------------------------

    def _destination(self, row: Outbox) -> str:
        if row.transport == "telegram":
            name = self.tg_names.get(int(row.destination)) if row.destination.isdigit() else None
            return f"{name or row.destination} (Telegram)"
        if row.destination in self.slack_names:
            return f"{self.slack_names[row.destination]} (Slack DM)"
        return row.destination

    async def outbox(self, request: web.Request) -> web.Response:
        """The latest rows, and the totals counted over every row (not just those shown)."""
        async with self.sandbox.db.transaction() as session:
            rows = (await session.scalars(select(Outbox).order_by(Outbox.id.desc())
                                          .limit(OUTBOX_ROWS))).all()
            totals = {str(status): count for status, count in (await session.execute(
                select(Outbox.status, func.count()).group_by(Outbox.status))).all()}
        return web.json_response({"rows": [{
            "id": row.id, "transport": row.transport, "to": self._destination(row),
            "event": row.event, "text": str((row.payload or {}).get("text") or ""),
            "status": row.status, "attempts": row.attempts, "error": row.error,
            "created": format_when(row.created_at, self.tz),
            "sent": format_when(row.sent_at, self.tz) if row.sent_at else None}
            for row in rows],
            "totals": totals, "total": sum(totals.values()),
            "fund": await self.sandbox.fund_json()})

    async def clock(self, request: web.Request) -> web.Response:
        return web.json_response({"clock": self.sandbox.clock_json()})

    async def advance_clock(self, request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            hours = float(body.get("hours") or 0)
        except (TypeError, ValueError):
            raise Problem("Say how many hours to move the clock on.") from None
        if not 0 < hours <= ADVANCE_LIMIT_HOURS:
            raise Problem("The clock moves forward by an hour up to eight weeks at a time.")
        return web.json_response(await self.sandbox.advance(dt.timedelta(hours=hours)))

    async def digest(self, request: web.Request) -> web.Response:
        text = await self.sandbox.run_digest()
        if text is None:
            raise Problem("The weekly digest is not in this build yet.", 501)
        return web.json_response({"ok": True, "text": text})

    async def restart(self, request: web.Request) -> web.Response:
        await self.sandbox.restart_bot()
        return web.json_response({"ok": True, "pieces": self.sandbox.status_json()})
