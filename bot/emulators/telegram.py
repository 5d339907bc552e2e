"""An in-process Telegram Bot API emulator for tests, benchmarks and the sandbox.

The real python-telegram-bot ``Application`` talks to it over loopback HTTP::

    async with TelegramEmulator(token=TOKEN) as emu:
        app = (Application.builder().token(TOKEN)
               .base_url(emu.base_url).base_file_url(emu.base_file_url).build())
        ann = emu.user(1001, first_name="Ann")
        await ann.send_command("/start abc")
        reply = await ann.next_reply()

What it serves:

* ``/bot<token>/<method>``: the Bot API methods the bot uses (see ``_API_METHODS``), answering
  with the real API's shapes and error texts so PTB raises the same exceptions it would in
  production. Parameters are read from the query string and from JSON, url-encoded or
  multipart bodies; PTB 22 always POSTs url-encoded forms (every non-string value JSON-encoded)
  or, when uploading, multipart forms whose files are named parts or ``attach://`` references.
* ``/file/bot<token>/<file_path>``: downloads of stored files (what ``File.download_*`` fetch).
* ``/_emulator/...``: a small JSON control API and a server-sent-events stream for a web page.

Acting as people is done with :meth:`TelegramEmulator.user`, which returns a :class:`FakeUser`;
what happened is read back with :meth:`TelegramEmulator.transcript`, ``calls``,
``callback_answers`` and the awaitable helpers. :class:`Faults` injects failures and
``latency`` simulates a network round trip.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import re
import struct
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from bot.emulators.ids import KeptCounter

logger = logging.getLogger(__name__)

__all__ = [
    "ApiCall",
    "BotApiError",
    "CallbackAnswer",
    "Chat",
    "ChatMessage",
    "DEFAULT_TOKEN",
    "Fault",
    "Faults",
    "FakeUser",
    "ReplyTiming",
    "StoredFile",
    "TelegramEmulator",
    "UploadedFile",
]

DEFAULT_TOKEN = "123456789:AAEmulatorTokenForTestsOnly_0123456789"
DEFAULT_GROUP_CHAT_ID = -4_000_000_001
DEFAULT_SUPERGROUP_CHAT_ID = -1_001_000_000_001
FIRST_UPDATE_ID = 100_001

MAX_MESSAGE_LENGTH = 4096  # in UTF-16 code units, like Telegram counts
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files, as the cloud API does
MAX_UPLOAD_BYTES = 60 * 1024 * 1024
PHOTO_SIDES = (90, 320, 800)  # the smaller sizes Telegram derives; the largest is capped at 1280
PHOTO_MAX_SIDE = 1280

# Placeholder media for what a FakeUser sends without real content. Only their shape matters.
_THUMBNAIL_BYTES = b"\xff\xd8\xff\xd9"  # an empty JPEG (start + end of image)
_STICKER_BYTES = base64.b64decode(
    "UklGRjwAAABXRUJQVlA4IDAAAADQAQCdASoIAAgAAUAmJaACdLoB+AADsAD+9XEf/yn75T98p+/5T9/8s+fw2dGAAAA="
)
_VOICE_BYTES = b"OggS" + bytes(60)

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_HTML_TAG_RE = re.compile(r"<[^>]*>")
_MARKDOWN_RE = re.compile(r"\\(.)|[*_~`|]")  # an escaped character, or a formatting mark

# Parameters whose form values are JSON (PTB JSON-encodes every non-string value), and those that
# are numbers or flags; decoding them once on the way in gives handlers and `emu.calls` real types.
_JSON_PARAMS = frozenset({
    "reply_markup", "entities", "caption_entities", "commands", "scope", "reply_parameters",
    "link_preview_options", "allowed_updates",
})
_INT_PARAMS = frozenset({
    "chat_id", "message_id", "offset", "limit", "timeout", "cache_time", "max_connections",
    "reply_to_message_id", "message_thread_id",
})
_BOOL_PARAMS = frozenset({
    "show_alert", "drop_pending_updates", "disable_notification", "protect_content",
    "disable_content_type_detection", "allow_sending_without_reply", "disable_web_page_preview",
})

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
_BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)

Params = dict[str, Any]
Buttons = list[list[tuple[str, str | None]]]


# --------------------------------------------------------------------------------------------
# Records that tests read
# --------------------------------------------------------------------------------------------


class BotApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


@dataclass(slots=True)
class UploadedFile:
    """A file part of a multipart request (kept out of reprs: it can be megabytes)."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        """Length of the upload in bytes."""
        return len(self.data)


@dataclass(slots=True)
class ApiCall:
    """One Bot API request as the emulator received it (params decoded to Python values)."""

    method: str
    params: Params
    time: float  # time.perf_counter() when it was processed
    status: int = 200


@dataclass(slots=True)
class CallbackAnswer:
    """What the bot said when answering a callback query (a button press)."""

    query_id: str
    chat_id: int | None
    text: str | None
    show_alert: bool
    url: str | None


@dataclass(slots=True)
class ReplyTiming:
    """When a user's update was injected and when the bot's answering message arrived."""

    update_id: int
    chat_id: int
    injected_at: float
    answered_at: float

    @property
    def latency(self) -> float:
        """Seconds from injection to the bot's answer reaching the emulator."""
        return self.answered_at - self.injected_at


@dataclass(slots=True)
class StoredFile:
    """A file the emulator holds: what a user or the bot uploaded."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes = field(repr=False)
    mime_type: str | None = None
    file_name: str | None = None

    def api_dict(self) -> dict[str, Any]:
        """The File object getFile answers with."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass(slots=True, eq=False, repr=False)
class ChatMessage:
    """One message of a chat transcript, the user's or the bot's.

    ``raw`` is the Bot API Message object; it is updated in place when the message is edited,
    so a ChatMessage held by a test always shows the latest content.
    """

    chat_id: int
    message_id: int
    from_bot: bool
    raw: dict[str, Any]
    sender_id: int
    parse_mode: str | None = None
    update_id: int | None = None  # the update that brought a user's message to the bot
    reply_keyboard: list[list[str]] | None = None  # a ReplyKeyboardMarkup sent with it
    edited: bool = False
    sent_at: float = 0.0  # time.perf_counter() when it reached the emulator
    # The text (or caption) it had before each edit, oldest first: Telegram shows only the
    # latest, but a test can see what a person was shown on the way ("still checking…").
    earlier: list[str] = field(default_factory=list)

    @property
    def text(self) -> str | None:
        """The text as sent (markup included when a parse_mode was given)."""
        return self.raw.get("text")

    @property
    def caption(self) -> str | None:
        """The caption of a photo, video or document."""
        return self.raw.get("caption")

    @property
    def plain_text(self) -> str:
        """Text or caption with HTML tags or Markdown escapes removed, for assertions."""
        return _visible_text(self.text or self.caption or "", self.parse_mode)

    @property
    def kind(self) -> str:
        """What the message carries: text, photo, video, document, sticker, voice, location…"""
        for key in ("text", "photo", "video", "document", "sticker", "voice", "location"):
            if key in self.raw:
                return key
        return "other"

    @property
    def buttons(self) -> Buttons:
        """Inline keyboard as rows of (text, callback_data or url)."""
        markup = self.raw.get("reply_markup") or {}
        return [[(button.get("text", ""), _button_value(button)) for button in row]
                for row in markup.get("inline_keyboard", [])]

    @property
    def photo(self) -> list[dict[str, Any]] | None:
        """The PhotoSize list of a photo message, smallest first."""
        return self.raw.get("photo")

    @property
    def media_group_id(self) -> str | None:
        """The album a photo or video belongs to."""
        return self.raw.get("media_group_id")

    @property
    def file_id(self) -> str | None:
        """The file of a media message (the largest size of a photo)."""
        if photo := self.raw.get("photo"):
            return photo[-1]["file_id"]
        for key in ("video", "document", "sticker", "voice"):
            if key in self.raw:
                return self.raw[key]["file_id"]
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly summary for the control API and the events stream."""
        return {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "from_bot": self.from_bot,
            "sender_id": self.sender_id,
            "date": self.raw.get("date"),
            "kind": self.kind,
            "text": self.text,
            "caption": self.caption,
            "parse_mode": self.parse_mode,
            "buttons": [[list(button) for button in row] for row in self.buttons],
            "reply_keyboard": self.reply_keyboard,
            "file_id": self.file_id,
            "media_group_id": self.media_group_id,
            "edited": self.edited,
        }

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else f"user {self.sender_id}"
        body = self.text if self.text is not None else f"<{self.kind}> {self.caption or ''}"
        flags = " edited" if self.edited else ""
        buttons = f" buttons={self.buttons}" if self.buttons else ""
        return f"<ChatMessage {self.chat_id}/{self.message_id} {who}{flags}: {body!r}{buttons}>"


@dataclass(eq=False, repr=False)
class Chat:
    """A chat the emulator knows: a user's private chat with the bot, or a group."""

    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    blocked: bool = False  # the user blocked the bot: every call to this chat answers 403
    messages: list[ChatMessage] = field(default_factory=list)
    by_id: dict[int, ChatMessage] = field(default_factory=dict)
    bot_activity: list[ChatMessage] = field(default_factory=list)  # sends and edits, in order
    bot_sent: list[ChatMessage] = field(default_factory=list)  # the bot's messages, in order
    reply_keyboard: list[list[str]] | None = None
    awaiting_answer: deque[tuple[int, float]] = field(default_factory=deque)
    _next_message_id: int = 1
    _api_dict: dict[str, Any] | None = None

    def api_dict(self) -> dict[str, Any]:
        """The Bot API Chat object (built once; messages share it)."""
        if self._api_dict is None:
            data: dict[str, Any] = {"id": self.id, "type": self.type}
            optional = {"title": self.title, "first_name": self.first_name,
                        "last_name": self.last_name, "username": self.username}
            data.update({key: value for key, value in optional.items() if value})
            self._api_dict = data
        return self._api_dict

    def allocate_message_id(self) -> int:
        """Message ids count up per chat, as they do in Telegram."""
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def add(self, message: ChatMessage) -> None:
        """Append a message to the transcript."""
        self.messages.append(message)
        self.by_id[message.message_id] = message
        if message.from_bot:
            self.bot_sent.append(message)

    def __repr__(self) -> str:
        name = self.title or self.first_name
        return f"<Chat {self.id} {self.type} {name!r}, {len(self.messages)} messages>"

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly line for the chat list of the control API."""
        last = self.messages[-1].to_json() if self.messages else None
        return {**self.api_dict(), "message_count": len(self.messages), "blocked": self.blocked,
                "reply_keyboard": self.reply_keyboard, "last_message": last}


@dataclass(slots=True)
class _Update:
    """An update waiting to be fetched or pushed; ``body`` is its JSON, serialised once."""

    update_id: int
    kind: str
    chat_id: int | None
    body: str
    injected_at: float
    redelivery: bool = False
    delivered: bool = False  # handed to a getUpdates caller (still unconfirmed)


@dataclass(slots=True)
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    in_flight: dict[int, _Update] = field(default_factory=dict)  # id(update) → update


@dataclass(slots=True)
class _Raw:
    """A result that is already JSON text (getUpdates joins pre-serialised updates)."""

    json: str


@dataclass(slots=True)
class _Described:
    """A result with the ``description`` some methods add (setWebhook, deleteWebhook)."""

    result: Any
    description: str


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------


@dataclass
class Fault:
    """One scheduled failure: the next ``times`` calls of ``method`` (any method if None)."""

    method: str | None
    times: int
    status: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    hang_seconds: float = 0.0
    then_answer: bool = True  # after hanging, process the call anyway (the ambiguous timeout)
    html_body: str | None = None

    def matches(self, method: str) -> bool:
        """Whether this fault applies to a call of ``method`` (case-insensitive)."""
        return self.times > 0 and (self.method is None or self.method.lower() == method.lower())


class Faults:
    """Schedules failures of the next calls, for reliability tests.

    A fault with no method applies to *any* call, getUpdates included; name the method when a
    polling bot is running. Faults are used up in the order they were added.
    """

    def __init__(self) -> None:
        self._pending: list[Fault] = []

    @property
    def pending(self) -> list[Fault]:
        """Faults not yet used up."""
        return [fault for fault in self._pending if fault.times > 0]

    def add(self, fault: Fault) -> Fault:
        """Schedule a fault built by hand."""
        self._pending.append(fault)
        return fault

    def fail(self, method: str | None = None, *, status: int = 500,
             description: str = "Internal Server Error", times: int = 1) -> Fault:
        """Answer the next calls with an error status and description."""
        return self.add(Fault(method, times, status=status, description=description))

    def server_error(self, method: str | None = None, *, times: int = 1) -> Fault:
        """Answer 500 Internal Server Error (PTB raises NetworkError)."""
        return self.fail(method, times=times)

    def bad_gateway(self, method: str | None = None, *, times: int = 1) -> Fault:
        """Answer 502 with nginx's HTML page, as Telegram's front end does when overloaded."""
        return self.add(Fault(method, times, status=502, description="Bad Gateway",
                              html_body=_BAD_GATEWAY_HTML))

    def flood(self, method: str | None = None, *, retry_after: int = 1, times: int = 1) -> Fault:
        """Answer 429 Too Many Requests with ``parameters.retry_after`` (PTB raises RetryAfter)."""
        return self.add(Fault(method, times, status=429,
                              description=f"Too Many Requests: retry after {retry_after}",
                              retry_after=retry_after))

    def blocked(self, method: str | None = None, *, times: int = 1) -> Fault:
        """Answer 403 as if the user had blocked the bot (PTB raises Forbidden)."""
        return self.fail(method, status=403, description="Forbidden: bot was blocked by the user",
                         times=times)

    def hang(self, method: str | None = None, *, seconds: float, times: int = 1,
             then_answer: bool = True) -> Fault:
        """Hold the next calls for ``seconds`` so the client times out.

        With ``then_answer`` the call is still carried out afterwards, like a message Telegram
        delivered although the bot gave up waiting; otherwise it answers 500 and does nothing.
        """
        return self.add(Fault(method, times, hang_seconds=seconds, then_answer=then_answer))

    def clear(self) -> None:
        """Forget every scheduled fault."""
        self._pending.clear()

    def take(self, method: str) -> Fault | None:
        """Use up one matching fault for a call of ``method``, if any is scheduled."""
        for fault in self._pending:
            if fault.matches(method):
                fault.times -= 1
                if fault.times <= 0:
                    self._pending.remove(fault)
                return fault
        return None


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


class _Signal:
    """Wakes every current waiter when notified; waiters re-check their own condition."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        """Wake everyone waiting now."""
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        """Wait for the next notify, at most ``timeout`` seconds (returns either way)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)


def _utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _visible_text(text: str, parse_mode: str | None) -> str:
    """Roughly what the reader sees once Telegram has parsed the markup."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return unescape(_HTML_TAG_RE.sub("", text))
    if mode.startswith("markdown"):
        return _MARKDOWN_RE.sub(lambda match: match.group(1) or "", text)
    return text


def _button_value(button: dict[str, Any]) -> str | None:
    """What an inline button does: its callback_data, or the URL it opens."""
    if "callback_data" in button:
        return button["callback_data"]
    if "url" in button:
        return button["url"]
    for key in ("web_app", "login_url"):
        if key in button:
            return button[key].get("url")
    return None


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG or PNG header, without decoding the image."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:2] != b"\xff\xd8":
        return None
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            index += 2
            continue
        (length,) = struct.unpack(">H", data[index + 2:index + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height, width = struct.unpack(">HH", data[index + 5:index + 9])
            return width, height
        index += 2 + length
    return None


def _scaled(width: int, height: int, side: int) -> tuple[int, int]:
    """Dimensions with the longer side scaled down to ``side``."""
    longest = max(width, height)
    if longest <= side:
        return width, height
    return max(1, round(width * side / longest)), max(1, round(height * side / longest))


def _decode_params(params: Params) -> Params:
    """Turn form strings into the JSON values, numbers and flags they stand for."""
    for key, value in params.items():
        if not isinstance(value, str):
            continue
        if key in _JSON_PARAMS:
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
        elif key in _INT_PARAMS:
            with contextlib.suppress(ValueError):
                params[key] = int(value)
        elif key in _BOOL_PARAMS:
            params[key] = value.lower() in ("true", "1")
    return params


def _json_response(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="application/json")


def _error_body(error: BotApiError) -> str:
    payload: dict[str, Any] = {"ok": False, "error_code": error.status,
                               "description": error.description}
    if error.parameters:
        payload["parameters"] = error.parameters
    return json.dumps(payload)


def _bad_request(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


def _require_text(params: Params, key: str, *, limit: int, empty: str, too_long: str) -> str:
    """A required text parameter, checked against Telegram's limits."""
    text = params.get(key)
    if text is None or not isinstance(text, str):
        text = "" if text is None else str(text)
    visible = _visible_text(text, params.get("parse_mode"))
    if not visible.strip():
        raise _bad_request(empty)
    if _utf16_len(visible) > limit:
        raise _bad_request(too_long)
    return text


def _optional_caption(params: Params) -> str | None:
    caption = params.get("caption")
    if caption is None:
        return None
    if _utf16_len(_visible_text(str(caption), params.get("parse_mode"))) > MAX_CAPTION_LENGTH:
        raise _bad_request("message caption is too long")
    return str(caption)


def _parse_reply_markup(value: Any) -> tuple[dict[str, Any] | None, list[list[str]] | None, bool]:
    """(inline markup to echo, reply keyboard rows, remove keyboard?) from a reply_markup param.

    Only inline keyboards are part of the Message object Telegram answers with; a reply
    keyboard is kept on the chat, where a phone would show it.
    """
    if value is None or value == "":
        return None, None, False
    if not isinstance(value, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        _check_inline_keyboard(value["inline_keyboard"])
        return value, None, False
    if "keyboard" in value:
        rows = [[button if isinstance(button, str) else str(button.get("text", ""))
                 for button in row] for row in value["keyboard"]]
        return None, rows, False
    if value.get("remove_keyboard"):
        return None, None, True
    if "force_reply" in value:
        return None, None, False
    raise _bad_request("can't parse reply keyboard markup JSON object")


def _check_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad_request(
            "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise _bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad_request("BUTTON_DATA_INVALID")
            if data is None and _button_value(button) is None and len(button) == 1:
                raise _bad_request("text buttons are unallowed in the inline keyboard")


# --------------------------------------------------------------------------------------------
# Fake users
# --------------------------------------------------------------------------------------------


class FakeUser:
    """A person talking to the bot through the emulator; every send becomes an update."""

    def __init__(self, emulator: TelegramEmulator, user_id: int, first_name: str,
                 username: str | None, last_name: str | None, language_code: str | None) -> None:
        self.emulator = emulator
        self.id = user_id
        self.first_name = first_name
        self.username = username
        self.api_dict: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            self.api_dict["last_name"] = last_name
        if username:
            self.api_dict["username"] = username
        if language_code:
            self.api_dict["language_code"] = language_code
        # Where next_reply() reads from in each chat: moved to the end whenever the user sends,
        # so next_reply() means "the bot's next message after what I just did".
        self._cursors: dict[int, int] = {}

    def __repr__(self) -> str:
        return f"<FakeUser {self.id} {self.first_name!r}>"

    @property
    def chat(self) -> Chat:
        """The user's private chat with the bot (its id is the user's id, as in Telegram)."""
        return self.emulator.chat(self.id)

    @property
    def blocked(self) -> bool:
        """Whether the user has blocked the bot (the bot then gets 403 for this chat)."""
        return self.chat.blocked

    @blocked.setter
    def blocked(self, value: bool) -> None:
        self.chat.blocked = value

    # -- sending -------------------------------------------------------------------------------

    async def send_text(self, text: str, *, chat_id: int | None = None,
                        chat_type: str = "private", reply_to: ChatMessage | None = None
                        ) -> ChatMessage:
        """Send a text message; a leading ``/command`` gets its bot_command entity, as apps do."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": _utf16_len(command)}]
        if reply_to is not None:
            content["reply_to_message"] = dict(reply_to.raw)
        return self._send(content, chat_id, chat_type)

    async def send_command(self, command: str, *, chat_id: int | None = None,
                           chat_type: str = "private") -> ChatMessage:
        """Send ``/command [args]``."""
        if not command.startswith("/"):
            raise ValueError(f"a command starts with '/': {command!r}")
        return await self.send_text(command, chat_id=chat_id, chat_type=chat_type)

    async def send_photo(self, data: bytes, caption: str | None = None,
                         media_group_id: str | None = None, *, chat_id: int | None = None,
                         chat_type: str = "private") -> ChatMessage:
        """Send a photo; the bot sees PhotoSize entries that all download these bytes."""
        content: dict[str, Any] = {"photo": self.emulator._photo_sizes(data)}
        return self._send(_with_caption(content, caption, media_group_id), chat_id, chat_type)

    async def send_album(self, photos: Sequence[bytes], caption: str | None = None, *,
                         chat_id: int | None = None, chat_type: str = "private"
                         ) -> list[ChatMessage]:
        """Send several photos as one album: one update each, sharing a media_group_id."""
        group_id = self.emulator._new_media_group_id()
        return [await self.send_photo(data, caption if index == 0 else None, group_id,
                                      chat_id=chat_id, chat_type=chat_type)
                for index, data in enumerate(photos)]

    async def send_document(self, data: bytes, file_name: str = "document.pdf",
                            mime_type: str = "application/pdf", caption: str | None = None, *,
                            chat_id: int | None = None, chat_type: str = "private"
                            ) -> ChatMessage:
        """Send a file as a document."""
        extension = file_name.rpartition(".")[2] or "bin"
        stored = self.emulator._store_file(data, "documents", extension, mime_type=mime_type,
                                           file_name=file_name)
        document = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                    "file_name": file_name, "mime_type": mime_type, "file_size": len(data)}
        return self._send(_with_caption({"document": document}, caption), chat_id, chat_type)

    async def send_video(self, data: bytes, duration: int = 5, width: int = 1280,
                         height: int = 720, caption: str | None = None,
                         media_group_id: str | None = None, *, chat_id: int | None = None,
                         chat_type: str = "private") -> ChatMessage:
        """Send a video (with a thumbnail, as phones send them)."""
        video = self.emulator._video_dict(data, duration, width, height)
        content = _with_caption({"video": video}, caption, media_group_id)
        return self._send(content, chat_id, chat_type)

    async def send_sticker(self, emoji: str = "👍", *, chat_id: int | None = None,
                           chat_type: str = "private") -> ChatMessage:
        """Send a sticker (a small WEBP)."""
        stored = self.emulator._store_file(_STICKER_BYTES, "stickers", "webp",
                                           mime_type="image/webp")
        sticker = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                   "type": "regular", "width": 512, "height": 512, "is_animated": False,
                   "is_video": False, "emoji": emoji, "set_name": "EmulatorStickers",
                   "file_size": len(_STICKER_BYTES)}
        return self._send({"sticker": sticker}, chat_id, chat_type)

    async def send_voice(self, data: bytes = _VOICE_BYTES, duration: int = 2, *,
                         chat_id: int | None = None, chat_type: str = "private") -> ChatMessage:
        """Send a voice note."""
        stored = self.emulator._store_file(data, "voice", "oga", mime_type="audio/ogg")
        voice = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                 "duration": duration, "mime_type": "audio/ogg", "file_size": len(data)}
        return self._send({"voice": voice}, chat_id, chat_type)

    async def send_location(self, latitude: float, longitude: float, *,
                            chat_id: int | None = None, chat_type: str = "private"
                            ) -> ChatMessage:
        """Share a location."""
        location = {"latitude": latitude, "longitude": longitude}
        return self._send({"location": location}, chat_id, chat_type)

    async def edit_text(self, message: ChatMessage, new_text: str) -> ChatMessage:
        """Edit one of the user's own text messages; the bot gets an ``edited_message``."""
        if message.from_bot or message.sender_id != self.id:
            raise AssertionError(f"{self!r} can only edit their own messages, not {message!r}")
        return self.emulator._edit_user_message(self, message, new_text)

    async def press(self, button: str, message: ChatMessage | int | None = None, *,
                    chat_id: int | None = None) -> str:
        """Tap an inline button (by its text or callback_data); returns the callback query id.

        Without ``message`` the latest bot message with inline buttons in the chat is used.
        """
        chat = self.emulator.chat(chat_id if chat_id is not None else self.id)
        target = self.emulator._message_with_buttons(chat, message)
        for row in target.buttons:
            for text, value in row:
                if button in (text, value):
                    return self._press(chat, target, text, value)
        raise AssertionError(f"no button {button!r} on {target!r}; "
                             f"buttons there: {_describe_buttons(target.buttons)}")

    def _press(self, chat: Chat, target: ChatMessage, text: str, value: str | None) -> str:
        raw_button = next(b for row in target.raw["reply_markup"]["inline_keyboard"]
                          for b in row if b.get("text") == text and _button_value(b) == value)
        if "callback_data" not in raw_button:
            raise AssertionError(f"button {text!r} opens {value!r}; it sends no callback query")
        self._cursors[chat.id] = len(chat.bot_activity)
        return self.emulator._press_button(self, chat, target, raw_button["callback_data"])

    def _send(self, content: dict[str, Any], chat_id: int | None, chat_type: str) -> ChatMessage:
        chat = self._chat_for(chat_id, chat_type)
        self._cursors[chat.id] = len(chat.bot_activity)
        return self.emulator._user_message(self, chat, content)

    def _chat_for(self, chat_id: int | None, chat_type: str) -> Chat:
        if chat_id is None and chat_type == "private":
            return self.chat
        if chat_id is None:
            chat_id = (DEFAULT_SUPERGROUP_CHAT_ID if chat_type == "supergroup"
                       else DEFAULT_GROUP_CHAT_ID)
        if chat_id == self.id:
            return self.chat
        return self.emulator.group(chat_id, chat_type=chat_type if chat_type != "private"
                                   else "group")

    # -- reading -------------------------------------------------------------------------------

    async def next_reply(self, timeout: float = 5.0, *, chat_id: int | None = None
                         ) -> ChatMessage:
        """The bot's next message or edit in this chat since the user last sent something."""
        chat = self.emulator.chat(chat_id if chat_id is not None else self.id)
        start = self._cursors.get(chat.id, 0)
        try:
            await self.emulator.wait_for(lambda: len(chat.bot_activity) > start, timeout)
        except TimeoutError:
            recent = chat.messages[-5:]
            raise TimeoutError(f"no reply from the bot in chat {chat.id} within {timeout} s; "
                               f"last messages: {recent}") from None
        self._cursors[chat.id] = start + 1
        return chat.bot_activity[start]

    def transcript(self) -> list[ChatMessage]:
        """The private chat's messages in order."""
        return self.emulator.transcript(self.id)

    def bot_messages(self) -> list[ChatMessage]:
        """The bot's messages in the private chat."""
        return self.emulator.bot_messages(self.id)

    @property
    def last_bot_message(self) -> ChatMessage | None:
        """The bot's latest message in the private chat."""
        return next((m for m in reversed(self.chat.messages) if m.from_bot), None)


def _with_caption(content: dict[str, Any], caption: str | None,
                  media_group_id: str | None = None) -> dict[str, Any]:
    if caption:
        content["caption"] = caption
    if media_group_id:
        content["media_group_id"] = media_group_id
    return content


def _describe_buttons(buttons: Buttons) -> str:
    if not buttons:
        return "none"
    return " | ".join(", ".join(f"{text!r}→{value!r}" for text, value in row) for row in buttons)


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


# What the bot calls, itself or through python-telegram-bot (getMe on start-up, answerCallbackQuery
# for query.answer(), editMessageReplyMarkup for message.edit_reply_markup()); sendDocument is what
# the transport's multipart test sends. Any other name answers 404, as Telegram does.
_API_METHODS = (
    "getMe", "getUpdates", "setWebhook", "deleteWebhook", "sendMessage", "editMessageText",
    "editMessageReplyMarkup", "answerCallbackQuery", "sendDocument", "getFile", "setMyCommands",
)


class TelegramEmulator:
    """A Telegram Bot API server for one bot, on loopback, with users a test can drive."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = "ambassador_test_bot",
                 bot_first_name: str = "Ambassador Bot", call_history: int = 10_000,
                 update_history: int = 10_000, state_dir: Path | None = None) -> None:
        """`state_dir`: where the last update id is kept, so an emulator started again on it
        continues the ids (as Telegram does) instead of repeating ones a bot has recorded."""
        self.token = token
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123456789
        self.bot_user: dict[str, Any] = {"id": bot_id, "is_bot": True,
                                         "first_name": bot_first_name, "username": bot_username}
        self.latency: float = 0.0  # simulated round trip per request, half before, half after
        self.faults = Faults()
        self.calls: deque[ApiCall] = deque(maxlen=call_history)
        self.call_counts: Counter[str] = Counter()
        self.callback_answers: list[CallbackAnswer] = []
        self.reply_timings: list[ReplyTiming] = []
        # Webhook retries back off from this delay, doubling up to the cap (Telegram's are
        # minutes; tests need milliseconds).
        self.webhook_retry_delay: float = 0.05
        self.webhook_retry_max_delay: float = 2.0
        self.webhook_max_attempts: int = 8
        self.webhook_timeout: float = 10.0

        self._methods: dict[str, tuple[str, Callable[[Params], Awaitable[Any]]]] = {
            name.lower(): (name, getattr(self, "_api_" + _snake(name))) for name in _API_METHODS
        }
        self._chats: dict[int, Chat] = {}
        self._users: dict[int, FakeUser] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._callback_queries: dict[str, tuple[int, int]] = {}  # id → (chat id, message id)
        self._pending: deque[_Update] = deque()
        self._history: dict[int, _Update] = {}
        self._update_history = update_history
        self._webhook: _Webhook | None = None
        # Set by getUpdates or setWebhook and kept until changed, as on Telegram; None = all.
        self._allowed_updates: frozenset[str] | None = None
        self._webhook_loop: asyncio.Task[None] | None = None
        self._poll_generation = 0
        self._counter = itertools.count(1)
        self._update_ids = KeptCounter(
            state_dir / "telegram-update-id.json" if state_dir is not None else None,
            FIRST_UPDATE_ID)
        self._updates_arrived = _Signal()
        self._changed = _Signal()
        self._subscribers: set[asyncio.Queue[bytes | None]] = set()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # -- life cycle ----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> TelegramEmulator:
        """Serve on ``host:port`` (port 0 picks a free one); returns self."""
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        self._add_control_routes(app.router)
        # access_log=None: per-request logging would dominate a benchmark of thousands of calls.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()
        logger.info("Telegram emulator listening on %s", self.url)
        return self

    async def stop(self) -> None:
        """Wake every long poll and event stream, stop webhook delivery, close the server."""
        self._closing.set()
        self._updates_arrived.notify()
        self._changed.notify()
        for queue in list(self._subscribers):
            _close_subscriber(queue)
        await self._stop_webhook_delivery()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        logger.info("Telegram emulator stopped")

    async def __aenter__(self) -> TelegramEmulator:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Root URL of the server, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder.base_url`` (PTB appends the token)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder.base_file_url`` (PTB appends the token)."""
        return f"{self.url}/file/bot"

    @property
    def api_url(self) -> str:
        """The bot's method URL prefix, e.g. for raw HTTP calls in tests."""
        return f"{self.url}/bot{self.token}/"

    # -- people and chats ----------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "Ann", username: str | None = None, *,
             last_name: str | None = None, language_code: str | None = "en") -> FakeUser:
        """The user with this id (created with a private chat on first use)."""
        if user_id in self._users:
            return self._users[user_id]
        if user_id <= 0:
            raise ValueError("user ids are positive; group chats have negative ids")
        user = FakeUser(self, user_id, first_name, username, last_name, language_code)
        self._users[user_id] = user
        self._chats.setdefault(user_id, Chat(user_id, "private", first_name=first_name,
                                             last_name=last_name, username=username))
        return user

    def group(self, chat_id: int = DEFAULT_GROUP_CHAT_ID, title: str = "Test group", *,
              chat_type: str = "group") -> Chat:
        """A group chat the bot is in (created on first use)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        if chat_id not in self._chats:
            self._chats[chat_id] = Chat(chat_id, chat_type, title=title)
        return self._chats[chat_id]

    def chat(self, chat_id: int) -> Chat:
        """A known chat; KeyError naming the known ones otherwise."""
        try:
            return self._chats[chat_id]
        except KeyError:
            raise KeyError(f"no chat {chat_id}; chats: {sorted(self._chats)}") from None

    @property
    def chats(self) -> list[Chat]:
        """Every chat, in creation order."""
        return list(self._chats.values())

    def transcript(self, chat_id: int) -> list[ChatMessage]:
        """The chat's messages in order, the user's and the bot's (empty for an unknown chat)."""
        chat = self._chats.get(chat_id)
        return list(chat.messages) if chat else []

    def bot_messages(self, chat_id: int) -> list[ChatMessage]:
        """The bot's messages in the chat."""
        chat = self._chats.get(chat_id)
        return list(chat.bot_sent) if chat else []

    @property
    def commands(self) -> list[tuple[str, str]]:
        """(command, description) pairs set with setMyCommands for the default scope."""
        return self.commands_for()

    def commands_for(self, scope: str = "default",
                     language_code: str = "") -> list[tuple[str, str]]:
        """Commands set for a scope type and language."""
        return [(c["command"], c["description"])
                for c in self._commands.get((scope, language_code), [])]

    def file_bytes(self, file_id: str) -> bytes:
        """The content of a stored file."""
        return self._files[file_id].data

    def calls_to(self, method: str) -> list[ApiCall]:
        """Recorded calls of one method (within the call history)."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    # -- updates -------------------------------------------------------------------------------

    @property
    def last_update_id(self) -> int | None:
        """The id of the most recent update injected (by this run or, with a state
        directory, an earlier one)."""
        last = self._update_ids.next - 1
        return last if last >= FIRST_UPDATE_ID else None

    @property
    def pending_update_count(self) -> int:
        """Updates not yet confirmed (polling) or delivered (webhook, in flight included)."""
        in_flight = len(self._webhook.in_flight) if self._webhook else 0
        return len(self._pending) + in_flight

    def push_update(self, update: dict[str, Any]) -> int:
        """Inject a raw update (``update_id`` is assigned when missing); returns its id."""
        kind = next(key for key in update if key != "update_id")
        body = update[kind]
        chat_id = (body.get("chat") or (body.get("message") or {}).get("chat") or {}).get("id")
        return self._inject(kind, body, chat_id, update.get("update_id"))

    def redeliver(self, update_id: int) -> None:
        """Deliver an earlier update again, byte for byte (what a retrying Telegram does)."""
        original = self._history.get(update_id)
        if original is None:
            raise KeyError(f"update {update_id} is not in the history "
                           f"(the last {self._update_history} are kept)")
        self._pending.append(_Update(original.update_id, original.kind, original.chat_id,
                                     original.body, time.perf_counter(), redelivery=True))
        self._updates_arrived.notify()

    def reset_timings(self) -> None:
        """Forget reply timings and unanswered updates (between benchmark rounds)."""
        self.reply_timings.clear()
        for chat in self._chats.values():
            chat.awaiting_answer.clear()

    # -- waiting -------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy; returns its value.

        The predicate is re-checked whenever the emulator sees something happen (an API call,
        an injected update, a webhook delivery attempt), never on a timer; so it should depend
        on something that changes along with one of those. Raises TimeoutError when
        ``timeout`` seconds pass first.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            await self._changed.wait(remaining)

    # -- internals: users' side ----------------------------------------------------------------

    def _inject(self, kind: str, body: dict[str, Any], chat_id: int | None,
                update_id: int | None = None) -> int:
        if update_id is None:
            update_id = self._update_ids.take()
        else:
            self._update_ids.seen(update_id)
        payload = json.dumps({"update_id": update_id, kind: body}, ensure_ascii=False,
                             separators=(",", ":"))
        update = _Update(update_id, kind, chat_id, payload, time.perf_counter())
        self._remember(update)
        if self._allowed_updates is not None and kind not in self._allowed_updates:
            return update_id  # Telegram drops what the bot said it does not want
        self._pending.append(update)
        # Only what a bot answers (messages, button presses) is timed; edits often go unanswered.
        if kind in ("message", "callback_query") and chat_id in self._chats:
            self._chats[chat_id].awaiting_answer.append((update_id, update.injected_at))
        self._updates_arrived.notify()
        self._changed.notify()
        return update_id

    def _remember(self, update: _Update) -> None:
        self._history[update.update_id] = update
        if len(self._history) > self._update_history:
            del self._history[next(iter(self._history))]  # dicts keep insertion order

    def _user_message(self, user: FakeUser, chat: Chat, content: dict[str, Any]) -> ChatMessage:
        raw = {"message_id": chat.allocate_message_id(), "from": user.api_dict,
               "chat": chat.api_dict(), "date": int(time.time()), **content}
        message = ChatMessage(chat.id, raw["message_id"], False, raw, user.id,
                              sent_at=time.perf_counter())
        chat.add(message)
        message.update_id = self._inject("message", raw, chat.id)
        self._publish("message", message)
        return message

    def _edit_user_message(self, user: FakeUser, message: ChatMessage, text: str) -> ChatMessage:
        message.raw["text"] = text
        message.raw.pop("entities", None)
        message.raw["edit_date"] = int(time.time())
        message.edited = True
        chat = self.chat(message.chat_id)
        user._cursors[chat.id] = len(chat.bot_activity)
        self._inject("edited_message", message.raw, chat.id)
        self._publish("edited", message)
        return message

    def _message_with_buttons(self, chat: Chat, message: ChatMessage | int | None) -> ChatMessage:
        if isinstance(message, ChatMessage):
            return message
        if isinstance(message, int):
            if message not in chat.by_id:
                raise AssertionError(f"no message {message} in chat {chat.id}")
            return chat.by_id[message]
        for candidate in reversed(chat.messages):
            if candidate.from_bot and candidate.buttons:
                return candidate
        raise AssertionError(f"no bot message with inline buttons in chat {chat.id}; "
                             f"last messages: {chat.messages[-5:]}")

    def _press_button(self, user: FakeUser, chat: Chat, message: ChatMessage, data: str) -> str:
        query_id = str(4_200_000_000_000_000_000 + next(self._counter))
        self._callback_queries[query_id] = (chat.id, message.message_id)
        query = {"id": query_id, "from": user.api_dict, "message": dict(message.raw),
                 "chat_instance": str(abs(chat.id) * 7919 % 10**18), "data": data}
        self._inject("callback_query", query, chat.id)
        return query_id

    def _new_media_group_id(self) -> str:
        return str(13_000_000_000_000_000 + next(self._counter))

    # -- internals: files ----------------------------------------------------------------------

    def _store_file(self, data: bytes, folder: str, extension: str, *,
                    mime_type: str | None = None, file_name: str | None = None) -> StoredFile:
        number = next(self._counter)
        stored = StoredFile(
            file_id=f"BQACAgQAAxkBAAE{number:010d}{folder[:2].upper()}",
            file_unique_id=f"AgAD{number:08d}",
            file_path=f"{folder}/file_{number}.{extension.lower()}",
            data=data, mime_type=mime_type, file_name=file_name,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _photo_sizes(self, data: bytes) -> list[dict[str, Any]]:
        """PhotoSize entries like Telegram's (90, 320, 800 and ≤1280 px), all of these bytes."""
        width, height = _image_size(data) or (800, 600)
        sides = [side for side in PHOTO_SIDES if max(width, height) > side]
        sides.append(min(max(width, height), PHOTO_MAX_SIDE))
        sizes = []
        for side in sides:
            stored = self._store_file(data, "photos", "jpg", mime_type="image/jpeg")
            size_width, size_height = _scaled(width, height, side)
            sizes.append({"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                          "width": size_width, "height": size_height, "file_size": len(data)})
        return sizes

    def _thumbnail(self) -> dict[str, Any]:
        stored = self._store_file(_THUMBNAIL_BYTES, "thumbnails", "jpg", mime_type="image/jpeg")
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "width": 320, "height": 180, "file_size": len(_THUMBNAIL_BYTES)}

    def _video_dict(self, data: bytes, duration: int, width: int, height: int,
                    file_name: str | None = None, mime_type: str = "video/mp4") -> dict[str, Any]:
        stored = self._store_file(data, "videos", "mp4", mime_type=mime_type,
                                  file_name=file_name)
        video: dict[str, Any] = {"file_id": stored.file_id,
                                 "file_unique_id": stored.file_unique_id, "width": width,
                                 "height": height, "duration": duration,
                                 "thumbnail": self._thumbnail(), "mime_type": mime_type,
                                 "file_size": len(data)}
        if file_name:
            video["file_name"] = file_name
        return video

    def _input_file(self, params: Params, files: dict[str, UploadedFile],
                    key: str) -> UploadedFile | StoredFile | str:
        """Resolve a file parameter: an upload, an ``attach://`` part, a file_id or a URL."""
        value = params.get(key)
        if isinstance(value, UploadedFile):
            return value
        if key in files and value is None:
            return files[key]
        if isinstance(value, str):
            if value.startswith("attach://") and value[9:] in files:
                return files[value[9:]]
            if value in self._files:
                return self._files[value]
            if value.startswith(("http://", "https://")):
                return value  # not fetched: the emulator has no internet
        raise _bad_request("wrong file identifier/HTTP URL specified")

    def _file_data(self, source: UploadedFile | StoredFile | str) -> tuple[bytes, str | None]:
        if isinstance(source, str):
            return b"", None
        if isinstance(source, UploadedFile):
            return source.data, source.filename
        return source.data, source.file_name

    # -- internals: the bot's side -------------------------------------------------------------

    def _target_chat(self, params: Params) -> Chat:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None and isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next((c for c in self._chats.values() if c.username == chat_id[1:]), None)
        if chat is None:
            raise _bad_request("chat not found")
        if chat.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _bot_message(self, chat: Chat, params: Params, content: dict[str, Any],
                     media_group_id: str | None = None) -> dict[str, Any]:
        """Record a message from the bot and return the Message object to answer with."""
        inline, keyboard, remove = _parse_reply_markup(params.get("reply_markup"))
        raw: dict[str, Any] = {"message_id": chat.allocate_message_id(), "from": self.bot_user,
                               "chat": chat.api_dict(), "date": int(time.time()), **content}
        if media_group_id:
            raw["media_group_id"] = media_group_id
        if entities := params.get("entities") or params.get("caption_entities"):
            raw["caption_entities" if "caption" in content else "entities"] = entities
        if inline is not None:
            raw["reply_markup"] = inline
        if replied := self._replied_message(chat, params):
            raw["reply_to_message"] = dict(replied.raw)
        if keyboard is not None:
            chat.reply_keyboard = keyboard
        elif remove:
            chat.reply_keyboard = None
        now = time.perf_counter()
        message = ChatMessage(chat.id, raw["message_id"], True, raw, self.bot_user["id"],
                              parse_mode=params.get("parse_mode"), reply_keyboard=keyboard,
                              sent_at=now)
        chat.add(message)
        self._note_bot_activity(chat, message, now)
        self._publish("message", message)
        return raw

    def _replied_message(self, chat: Chat, params: Params) -> ChatMessage | None:
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id") or params.get("reply_to_message_id")
        if not message_id:
            return None
        replied = chat.by_id.get(int(message_id))
        if replied is None:
            allowed = reply.get("allow_sending_without_reply") or params.get(
                "allow_sending_without_reply")
            if allowed:
                return None
            raise _bad_request("message to be replied not found")
        return replied

    def _note_bot_activity(self, chat: Chat, message: ChatMessage, now: float) -> None:
        """Wake next_reply() waiters and time the answer to the oldest unanswered update.

        Timing assumes one answer per update (the echo floor and form steps both do that).
        """
        chat.bot_activity.append(message)
        if chat.awaiting_answer:
            update_id, injected_at = chat.awaiting_answer.popleft()
            self.reply_timings.append(ReplyTiming(update_id, chat.id, injected_at, now))

    def _editable_message(self, params: Params) -> tuple[Chat, ChatMessage]:
        if params.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")  # inline mode is not emulated
        chat = self._target_chat(params)
        message = chat.by_id.get(params.get("message_id"))  # type: ignore[arg-type]
        if message is None:
            raise _bad_request("message to edit not found")
        if not message.from_bot:
            raise _bad_request("message can't be edited")
        return chat, message

    def _apply_edit(self, chat: Chat, message: ChatMessage, changes: dict[str, Any],
                    markup: dict[str, Any] | None, parse_mode: str | None) -> dict[str, Any]:
        """Change a bot message in place, refusing an edit that changes nothing."""
        raw = message.raw
        unchanged = all(raw.get(key) == value for key, value in changes.items())
        if unchanged and raw.get("reply_markup") == markup and (
                not changes or message.parse_mode == parse_mode):
            raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
        if changes:
            message.earlier.append(raw.get("text") or raw.get("caption") or "")
        for key, value in changes.items():
            if value is None:
                raw.pop(key, None)
            else:
                raw[key] = value
        if markup is None:
            raw.pop("reply_markup", None)  # an edit without reply_markup drops the keyboard
        else:
            raw["reply_markup"] = markup
        if changes:
            message.parse_mode = parse_mode
        raw["edit_date"] = int(time.time())
        message.edited = True
        self._note_bot_activity(chat, message, time.perf_counter())
        self._publish("edited", message)
        return raw

    # -- Bot API methods -----------------------------------------------------------------------

    async def _api_get_me(self, params: Params) -> Any:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    async def _api_get_updates(self, params: Params) -> Any:
        if self._webhook is not None:
            raise BotApiError(409, _WEBHOOK_CONFLICT)
        # Only one long poll at a time, as on Telegram: a newer one ends the older with 409.
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_arrived.notify()
        self._set_allowed_updates(params.get("allowed_updates"))
        self._confirm(params.get("offset"))
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise BotApiError(409, _POLL_CONFLICT)
            if self._webhook is not None:
                raise BotApiError(409, _WEBHOOK_CONFLICT)
            remaining = deadline - time.monotonic()
            if self._pending or remaining <= 0 or self._is_closing():
                break
            await self._updates_arrived.wait(remaining)
        batch = self._take_batch(limit)
        return _Raw("[" + ",".join(update.body for update in batch) + "]")

    def _set_allowed_updates(self, allowed: Any) -> None:
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else None

    def _confirm(self, offset: Any) -> None:
        """Forget updates below ``offset`` (a negative offset keeps only the last -offset)."""
        if not offset:
            return
        offset = int(offset)
        pending = self._pending
        if offset < 0:
            while len(pending) > -offset:
                pending.popleft()
            return
        # A redelivered copy carries an old id; it is only confirmed once it was handed out.
        while pending and pending[0].update_id < offset and (
                pending[0].delivered or not pending[0].redelivery):
            pending.popleft()

    def _take_batch(self, limit: int) -> list[_Update]:
        """Up to ``limit`` updates from the front, in ascending id order.

        A redelivered update (whose id is lower than the one before it) starts a new batch, so
        the bot's "last id + 1" offset never confirms something it has not seen.
        """
        batch: list[_Update] = []
        for update in itertools.islice(self._pending, limit):
            if batch and update.update_id <= batch[-1].update_id:
                break
            update.delivered = True
            batch.append(update)
        return batch

    async def _api_set_webhook(self, params: Params) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._api_delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise _bad_request("bad webhook: Failed to resolve host: Name or service not known")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.match(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        max_connections = min(max(int(params.get("max_connections") or 40), 1), 100)
        if params.get("drop_pending_updates"):
            self._pending.clear()
        await self._stop_webhook_delivery()
        self._set_allowed_updates(params.get("allowed_updates"))
        self._webhook = _Webhook(url, str(secret) if secret else None, max_connections)
        self._updates_arrived.notify()  # ends a waiting long poll with 409
        self._webhook_loop = asyncio.create_task(self._deliver_webhooks(self._webhook))
        return _Described(True, "Webhook was set")

    async def _api_delete_webhook(self, params: Params) -> Any:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if self._webhook is None:
            return _Described(True, "Webhook is already deleted")
        await self._stop_webhook_delivery()
        return _Described(True, "Webhook was deleted")

    async def _api_send_message(self, params: Params) -> Any:
        chat = self._target_chat(params)
        text = _require_text(params, "text", limit=MAX_MESSAGE_LENGTH,
                             empty="message text is empty", too_long="message is too long")
        return self._bot_message(chat, params, {"text": text})

    async def _api_edit_message_text(self, params: Params) -> Any:
        chat, message = self._editable_message(params)
        text = _require_text(params, "text", limit=MAX_MESSAGE_LENGTH,
                             empty="message text is empty", too_long="message is too long")
        if "text" not in message.raw:
            raise _bad_request("there is no text in the message to edit")
        markup, _, _ = _parse_reply_markup(params.get("reply_markup"))
        changes = {"text": text, "entities": params.get("entities")}
        return self._apply_edit(chat, message, changes, markup, params.get("parse_mode"))

    async def _api_edit_message_reply_markup(self, params: Params) -> Any:
        chat, message = self._editable_message(params)
        markup, _, _ = _parse_reply_markup(params.get("reply_markup"))
        return self._apply_edit(chat, message, {}, markup, message.parse_mode)

    async def _api_answer_callback_query(self, params: Params) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        origin = self._callback_queries.pop(query_id, None)
        if origin is None:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid")
        answer = CallbackAnswer(query_id, origin[0], params.get("text"),
                                bool(params.get("show_alert")), params.get("url"))
        self.callback_answers.append(answer)
        if self._subscribers:
            self._broadcast({"type": "callback_answer", "chat_id": origin[0],
                             "text": answer.text, "show_alert": answer.show_alert})
        return True

    async def _api_send_document(self, params: Params, files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        source = self._input_file(params, files, "document")
        data, name = self._file_data(source)
        uploaded_type = source.content_type if isinstance(source, UploadedFile) else None
        mime = uploaded_type or "application/octet-stream"
        name = name or "document"
        stored = self._store_file(data, "documents", name.rpartition(".")[2] or "bin",
                                  mime_type=mime, file_name=name)
        document = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                    "file_name": name, "mime_type": mime, "file_size": len(data)}
        content = _with_caption({"document": document}, _optional_caption(params))
        return self._bot_message(chat, params, content)

    async def _api_get_file(self, params: Params) -> Any:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad_request("wrong file_id or the file is temporarily unavailable")
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise _bad_request("file is too big")
        return stored.api_dict()

    async def _api_set_my_commands(self, params: Params) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            if not _COMMAND_RE.match(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._command_key(params)] = [
            {"command": str(c["command"]), "description": str(c["description"])}
            for c in commands]
        return True

    @staticmethod
    def _command_key(params: Params) -> tuple[str, str]:
        scope = params.get("scope") or {}
        return str(scope.get("type", "default")), str(params.get("language_code") or "")

    # -- HTTP: the Bot API ---------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json_response(_error_body(BotApiError(401, "Unauthorized")), 401)
        params, files = await self._read_params(request)
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return _json_response(_error_body(BotApiError(404, "Not Found")), 404)
        name, handler = entry
        if self.latency:
            await asyncio.sleep(self.latency / 2)
        call = ApiCall(name, params, time.perf_counter())
        self.calls.append(call)
        self.call_counts[name] += 1
        response = await self._answer(name, handler, params, files)
        call.status = response.status
        self._changed.notify()
        if self.latency:
            await asyncio.sleep(self.latency / 2)
        return response

    async def _answer(self, name: str, handler: Callable[..., Awaitable[Any]], params: Params,
                      files: dict[str, UploadedFile]) -> web.Response:
        fault = self.faults.take(name)
        if fault is not None:
            faulted = await self._fault_response(fault)
            if faulted is not None:
                return faulted
        try:
            if name == "sendDocument":
                result = await handler(params, files)
            else:
                result = await handler(params)
        except BotApiError as error:
            return _json_response(_error_body(error), error.status)
        except Exception:
            # A bug in the emulator: answer like Telegram's 500 so the bot's retry path runs,
            # and say loudly what broke.
            logger.exception("Telegram emulator failed on %s", name)
            return _json_response(_error_body(BotApiError(500, "Internal Server Error")), 500)
        return _json_response(_ok_body(result))

    async def _fault_response(self, fault: Fault) -> web.Response | None:
        if fault.hang_seconds:
            await self._sleep_unless_closing(fault.hang_seconds)
            if fault.then_answer:
                return None
        if fault.html_body is not None:
            return web.Response(text=fault.html_body, status=fault.status,
                                content_type="text/html")
        parameters = {"retry_after": fault.retry_after} if fault.retry_after else None
        return _json_response(_error_body(BotApiError(fault.status, fault.description,
                                                      parameters)), fault.status)

    async def _read_params(self, request: web.Request) -> tuple[Params, dict[str, UploadedFile]]:
        """Parameters from the query string and a JSON, url-encoded or multipart body."""
        params: Params = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = UploadedFile(value.filename, value.content_type,
                                                  value.file.read())
                    else:
                        params[key] = value
        for key, upload in files.items():
            params.setdefault(key, upload)  # so `emu.calls` shows what was uploaded
        return _decode_params(params), files

    async def _handle_download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json_response(_error_body(BotApiError(401, "Unauthorized")), 401)
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return _json_response(_error_body(BotApiError(404, "Not Found")), 404)
        if self.latency:
            await asyncio.sleep(self.latency)
        return web.Response(body=stored.data,
                            content_type=stored.mime_type or "application/octet-stream")

    # -- webhook delivery ----------------------------------------------------------------------

    async def _deliver_webhooks(self, hook: _Webhook) -> None:
        """Push pending updates to the webhook: max_connections at once, in order per chat."""
        slots = asyncio.Semaphore(hook.max_connections)
        tails: dict[Any, asyncio.Task[None]] = {}
        while self._webhook is hook and not self._is_closing():
            if not self._pending:
                await self._updates_arrived.wait(None)
                continue
            await slots.acquire()
            if self._webhook is not hook or not self._pending:
                slots.release()
                continue
            update = self._pending.popleft()
            hook.in_flight[id(update)] = update
            key = update.chat_id if update.chat_id is not None else ("update", update.update_id)
            task = asyncio.create_task(self._deliver_one(hook, update, tails.get(key), slots))
            tails[key] = task
            hook.tasks.add(task)
            task.add_done_callback(hook.tasks.discard)
            task.add_done_callback(
                lambda done, key=key: tails.pop(key) if tails.get(key) is done else None)

    async def _deliver_one(self, hook: _Webhook, update: _Update,
                           previous: asyncio.Task[None] | None, slots: asyncio.Semaphore) -> None:
        """POST one update, retrying with back-off until a 2xx or the attempts run out."""
        try:
            if previous is not None:
                await asyncio.wait([previous])  # keep one chat's updates in order
            error: str | None = None
            for attempt in range(self.webhook_max_attempts):
                error = await self._post_update(hook, update)
                self._changed.notify()  # a test may be waiting on what its endpoint received
                if error is None:
                    return
                delay = min(self.webhook_retry_delay * 2 ** attempt, self.webhook_retry_max_delay)
                await self._sleep_unless_closing(delay)
            logger.warning("Gave up delivering update %s to the webhook after %s attempts: %s",
                           update.update_id, self.webhook_max_attempts, error)
        finally:
            slots.release()
            # Still here only if cancelled by deleteWebhook/setWebhook: then it goes back.
            if not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                hook.in_flight.pop(id(update), None)

    async def _post_update(self, hook: _Webhook, update: _Update) -> str | None:
        """One delivery attempt; None on success, else what failed, in Telegram's words."""
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with self._session.post(
                    hook.url, data=update.body.encode(), headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"Connection failed: {exc.__class__.__name__}"

    async def _stop_webhook_delivery(self) -> None:
        hook, self._webhook = self._webhook, None
        loop_task, self._webhook_loop = self._webhook_loop, None
        self._updates_arrived.notify()
        tasks = [loop_task] if loop_task else []
        if hook is not None:
            tasks += list(hook.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if hook is not None and hook.in_flight and not self._is_closing():
            # Undelivered updates go back to the front, oldest first, for getUpdates.
            self._pending.extendleft(sorted(hook.in_flight.values(),
                                            key=lambda update: update.update_id, reverse=True))

    # -- control API for the sandbox page ------------------------------------------------------

    def _add_control_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/_emulator/chats", self._control_chats)
        router.add_get("/_emulator/chats/{chat_id}/messages", self._control_messages)
        router.add_post("/_emulator/users/{user_id}/text", self._control_text)
        router.add_post("/_emulator/users/{user_id}/press", self._control_press)
        router.add_post("/_emulator/users/{user_id}/photo", self._control_photo)
        router.add_get("/_emulator/files/{file_id}", self._control_file)
        router.add_get("/_emulator/events", self._control_events)

    async def _control_chats(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "bot": self.bot_user, "commands": self.commands,
                                  "chats": [chat.summary() for chat in self._chats.values()]})

    async def _control_messages(self, request: web.Request) -> web.Response:
        chat_id = int(request.match_info["chat_id"])
        if chat_id not in self._chats:
            return web.json_response({"ok": False, "error": f"no chat {chat_id}"}, status=404)
        chat = self._chats[chat_id]
        return web.json_response({"ok": True, "chat": chat.summary(),
                                  "messages": [m.to_json() for m in chat.messages]})

    async def _control_text(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        user = self._control_user(request, body)
        message = await user.send_text(str(body.get("text", "")), chat_id=body.get("chat_id"),
                                       chat_type=body.get("chat_type", "private"))
        return web.json_response({"ok": True, "message": message.to_json()})

    async def _control_press(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        user = self._control_user(request, body)
        try:
            query_id = await user.press(str(body.get("button", "")), body.get("message_id"),
                                        chat_id=body.get("chat_id"))
        except AssertionError as error:
            return web.json_response({"ok": False, "error": str(error)}, status=400)
        return web.json_response({"ok": True, "callback_query_id": query_id})

    async def _control_photo(self, request: web.Request) -> web.Response:
        caption: str | None = None
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            upload = form.get("photo") or form.get("file")
            if not isinstance(upload, web.FileField):
                return web.json_response({"ok": False, "error": "no 'photo' file part"},
                                         status=400)
            data = upload.file.read()
            caption = str(form["caption"]) if form.get("caption") else None
            fields: dict[str, Any] = dict(form)
        else:
            data = await request.read()
            fields = dict(request.query)
            caption = fields.get("caption")
        user = self._control_user(request, fields)
        message = await user.send_photo(data, caption)
        return web.json_response({"ok": True, "message": message.to_json()})

    def _control_user(self, request: web.Request, body: dict[str, Any]) -> FakeUser:
        user_id = int(request.match_info["user_id"])
        return self.user(user_id, str(body.get("first_name") or f"User {user_id}"),
                         body.get("username") or None)

    async def _control_file(self, request: web.Request) -> web.Response:
        stored = self._files.get(request.match_info["file_id"])
        if stored is None:
            return web.json_response({"ok": False, "error": "no such file"}, status=404)
        return web.Response(body=stored.data,
                            content_type=stored.mime_type or "application/octet-stream")

    async def _control_events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: one ``data:`` line of JSON per new or edited message."""
        response = web.StreamResponse(headers={"Cache-Control": "no-cache"})
        response.content_type = "text/event-stream"
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        try:
            await response.write(b": connected\n\n")
            while not self._is_closing():
                try:
                    chunk = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    chunk = b": keep-alive\n\n"  # so proxies and browsers keep the stream open
                if chunk is None:
                    break
                await response.write(chunk)
        except ConnectionResetError:
            pass  # the page went away
        finally:
            self._subscribers.discard(queue)
        return response

    def _publish(self, kind: str, message: ChatMessage) -> None:
        if self._subscribers:  # nothing to build when no page is watching (benchmarks)
            self._broadcast({"type": kind, "chat_id": message.chat_id,
                             "message": message.to_json()})

    def _broadcast(self, event: dict[str, Any]) -> None:
        chunk = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(chunk)
            except asyncio.QueueFull:
                # A page that stopped reading: end its stream; EventSource reconnects.
                self._subscribers.discard(queue)
                _close_subscriber(queue)

    # -- small internals -----------------------------------------------------------------------

    def _is_closing(self) -> bool:
        return self._closing.is_set()

    async def _sleep_unless_closing(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)


def _ok_body(result: Any) -> str:
    if isinstance(result, _Raw):
        return '{"ok":true,"result":' + result.json + "}"
    if isinstance(result, _Described):
        return json.dumps({"ok": True, "result": result.result,
                           "description": result.description}, ensure_ascii=False)
    return json.dumps({"ok": True, "result": result}, ensure_ascii=False)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The JSON object body of a control request; 400 for anything else."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"ok": false, "error": "send a JSON object"}',
                                 content_type="application/json")
    return body


def _close_subscriber(queue: asyncio.Queue[bytes | None]) -> None:
    """End an events stream: empty its queue and leave the end marker."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()

