"""A Slack Web API emulator on loopback, for tests, benchmarks and the sandbox (DESIGN §10).

It plays both halves of Slack:

* **Slack's Web API** for the bot: slack_sdk's ``AsyncWebClient(token=..., base_url=emu.api_base_url)``
  talks to it exactly as to Slack, for the methods the app calls (chat, views, conversations.open,
  files). It keeps what a workspace would show: messages per channel with their edits, ephemerals
  per user, the modal stack and App Home per user, and answers with Slack's own errors (``channel_not_found``,
  ``invalid_blocks``, ``expired_trigger_id`` …).
* **Slack's side of the app's Request URL** for the people: ``click``, ``slash_command``,
  ``submit_view``, ``send_dm``, ``send_event`` post correctly signed requests to ``emu.app_url``
  (``…/slack/events`` of the app's own aiohttp server) the way Slack does, with fresh trigger ids
  and response URLs served here.

A web page (the sandbox) reads and drives it through JSON endpoints under ``/_emulator/`` and
follows changes on the server-sent-events stream ``/_emulator/events``.

Typical test::

    async with SlackEmulator(bot_token="xoxb-test", signing_secret="secret") as emu:
        emu.add_user("U1", "alice")
        emu.add_channel("#engagements")
        client = AsyncWebClient(token="xoxb-test", base_url=emu.api_base_url)
        await client.chat_postMessage(channel="#engagements", text="hi")
        assert emu.messages("#engagements")[0].text == "hi"
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import mimetypes
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.emulators.ids import KeptCounter

logger = logging.getLogger(__name__)

__all__ = [
    "ApiCall",
    "AppResponse",
    "Button",
    "EmulatorUsageError",
    "Fault",
    "FaultPlan",
    "ManualClock",
    "SlackChannel",
    "SlackEmulator",
    "SlackFile",
    "SlackMessage",
    "SlackUser",
    "SlackView",
    "MessageVersion",
]

TEAM_ID = "T0EMULATE1"
TEAM_DOMAIN = "emulated-workspace"
APP_ID = "A0EMULATE1"
BOT_ID = "B0EMULATE1"
BOT_USER_ID = "U0EMULBOT1"
ENTERPRISE_ID = None

#: Slack lets an app exchange a trigger_id for a modal within three seconds, once.
TRIGGER_TTL_SECONDS = 3.0
#: A response_url accepts five posts (within 30 minutes; the time limit is not emulated).
RESPONSE_URL_USES = 5
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_VIEW_STACK = 3
HOME_TITLE = {"type": "plain_text", "text": "View Title", "emoji": True}
# What chat.update's answer leaves out of the message: Slack returns the edited content, not the
# message as history shows it (tests/bot/recorded/slack/chat.update.json).
_NOT_IN_UPDATE_ANSWER = ("ts", "edited", "app_id")

# Element kinds by the shape Slack gives their value in state and in block_actions.
_TEXT_VALUE = {"plain_text_input", "number_input", "email_text_input", "url_text_input"}
_ONE_OPTION = {"static_select", "external_select", "radio_buttons", "overflow"}
_MANY_OPTIONS = {"multi_static_select", "multi_external_select", "checkboxes"}
_SINGLE_FIELD = {
    "users_select": ("selected_user", "initial_user"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "channels_select": ("selected_channel", "initial_channel"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
}
_LIST_FIELD = {
    "multi_users_select": ("selected_users", "initial_users"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
}
_INTERACTIVE = (
    {"button", "rich_text_input", "file_input"} | _TEXT_VALUE | _ONE_OPTION | _MANY_OPTIONS
    | set(_SINGLE_FIELD) | set(_LIST_FIELD)
)
_BLOCK_TYPES = {
    "section", "divider", "image", "actions", "context", "input", "file", "header", "video",
    "rich_text", "markdown", "table", "context_actions", "call",
}

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


class EmulatorUsageError(AssertionError):
    """A test or the sandbox asked for something no Slack user could do (e.g. click a missing button).

    An AssertionError so pytest shows it as a failed expectation, with the message listing what
    was available instead.
    """


class ManualClock:
    """A clock a test moves by hand: ``clock = ManualClock(); SlackEmulator(..., clock=clock)``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward, e.g. past the 3-second trigger_id limit."""
        self.now += seconds


@dataclass
class SlackUser:
    """A member of the emulated workspace; ``dm_channel`` is their DM with the app."""

    id: str
    name: str
    real_name: str
    is_admin: bool
    dm_channel: str

    def to_payload(self) -> dict[str, Any]:
        """The user object, as Slack's users.info gives it (the control API lists these)."""
        profile = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "team": TEAM_ID,
        }
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": False,
            "real_name": self.real_name,
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": False,
            "is_app_user": False,
        }

    def to_actor(self) -> dict[str, Any]:
        """The ``user`` object of interactivity payloads."""
        return {"id": self.id, "username": self.name, "name": self.name, "team_id": TEAM_ID}


@dataclass
class MessageVersion:
    """What a message said before an edit (chat.update or replace_original)."""

    text: str
    blocks: list[dict[str, Any]]
    replaced_at_ts: str


@dataclass
class SlackMessage:
    """A message as the workspace shows it now; edits keep the earlier versions in ``edits``.

    ``user`` is the author's user id (the bot's user id for the app's messages); ``bot_id`` is set
    only for the app's messages. ``ephemeral_to`` is set for ephemeral messages.
    """

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str
    bot_id: str | None = None
    thread_ts: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    ephemeral_to: str | None = None
    edits: list[MessageVersion] = field(default_factory=list)
    reply_count: int = 0
    deleted: bool = False

    @property
    def from_bot(self) -> bool:
        """Whether the app posted it."""
        return self.bot_id is not None

    def to_payload(self) -> dict[str, Any]:
        """The message object as Slack returns it (history, postMessage, block_actions)."""
        payload: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text, "user": self.user,
                                   "team": TEAM_ID}
        if self.bot_id:
            payload["bot_id"] = self.bot_id
            payload["app_id"] = APP_ID
        if self.blocks:
            payload["blocks"] = self.blocks
        if self.attachments:
            payload["attachments"] = self.attachments
        if self.thread_ts:
            payload["thread_ts"] = self.thread_ts
        if self.files:
            payload["files"] = self.files
            payload["upload"] = False
        if self.metadata:
            payload["metadata"] = self.metadata
        if self.edits:
            payload["edited"] = {"user": self.user, "ts": self.edits[-1].replaced_at_ts}
        if self.reply_count:
            payload["reply_count"] = self.reply_count
        return payload


@dataclass
class SlackChannel:
    """A public/private channel or a DM (``is_im``, ``user`` set) and its messages in order."""

    id: str
    name: str
    is_im: bool = False
    is_private: bool = False
    user: str | None = None
    is_archived: bool = False
    created: int = 0
    # ts → message; a dict keeps insertion order and makes update/delete O(1).
    by_ts: dict[str, SlackMessage] = field(default_factory=dict, repr=False)

    def to_payload(self) -> dict[str, Any]:
        """The IM object conversations.open gives with ``return_im`` (DMs are all the app opens)."""
        return {"id": self.id, "created": self.created, "is_im": True, "is_org_shared": False,
                "user": self.user, "is_user_deleted": False, "priority": 0}


@dataclass
class SlackFile:
    """A file uploaded through files.getUploadURLExternal; ``content`` is the bytes received."""

    id: str
    name: str
    title: str
    length: int
    user: str
    created: int
    url_private: str
    alt_txt: str | None = None
    content: bytes | None = None
    channels: list[str] = field(default_factory=list)

    @property
    def mimetype(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    def to_payload(self) -> dict[str, Any]:
        """The file object shared in messages and returned by files.completeUploadExternal."""
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title,
            "mimetype": self.mimetype,
            "filetype": self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "binary",
            "user": self.user,
            "size": len(self.content) if self.content is not None else self.length,
            "url_private": self.url_private,
            "url_private_download": self.url_private,
            "permalink": self.url_private,
            "is_external": False,
            "channels": list(self.channels),
        } | ({"alt_txt": self.alt_txt} if self.alt_txt else {})  # Slack leaves it out when unset


@dataclass
class SlackView:
    """An open modal or a published App Home; ``definition`` is the view as the app last sent it."""

    id: str
    user: str
    definition: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    state_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The field errors of the app's last ``response_action: errors`` (block_id → message).
    errors: dict[str, str] = field(default_factory=dict)
    closed: bool = False

    @property
    def type(self) -> str:
        return str(self.definition.get("type", "modal"))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return self.definition.get("blocks") or []

    @property
    def callback_id(self) -> str:
        return str(self.definition.get("callback_id") or "")

    @property
    def private_metadata(self) -> str:
        return str(self.definition.get("private_metadata") or "")

    @property
    def external_id(self) -> str:
        return str(self.definition.get("external_id") or "")

    @property
    def title(self) -> str:
        return str((self.definition.get("title") or {}).get("text", ""))

    def to_payload(self) -> dict[str, Any]:
        """The view object of views.* answers and of view_submission / block_actions payloads."""
        payload: dict[str, Any] = {
            "id": self.id,
            "team_id": TEAM_ID,
            "type": self.type,
            "blocks": self.blocks,
            "private_metadata": self.private_metadata,
            "callback_id": self.callback_id,
            "state": {"values": self.state_values},
            "hash": self.hash,
            "clear_on_close": bool(self.definition.get("clear_on_close", False)),
            "notify_on_close": bool(self.definition.get("notify_on_close", False)),
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "app_id": APP_ID,
            "external_id": self.external_id,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        for key in ("title", "submit", "close"):
            payload[key] = self.definition.get(key)
        if payload["title"] is None and self.type == "home":
            payload["title"] = dict(HOME_TITLE)  # what Slack answers for an App Home published without one
        return payload


@dataclass
class ApiCall:
    """One request to the Web API (or a response_url), with what was answered."""

    method: str
    args: dict[str, Any]
    response: dict[str, Any]
    status: int
    at: float

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))


@dataclass
class AppResponse:
    """What the app answered to a request the emulator made as Slack."""

    status: int
    body: str
    headers: dict[str, str]
    elapsed: float
    #: What real Slack would have refused in the app's answer (bad response_action, bad blocks …).
    problems: list[str] = field(default_factory=list)
    #: The request as sent (body, content type), so :meth:`SlackEmulator.retry` can send it again.
    request: tuple[str, str] | None = field(default=None, repr=False)
    #: What Slack does with the app's answer (shows a slash command's reply); repeated on retry.
    after: Callable[[AppResponse], None] | None = field(default=None, repr=False)

    @property
    def data(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def errors(self) -> dict[str, str]:
        """The field errors of a ``response_action: errors`` answer to a view submission."""
        data = self.data
        if isinstance(data, dict) and data.get("response_action") == "errors":
            return dict(data.get("errors") or {})
        return {}

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "data": self.data, "errors": self.errors,
                "elapsed": self.elapsed, "problems": self.problems}


class Button(NamedTuple):
    """A button found in a message's or view's blocks."""

    text: str
    action_id: str
    value: str | None


@dataclass
class _Trigger:
    user: str
    issued_at: float
    used: bool = False


@dataclass
class _ResponseTarget:
    """Where posts to one response_url land: the clicked message, or the command's channel."""

    user: str
    channel: str
    message_ts: str | None
    ephemeral: bool
    uses: int = 0


class _ApiError(Exception):
    """Ends a Web API method with Slack's ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, problems: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.problems = problems or []

    def to_response(self) -> dict[str, Any]:
        response: dict[str, Any] = {"ok": False, "error": self.error}
        if self.problems:
            response["errors"] = self.problems
            response["response_metadata"] = {"messages": [f"[ERROR] {p}" for p in self.problems]}
        return response


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------


@dataclass
class Fault:
    """One planned failure; ``method=None`` matches every Web API method."""

    kind: str  # "http_error" | "ratelimited" | "hang" | "error"
    method: str | None
    remaining: int
    status: int = 500
    retry_after: int = 1
    seconds: float = 0.0
    error: str = ""


class FaultPlan:
    """Failures to inject into the next Web API calls, and simulated latency.

    ``emu.faults.rate_limit("chat.postMessage", times=2, retry_after=1)`` makes the next two
    chat.postMessage calls answer HTTP 429 with ``Retry-After: 1``, as Slack does. A hang sleeps
    and then serves the call normally, so a client that timed out may find its message posted
    anyway — the case "retried until delivered" must not double-post.
    """

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        #: Seconds added to every Web API request (a simulated network round trip).
        self.latency: float = 0.0
        #: Every fault served, as (method, kind), for assertions.
        self.served: list[tuple[str, str]] = []

    def fail(self, method: str | None = None, *, times: int = 1, status: int = 500) -> Fault:
        """Answer the next ``times`` calls with an HTTP error page (500 by default)."""
        return self._add(Fault("http_error", method, times, status=status))

    def rate_limit(self, method: str | None = None, *, times: int = 1, retry_after: int = 1) -> Fault:
        """Answer HTTP 429 ``ratelimited`` with a ``Retry-After`` header."""
        return self._add(Fault("ratelimited", method, times, status=429, retry_after=retry_after))

    def hang(self, method: str | None = None, *, seconds: float, times: int = 1) -> Fault:
        """Wait ``seconds`` before serving the call normally."""
        return self._add(Fault("hang", method, times, seconds=seconds))

    def error(self, method: str | None = None, error: str = "fatal_error", *, times: int = 1) -> Fault:
        """Answer HTTP 200 ``{"ok": false, "error": error}`` without doing anything."""
        return self._add(Fault("error", method, times, status=200, error=error))

    def clear(self) -> None:
        """Forget every planned fault and the latency."""
        self._faults.clear()
        self.latency = 0.0

    def take(self, method: str) -> Fault | None:
        """The first planned fault matching ``method``, counting it as used."""
        if not self._faults:
            return None
        for fault in self._faults:
            if fault.method in (None, method) and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                self.served.append((method, fault.kind))
                return fault
        return None

    def _add(self, fault: Fault) -> Fault:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(fault)
        return fault


# --------------------------------------------------------------------------------------------
# Block Kit validation (the limits Slack enforces and apps most often trip over)
# --------------------------------------------------------------------------------------------


def _check_text(obj: Any, where: str, limit: int, problems: list[str], *, plain_only: bool = False) -> None:
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        problems.append(f"must be a text object [json-pointer:{where}]")
        return
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if obj.get("type") not in kinds:
        problems.append(f"must be one of {', '.join(kinds)} [json-pointer:{where}/type]")
    length = len(obj["text"])
    if length == 0:
        problems.append(f"must be more than 0 characters [json-pointer:{where}/text]")
    elif length > limit:
        problems.append(f"must be less than {limit + 1} characters [json-pointer:{where}/text]")


def _check_options(options: Any, where: str, limit: int, problems: list[str]) -> None:
    if not isinstance(options, list) or not options:
        problems.append(f"must provide at least 1 option [json-pointer:{where}]")
        return
    if len(options) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:{where}]")
    for i, option in enumerate(options):
        if not isinstance(option, dict):
            problems.append(f"must be an option object [json-pointer:{where}/{i}]")
            continue
        _check_text(option.get("text"), f"{where}/{i}/text", 75, problems)
        value = option.get("value")
        if value is not None and len(str(value)) > 150:
            problems.append(f"must be less than 151 characters [json-pointer:{where}/{i}/value]")


def _check_element(element: Any, where: str, problems: list[str]) -> None:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        problems.append(f"must be a block element [json-pointer:{where}]")
        return
    kind = element["type"]
    if kind == "image":
        return
    if kind not in _INTERACTIVE:
        problems.append(f"unsupported type `{kind}` [json-pointer:{where}/type]")
        return
    if len(str(element.get("action_id", ""))) > 255:
        problems.append(f"must be less than 256 characters [json-pointer:{where}/action_id]")
    if kind == "button":
        _check_text(element.get("text"), f"{where}/text", 75, problems, plain_only=True)
        if len(str(element.get("value", ""))) > 2000:
            problems.append(f"must be less than 2001 characters [json-pointer:{where}/value]")
        if element.get("style") not in (None, "primary", "danger"):
            problems.append(f"must be primary or danger [json-pointer:{where}/style]")
    elif kind in ("static_select", "multi_static_select"):
        if "option_groups" not in element:
            _check_options(element.get("options"), f"{where}/options", 100, problems)
    elif kind == "overflow":
        _check_options(element.get("options"), f"{where}/options", 5, problems)
    elif kind in ("checkboxes", "radio_buttons"):
        _check_options(element.get("options"), f"{where}/options", 10, problems)
    if "placeholder" in element:
        _check_text(element["placeholder"], f"{where}/placeholder", 150, problems, plain_only=True)


def _check_block(block: dict[str, Any], where: str, problems: list[str]) -> None:
    kind = block["type"]
    if kind == "section":
        if "text" not in block and "fields" not in block:
            problems.append(f"must provide either text or fields [json-pointer:{where}]")
        if "text" in block:
            _check_text(block["text"], f"{where}/text", 3000, problems)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > 10:
                problems.append(f"no more than 10 items allowed [json-pointer:{where}/fields]")
            else:
                for i, item in enumerate(fields):
                    _check_text(item, f"{where}/fields/{i}", 2000, problems)
        if "accessory" in block:
            _check_element(block["accessory"], f"{where}/accessory", problems)
    elif kind == "header":
        _check_text(block.get("text"), f"{where}/text", 150, problems, plain_only=True)
    elif kind in ("actions", "context_actions"):
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.append(f"must provide at least 1 element [json-pointer:{where}/elements]")
            return
        if len(elements) > 25:
            problems.append(f"no more than 25 items allowed [json-pointer:{where}/elements]")
        seen: set[str] = set()
        for i, element in enumerate(elements):
            _check_element(element, f"{where}/elements/{i}", problems)
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id:
                if action_id in seen:  # Slack wants action_ids unique within a block
                    problems.append(f"duplicate action_id [json-pointer:{where}/elements/{i}/action_id]")
                seen.add(action_id)
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements or len(elements) > 10:
            problems.append(f"must provide 1 to 10 elements [json-pointer:{where}/elements]")
            return
        for i, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") != "image":
                _check_text(element, f"{where}/elements/{i}", 3000, problems)
    elif kind == "input":
        _check_text(block.get("label"), f"{where}/label", 2000, problems, plain_only=True)
        if "element" not in block:
            problems.append(f"must provide an element [json-pointer:{where}/element]")
        else:
            _check_element(block["element"], f"{where}/element", problems)
        if "hint" in block:
            _check_text(block["hint"], f"{where}/hint", 2000, problems, plain_only=True)
    elif kind == "image":
        if not block.get("alt_text"):
            problems.append(f"must provide alt_text [json-pointer:{where}/alt_text]")
        if not (block.get("image_url") or block.get("slack_file")):
            problems.append(f"must provide image_url or slack_file [json-pointer:{where}]")


def block_problems(blocks: Any, *, limit: int, pointer: str = "/blocks") -> list[str]:
    """Slack's complaints about ``blocks`` as ``"<reason> [json-pointer:/blocks/0/text/text]"``."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:{pointer}]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"{pointer}/{i}"
        if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
            kind = block.get("type") if isinstance(block, dict) else block
            problems.append(f"unsupported type `{kind}` [json-pointer:{where}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > 255:
                problems.append(f"must be less than 256 characters [json-pointer:{where}/block_id]")
            if block_id in block_ids:
                problems.append(f"duplicate block_id [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        _check_block(block, where, problems)
    return problems


def view_problems(view: Any, *, expected_type: str | None) -> list[str]:
    """Slack's complaints about a view object (title ≤ 24 characters, ≤ 100 blocks, …)."""
    if not isinstance(view, dict):
        return ["must be a view object [json-pointer:/view]"]
    problems: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home") or (expected_type and kind != expected_type):
        problems.append(f"must be {expected_type or 'modal or home'} [json-pointer:/view/type]")
    if kind == "modal":
        _check_text(view.get("title"), "/view/title", 24, problems, plain_only=True)
        for key in ("submit", "close"):
            if key in view and view[key] is not None:
                _check_text(view[key], f"/view/{key}", 24, problems, plain_only=True)
        has_inputs = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
        if has_inputs and not view.get("submit"):
            problems.append("must provide a submit property when using input blocks [json-pointer:/view]")
    problems += block_problems(view.get("blocks", []), limit=MAX_VIEW_BLOCKS, pointer="/view/blocks")
    if len(str(view.get("private_metadata") or "")) > 3000:
        problems.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    for key in ("callback_id", "external_id"):
        if len(str(view.get(key) or "")) > 255:
            problems.append(f"must be less than 256 characters [json-pointer:/view/{key}]")
    return problems


def _random_id(length: int = 5) -> str:
    return secrets.token_urlsafe(length)[:length]


def _assign_block_ids(blocks: list[dict[str, Any]]) -> None:
    """Give blocks and elements without ids random ones, as Slack does when it stores them."""
    for block in blocks:
        if "block_id" not in block:
            block["block_id"] = _random_id()
        for _, element in _elements_of(block):
            if element.get("type") in _INTERACTIVE and "action_id" not in element:
                element["action_id"] = _random_id()


def _elements_of(block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The (block_id, element) pairs of one block that a person can act on."""
    block_id = str(block.get("block_id", ""))
    kind = block.get("type")
    if kind in ("actions", "context_actions"):
        for element in block.get("elements") or []:
            if isinstance(element, dict):
                yield block_id, element
    elif kind == "section" and isinstance(block.get("accessory"), dict):
        yield block_id, block["accessory"]
    elif kind == "input" and isinstance(block.get("element"), dict):
        yield block_id, block["element"]


def _interactive_elements(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for block in blocks:
        if isinstance(block, dict):
            for block_id, element in _elements_of(block):
                if element.get("type") in _INTERACTIVE:
                    yield block_id, element


def _plain_text(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else str(obj or "")


def _all_options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return options


def _find_option(element: dict[str, Any], wanted: Any) -> dict[str, Any]:
    """The option a person picks, by value (or by its visible text)."""
    if isinstance(wanted, dict):
        return wanted
    wanted = str(wanted)
    options = _all_options(element)
    for option in options:
        if str(option.get("value")) == wanted or _plain_text(option.get("text")) == wanted:
            return option
    if element.get("type", "").endswith("external_select"):
        # Options of external selects come from the app at typing time: any value may be picked.
        return {"text": {"type": "plain_text", "text": wanted}, "value": wanted}
    choices = [option.get("value") for option in options]
    raise EmulatorUsageError(
        f"option {wanted!r} is not offered by {element.get('action_id')!r}; options: {choices}"
    )


def _as_text_value(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _element_state(element: dict[str, Any], value: Any = None, *, use_initial: bool = True) -> dict[str, Any]:
    """An element's value in Slack's shape, e.g. ``{"type": "static_select", "selected_option": {...}}``.

    With ``value=None`` the element shows its initial value, as Slack reports an untouched field.
    """
    kind = element["type"]
    state: dict[str, Any] = {"type": kind}
    if kind in _TEXT_VALUE:
        if value is None and use_initial:
            value = element.get("initial_value")
        state["value"] = None if value is None else _as_text_value(value)
    elif kind in _ONE_OPTION:
        if value is None and use_initial:
            value = element.get("initial_option")
        state["selected_option"] = None if value is None else _find_option(element, value)
    elif kind in _MANY_OPTIONS:
        if value is None and use_initial:
            value = element.get("initial_options")
        values = [] if value is None else (value if isinstance(value, (list, tuple, set)) else [value])
        state["selected_options"] = [_find_option(element, v) for v in values]
    elif kind in _SINGLE_FIELD:
        key, initial = _SINGLE_FIELD[kind]
        if value is None and use_initial:
            value = element.get(initial)
        if kind == "datetimepicker":
            state[key] = None if value is None else int(value.timestamp() if isinstance(value, datetime) else value)
        else:
            state[key] = None if value is None else _as_text_value(value)
    elif kind in _LIST_FIELD:
        key, initial = _LIST_FIELD[kind]
        if value is None and use_initial:
            value = element.get(initial)
        state[key] = [] if value is None else list(value if isinstance(value, (list, tuple)) else [value])
    elif kind == "rich_text_input":
        if value is None and use_initial:
            value = element.get("initial_value")
        if isinstance(value, str):
            value = {"type": "rich_text", "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": value}]}]}
        state["rich_text_value"] = value
    elif kind == "file_input":
        state["files"] = list(value or [])
    return state


def _is_empty(state: dict[str, Any]) -> bool:
    return all(v in (None, "", []) for k, v in state.items() if k != "type")


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


def _json_arg(args: dict[str, Any], name: str, error: str = "invalid_arguments") -> Any:
    """An argument that form-encoded callers send as a JSON string and JSON callers send as is."""
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value) if value else None
        except ValueError:
            raise _ApiError(error) from None
    return value


def _flag(args: dict[str, Any], name: str) -> bool:
    value = args.get(name)
    return value is True or str(value).lower() in ("1", "true")


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else None


class SlackEmulator:
    """Slack's Web API and Slack's requests to the app, on loopback. See the module docstring."""

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str,
        app_url: str | None = None,
        clock: Callable[[], float] | None = None,
        app_timeout: float = 10.0,
        state_dir: Path | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        #: The app's Request URL (events, interactivity and commands), e.g. ``http://…/slack/events``.
        self.app_url = app_url
        #: Decides trigger_id expiry and message ts; swap in a ManualClock to test the 3-second rule.
        self.clock: Callable[[], float] = clock or time.time
        self.app_timeout = app_timeout
        self.verification_token = "emulated-verification-token"
        self.team_id, self.app_id, self.bot_id, self.bot_user_id = TEAM_ID, APP_ID, BOT_ID, BOT_USER_ID
        self.faults = FaultPlan()
        #: Every Web API call (and response_url post) in arrival order.
        self.calls: list[ApiCall] = []
        self.files: dict[str, SlackFile] = {}

        self._users: dict[str, SlackUser] = {}
        self._channels: dict[str, SlackChannel] = {}
        self._channel_ids_by_name: dict[str, str] = {}
        self._ephemerals: dict[str, dict[str, SlackMessage]] = {}
        self._views: dict[str, SlackView] = {}
        self._stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_targets: dict[str, _ResponseTarget] = {}
        self._last_ts_us = 0
        self._counter = itertools.count(1)
        # Apps keep the event ids they handled to drop Slack's retries; with a state
        # directory the ids continue after a restart instead of repeating recorded ones.
        # (Trigger ids, view hashes and action_ts carry a random part or the time already.)
        self._event_ids = KeptCounter(
            state_dir / "slack-event-id.json" if state_dir is not None else None, 1)
        self._change = asyncio.Event()
        self._waiting = 0
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""
        # What the app calls, itself or through slack-bolt (auth.test before the first request)
        # and slack_sdk's files_upload_v2 (the two files.*External steps). Any other name
        # answers unknown_method, as Slack does.
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "conversations.open": self._conversations_open,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.info": self._files_info,
        }

    # ---------------------------------------------------------------- lifecycle

    @property
    def api_base_url(self) -> str:
        """What slack_sdk wants as ``base_url``: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.url}/api/"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = any free port); returns the base URL."""
        app = web.Application(client_max_size=1024**3)  # Slack accepts files up to 1 GB
        app.add_routes([
            web.route("*", "/api/{method}", self._handle_api),
            web.post("/upload/v1/{file_id}", self._handle_upload),
            web.get("/files/{file_id}/{name}", self._handle_file_download),
            web.post("/response_url/{token}", self._handle_response_url),
            *self._control_routes(),
        ])
        # No access log: one INFO line per request would dominate the 2,000-message benchmark.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.app_timeout))
        logger.info("Slack emulator serving at %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Close the event streams, the client session and the server."""
        for queue in list(self._subscribers):
            queue.put_nowait(None)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- registry

    def add_user(self, user_id: str, name: str, real_name: str | None = None,
                 is_admin: bool = False) -> SlackUser:
        """Add a workspace member, with a DM channel to the app (``D…``)."""
        dm_id = "D" + user_id[1:] if user_id[:1] in ("U", "W") else f"D{next(self._counter):08d}"
        if dm_id in self._channels:
            dm_id = f"D{next(self._counter):08d}"
        user = SlackUser(user_id, name, real_name or name, is_admin, dm_id)
        self._users[user_id] = user
        self._channels[dm_id] = SlackChannel(dm_id, "directmessage", is_im=True, user=user_id,
                                             created=int(self.clock()))
        return user

    def add_channel(self, channel_id_or_name: str, name: str | None = None, *,
                    is_private: bool = False) -> SlackChannel:
        """Add a channel by id (``C…``/``G…``, named ``name``) or by name (``#engagements``, id made up)."""
        ref = channel_id_or_name.lstrip("#")
        if channel_id_or_name[:1] in ("C", "G") and ref.isupper() and ref.isalnum():
            channel_id, channel_name = ref, name or ref.lower()
        else:
            channel_id, channel_name = f"C{next(self._counter):08d}", name or ref
        channel = SlackChannel(channel_id, channel_name, is_private=is_private, created=int(self.clock()))
        self._channels[channel_id] = channel
        self._channel_ids_by_name[channel_name] = channel_id
        return channel

    def archive_channel(self, channel: str) -> None:
        """Archive a channel: posting to it answers ``is_archived``."""
        self._require_channel(channel).is_archived = True

    def remove_channel(self, channel: str) -> None:
        """Make a channel vanish: any call naming it answers ``channel_not_found``."""
        found = self._require_channel(channel)
        del self._channels[found.id]
        self._channel_ids_by_name.pop(found.name, None)

    def user(self, user_id: str) -> SlackUser:
        """A registered user, or a usage error listing the known ones."""
        try:
            return self._users[user_id]
        except KeyError:
            raise EmulatorUsageError(f"unknown user {user_id!r}; add_user() first; known: {list(self._users)}") \
                from None

    def channel(self, channel: str) -> SlackChannel | None:
        """A channel by id, ``#name``, ``name``, or a user id (their DM); None when unknown."""
        if channel in self._channels:
            return self._channels[channel]
        channel_id = self._channel_ids_by_name.get(channel.lstrip("#"))
        if channel_id is not None:
            return self._channels.get(channel_id)
        user = self._users.get(channel)
        return self._channels.get(user.dm_channel) if user else None

    def channels(self) -> list[SlackChannel]:
        """Every channel and DM."""
        return list(self._channels.values())

    def users(self) -> list[SlackUser]:
        """Every registered user."""
        return list(self._users.values())

    def user_file(self, user_id: str, name: str, content: bytes) -> dict[str, Any]:
        """A file ``user_id`` attached in a modal's file input, as Slack reports it in the
        view's state (pass it in ``submit_view(values={block: [file]})``)."""
        self.user(user_id)
        file_id = f"F{next(self._counter):010d}"
        file = SlackFile(file_id, name, name, len(content), user_id, int(self.clock()),
                         f"{self.url}/files/{file_id}/{name}", content=content)
        self.files[file_id] = file
        return file.to_payload()

    # ---------------------------------------------------------------- what the workspace shows

    def messages(self, channel: str, *, thread_ts: str | None = None) -> list[SlackMessage]:
        """A channel's (or user's DM's) messages in order, replies included; or one thread's."""
        found = self._require_channel(channel)
        if thread_ts is None:
            return list(found.by_ts.values())
        return [m for m in found.by_ts.values() if m.ts == thread_ts or m.thread_ts == thread_ts]

    def last_message(self, channel: str) -> SlackMessage | None:
        """The newest message in a channel (or DM), without copying the history."""
        found = self._require_channel(channel)
        return next(reversed(found.by_ts.values()), None)

    def ephemerals(self, user_id: str, channel: str | None = None) -> list[SlackMessage]:
        """Ephemeral messages shown to one user, oldest first (optionally in one channel)."""
        shown = list(self._ephemerals.get(user_id, {}).values())
        if channel is not None:
            channel_id = self._require_channel(channel).id
            shown = [m for m in shown if m.channel == channel_id]
        return shown

    def views(self, user_id: str) -> list[SlackView]:
        """The user's open modal stack, bottom first (empty when no modal is open)."""
        return [self._views[view_id] for view_id in self._stacks.get(user_id, [])]

    def view(self, view_id: str) -> SlackView:
        """Any view ever opened or published, by id."""
        try:
            return self._views[view_id]
        except KeyError:
            raise EmulatorUsageError(f"unknown view {view_id!r}") from None

    def home(self, user_id: str) -> SlackView | None:
        """The App Home last published for a user."""
        view_id = self._homes.get(user_id)
        return self._views[view_id] if view_id else None

    def calls_to(self, method: str) -> list[ApiCall]:
        """The recorded calls of one Web API method."""
        return [call for call in self.calls if call.method == method]

    @staticmethod
    def buttons(message_or_view: SlackMessage | SlackView) -> list[Button]:
        """The buttons in a message's or view's blocks: ``[(text, action_id, value), …]``."""
        return [
            Button(_plain_text(element.get("text")), str(element.get("action_id")), element.get("value"))
            for _, element in _interactive_elements(message_or_view.blocks)
            if element.get("type") == "button"
        ]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Wait until ``predicate()`` is truthy, re-checking at every change; return its value.

        Bolt acks first and runs listeners afterwards, so what a listener does shows up a little
        after the HTTP answer: wait for it rather than sleep.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"Slack emulator: condition not met within {timeout} s")
            change = self._change
            self._waiting += 1
            try:
                await asyncio.wait_for(change.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._waiting -= 1

    def issue_trigger(self, user_id: str) -> str:
        """A fresh trigger_id for ``user_id``, as Slack puts in every interaction payload."""
        self.user(user_id)
        trigger_id = f"{int(self.clock())}.{next(self._counter)}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = _Trigger(user_id, self.clock())
        return trigger_id

    def sign(self, body: str, timestamp: str) -> str:
        """Slack's v0 signature of a request body: ``v0=`` + HMAC-SHA256 of ``v0:{ts}:{body}``."""
        base = f"v0:{timestamp}:{body}".encode()
        return "v0=" + hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()

    # ---------------------------------------------------------------- change notification

    def _changed(self, kind: str, build: Callable[[], dict[str, Any]]) -> None:
        """Wake wait_for() callers and tell event-stream subscribers (built only if there are any)."""
        if self._waiting:
            self._change.set()
            self._change = asyncio.Event()
        if self._subscribers:
            event = {"type": kind, **build()}
            for queue in self._subscribers:
                if queue.full():
                    logger.debug("Dropping a %s event for a slow event-stream reader", kind)
                else:
                    queue.put_nowait(event)

    def _message_changed(self, message: SlackMessage, action: str) -> None:
        if message.ephemeral_to:
            self._changed("ephemeral", lambda: {"action": action, "user": message.ephemeral_to,
                                                "message": self._message_json(message)})
        else:
            self._changed("message", lambda: {"action": action, "channel": message.channel,
                                              "message": self._message_json(message)})

    def _view_changed(self, view: SlackView, action: str) -> None:
        kind = "home" if view.type == "home" else "view"
        self._changed(kind, lambda: {"action": action, "user": view.user, "view": view.to_payload()})

    # ---------------------------------------------------------------- storage helpers

    def _next_ts(self) -> str:
        """A fresh ts from the clock, strictly increasing so it is unique in every channel."""
        micros = max(int(self.clock() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _require_channel(self, channel: str) -> SlackChannel:
        found = self.channel(channel)
        if found is None:
            known = [c.id if c.is_im else f"#{c.name}" for c in self._channels.values()]
            raise EmulatorUsageError(f"unknown channel {channel!r}; known: {known}")
        return found

    def _store_message(self, channel: SlackChannel, *, text: str, blocks: list[dict[str, Any]], user: str,
                       bot_id: str | None, thread_ts: str | None = None,
                       files: list[dict[str, Any]] | None = None,
                       attachments: list[dict[str, Any]] | None = None,
                       metadata: dict[str, Any] | None = None) -> SlackMessage:
        message = SlackMessage(channel.id, self._next_ts(), text, blocks, user, bot_id, thread_ts,
                               files or [], attachments or [], metadata)
        channel.by_ts[message.ts] = message
        if thread_ts and thread_ts in channel.by_ts and thread_ts != message.ts:
            channel.by_ts[thread_ts].reply_count += 1
        self._message_changed(message, "new")
        return message

    def _store_ephemeral(self, channel: SlackChannel, user_id: str, *, text: str, blocks: list[dict[str, Any]],
                         thread_ts: str | None = None) -> SlackMessage:
        message = SlackMessage(channel.id, self._next_ts(), text, blocks, BOT_USER_ID, BOT_ID, thread_ts,
                               ephemeral_to=user_id)
        self._ephemerals.setdefault(user_id, {})[message.ts] = message
        self._message_changed(message, "new")
        return message

    def _edit_message(self, message: SlackMessage, *, text: str | None, blocks: list[dict[str, Any]] | None,
                      attachments: list[dict[str, Any]] | None = None) -> None:
        message.edits.append(MessageVersion(message.text, message.blocks, self._next_ts()))
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = blocks
        if attachments is not None:
            message.attachments = attachments
        self._message_changed(message, "updated")

    def _delete_message(self, message: SlackMessage) -> None:
        message.deleted = True
        if message.ephemeral_to:
            self._ephemerals.get(message.ephemeral_to, {}).pop(message.ts, None)
        else:
            channel = self._channels.get(message.channel)
            if channel is not None:
                channel.by_ts.pop(message.ts, None)
        self._message_changed(message, "deleted")

    def _message_json(self, message: SlackMessage) -> dict[str, Any]:
        return {**message.to_payload(), "channel": message.channel, "ephemeral_to": message.ephemeral_to,
                "edit_count": len(message.edits)}

    # ---------------------------------------------------------------- Web API: plumbing

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except _ApiError as exc:
            return web.json_response(exc.to_response())
        token = _bearer(request) or args.pop("token", None)
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        fault = self.faults.take(method)
        if fault is not None:
            if fault.kind == "hang":
                await asyncio.sleep(fault.seconds)
            else:
                return self._fault_response(fault, method, args)
        status, response = self._call(method, token, args)
        self.calls.append(ApiCall(method, args, response, status, self.clock()))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s → %s", method, response.get("error", "ok"))
        return web.json_response(response, status=status)

    async def _read_args(self, request: web.Request) -> dict[str, Any]:
        """Query string, form fields and JSON body merged — slack_sdk uses all three."""
        args: dict[str, Any] = dict(request.query)
        if request.method != "POST" or not request.can_read_body:
            return args
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError:
                raise _ApiError("invalid_json") from None
            if not isinstance(body, dict):
                raise _ApiError("invalid_json")
            args.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                args[key] = value if isinstance(value, str) else value.file.read()
        return args

    def _call(self, method: str, token: str | None, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        handler = self._methods.get(method)
        if handler is None:
            # Slack's own answer (HTTP 200, like every Web API error), before any token check.
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}
        if not hmac.compare_digest(token, self.bot_token):
            return 200, {"ok": False, "error": "invalid_auth"}
        try:
            return 200, handler(args)
        except _ApiError as exc:
            return 200, exc.to_response()

    def _fault_response(self, fault: Fault, method: str, args: dict[str, Any]) -> web.Response:
        if fault.kind == "ratelimited":
            response: dict[str, Any] = {"ok": False, "error": "ratelimited"}
            reply = web.json_response(response, status=429, headers={"Retry-After": str(fault.retry_after)})
        elif fault.kind == "error":
            response = {"ok": False, "error": fault.error}
            reply = web.json_response(response)
        else:
            # Slack's 5xx answers come from its load balancers as HTML, not as API JSON.
            response = {"ok": False, "error": f"http_{fault.status}"}
            reply = web.Response(status=fault.status, text="<html><body>Internal Server Error</body></html>",
                                 content_type="text/html")
        self.calls.append(ApiCall(method, args, response, reply.status, self.clock()))
        return reply

    def _blocks_arg(self, args: dict[str, Any], *, limit: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]] | None:
        """The ``blocks`` argument validated as Slack does; None when absent."""
        if args.get("blocks") is None:
            return None
        blocks = _json_arg(args, "blocks", "invalid_blocks_format")
        if blocks is None:
            return None
        if not isinstance(blocks, list):
            raise _ApiError("invalid_blocks_format")
        problems = block_problems(blocks, limit=limit)
        if problems:
            raise _ApiError("invalid_blocks", problems)
        _assign_block_ids(blocks)
        return blocks

    def _attachments_arg(self, args: dict[str, Any]) -> list[dict[str, Any]] | None:
        attachments = _json_arg(args, "attachments", "invalid_attachments")
        if attachments is not None and not isinstance(attachments, list):
            raise _ApiError("invalid_attachments")
        return attachments

    def _postable_channel(self, ref: Any) -> SlackChannel:
        channel = self.channel(str(ref)) if ref else None
        if channel is None:
            raise _ApiError("channel_not_found")
        if channel.is_archived:
            raise _ApiError("is_archived")
        return channel

    def _message_in(self, channel: SlackChannel, ts: Any) -> SlackMessage:
        message = channel.by_ts.get(str(ts)) if ts else None
        if message is None:
            raise _ApiError("message_not_found")
        return message

    # ---------------------------------------------------------------- Web API: auth, chat

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"{self.url}/", "team": "Emulated Workspace", "user": "ambassador_bot",
                "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable_channel(args.get("channel"))
        text = str(args.get("text") or "")
        blocks = self._blocks_arg(args)
        attachments = self._attachments_arg(args)
        if not text and not blocks and not attachments:
            raise _ApiError("no_text")
        if len(text) > MAX_MESSAGE_TEXT:
            raise _ApiError("msg_too_long")
        metadata = _json_arg(args, "metadata")
        message = self._store_message(channel, text=text, blocks=blocks or [], user=BOT_USER_ID, bot_id=BOT_ID,
                                      thread_ts=args.get("thread_ts") or None, attachments=attachments,
                                      metadata=metadata)
        return {"ok": True, "channel": channel.id, "ts": message.ts, "message": message.to_payload()}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable_channel(args.get("channel"))
        message = self._message_in(channel, args.get("ts"))
        if not message.from_bot:
            raise _ApiError("cant_update_message")
        text = args.get("text")
        if text is not None and len(str(text)) > MAX_MESSAGE_TEXT:
            raise _ApiError("msg_too_long")
        # Omitted blocks/attachments keep the previous ones; an empty list removes them (Slack's rule).
        blocks = self._blocks_arg(args)
        attachments = self._attachments_arg(args)
        self._edit_message(message, text=None if text is None else str(text), blocks=blocks, attachments=attachments)
        shown = {key: value for key, value in message.to_payload().items() if key not in _NOT_IN_UPDATE_ANSWER}
        return {"ok": True, "channel": channel.id, "ts": message.ts, "text": message.text, "message": shown}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable_channel(args.get("channel"))
        user_id = str(args.get("user") or "")
        if user_id not in self._users:
            raise _ApiError("user_not_found")
        text = str(args.get("text") or "")
        blocks = self._blocks_arg(args)
        if not text and not blocks and not args.get("attachments"):
            raise _ApiError("no_text")
        message = self._store_ephemeral(channel, user_id, text=text, blocks=blocks or [],
                                        thread_ts=args.get("thread_ts") or None)
        return {"ok": True, "message_ts": message.ts}

    # ---------------------------------------------------------------- Web API: views

    def _view_arg(self, args: dict[str, Any], expected_type: str | None) -> dict[str, Any]:
        view = _json_arg(args, "view")
        if view is None:
            raise _ApiError("invalid_arguments", ["missing required field: view [json-pointer:/view]"])
        problems = view_problems(view, expected_type=expected_type)
        if problems:
            raise _ApiError("invalid_arguments", problems)
        _assign_block_ids(view.get("blocks") or [])
        return view

    def _redeem_trigger(self, trigger_id: Any) -> _Trigger:
        """Exchange a trigger_id: unknown, already used, or older than 3 s is refused, as by Slack."""
        if not trigger_id:
            raise _ApiError("invalid_arguments", ["missing required field: trigger_id"])
        trigger = self._triggers.get(str(trigger_id))
        if trigger is None:
            raise _ApiError("invalid_trigger_id")
        if trigger.used:
            raise _ApiError("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > TRIGGER_TTL_SECONDS:
            raise _ApiError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _new_hash(self) -> str:
        return f"{int(self.clock())}.{secrets.token_hex(4)}"

    def _new_view(self, user_id: str, definition: dict[str, Any], *, root: str | None = None,
                  previous: str | None = None) -> SlackView:
        view_id = f"V{next(self._counter):010d}"
        view = SlackView(view_id, user_id, definition, self._new_hash(), root or view_id, previous)
        view.state_values = self._initial_state(view)
        self._views[view_id] = view
        return view

    def _close_stack(self, user_id: str, from_index: int = 0) -> None:
        stack = self._stacks.get(user_id, [])
        for view_id in stack[from_index:]:
            view = self._views[view_id]
            view.closed = True
            self._view_changed(view, "closed")
        del stack[from_index:]

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        definition = self._view_arg(args, "modal")
        trigger = self._redeem_trigger(args.get("trigger_id") or args.get("interactivity_pointer"))
        self._close_stack(trigger.user)  # a new modal replaces whatever the user had open
        view = self._new_view(trigger.user, definition)
        self._stacks[trigger.user] = [view.id]
        self._view_changed(view, "opened")
        return {"ok": True, "view": view.to_payload()}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        definition = self._view_arg(args, None)
        view = self._views.get(str(args.get("view_id") or ""))
        if view is None and args.get("external_id"):
            view = next((v for v in self._views.values()
                         if not v.closed and v.external_id == args["external_id"]), None)
        if view is None or view.closed:
            raise _ApiError("not_found")
        if args.get("hash") and args["hash"] != view.hash:
            raise _ApiError("hash_conflict")
        self._replace_view(view, definition)
        return {"ok": True, "view": view.to_payload()}

    def _replace_view(self, view: SlackView, definition: dict[str, Any]) -> None:
        view.definition = definition
        view.hash = self._new_hash()
        view.errors = {}
        view.state_values = self._initial_state(view)
        self._view_changed(view, "updated")

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user_id") or "")
        if user_id not in self._users:
            raise _ApiError("user_not_found")
        definition = self._view_arg(args, "home")
        home = self.home(user_id)
        if home is not None and args.get("hash") and args["hash"] != home.hash:
            raise _ApiError("hash_conflict")
        if home is None:
            home = self._new_view(user_id, definition)
            self._homes[user_id] = home.id
            self._view_changed(home, "published")
        else:
            self._replace_view(home, definition)
        return {"ok": True, "view": home.to_payload()}

    # ---------------------------------------------------------------- Web API: conversations

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("channel"):
            channel = self.channel(str(args["channel"]))
            if channel is None:
                raise _ApiError("channel_not_found")
            return {"ok": True, "channel": {"id": channel.id}}
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if len(users) != 1:
            # Group DMs (mpim) are not emulated: the bot only ever opens one-to-one DMs.
            raise _ApiError("users_list_not_supplied" if not users else "not_supported")
        user = self._users.get(users[0])
        if user is None:
            raise _ApiError("user_not_found")
        channel = self._channels[user.dm_channel]
        opened: dict[str, Any] = channel.to_payload() if _flag(args, "return_im") else {"id": channel.id}
        return {"ok": True, "no_op": True, "already_open": True, "channel": opened}

    # ---------------------------------------------------------------- Web API: files (upload v2)

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("filename") or "")
        try:
            length = int(args.get("length") or 0)
        except ValueError:
            raise _ApiError("invalid_arguments") from None
        if not name or length <= 0:
            raise _ApiError("invalid_arguments")
        file_id = f"F{next(self._counter):010d}"
        self.files[file_id] = SlackFile(file_id, name, name, length, BOT_USER_ID, int(self.clock()),
                                        f"{self.url}/files/{file_id}/{name}", args.get("alt_txt") or None)
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """The upload URL: takes the file's bytes (raw body or multipart), answers ``OK - <size>``."""
        file = self.files.get(request.match_info["file_id"])
        if file is None:
            return web.Response(status=404, text="invalid upload url")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = next(iter(form.values()), b"")
            content = part if isinstance(part, bytes) else (
                part.encode() if isinstance(part, str) else part.file.read())
        else:
            content = await request.read()
        file.content = content
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    async def _handle_file_download(self, request: web.Request) -> web.Response:
        """url_private: Slack serves a file only with a token in the Authorization header."""
        token = _bearer(request)
        if token is None or not hmac.compare_digest(token, self.bot_token):
            return web.Response(status=403, text="not authorised")
        file = self.files.get(request.match_info["file_id"])
        if file is None or file.content is None:
            return web.Response(status=404, text="file not found")
        return web.Response(body=file.content, content_type=file.mimetype)

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = _json_arg(args, "files")
        if not isinstance(entries, list) or not entries:
            raise _ApiError("invalid_arguments")
        uploaded: list[SlackFile] = []
        for entry in entries:
            file = self.files.get(str(entry.get("id")))
            if file is None or file.content is None:
                raise _ApiError("file_not_found")
            if entry.get("title"):
                file.title = str(entry["title"])
            uploaded.append(file)
        targets = [str(args["channel_id"])] if args.get("channel_id") else []
        targets += [c for c in str(args.get("channels") or "").split(",") if c]
        channels = [self._postable_channel(ref) for ref in targets]
        for channel in channels:
            for file in uploaded:
                file.channels.append(channel.id)
            self._store_message(channel, text=str(args.get("initial_comment") or ""), blocks=[], user=BOT_USER_ID,
                                bot_id=BOT_ID, thread_ts=args.get("thread_ts") or None,
                                files=[f.to_payload() for f in uploaded])
        return {"ok": True, "files": [f.to_payload() for f in uploaded]}

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        file = self.files.get(str(args.get("file") or ""))
        if file is None:
            raise _ApiError("file_not_found")
        return {"ok": True, "file": file.to_payload()}

    # ---------------------------------------------------------------- response_url

    def _new_response_url(self, target: _ResponseTarget) -> str:
        token = secrets.token_urlsafe(12)
        self._response_targets[token] = target
        return f"{self.url}/response_url/{token}"

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        """What the app posts to a response_url becomes a message, an edit, or a deletion."""
        target = self._response_targets.get(request.match_info["token"])
        if target is None:
            return web.json_response({"ok": False, "error": "expired_url"}, status=404)
        if target.uses >= RESPONSE_URL_USES:
            return web.json_response({"ok": False, "error": "used_url"}, status=404)
        target.uses += 1
        raw = await request.text()
        try:
            body = json.loads(raw) if request.content_type == "application/json" else \
                json.loads(dict(await request.post()).get("payload", "{}"))  # type: ignore[arg-type]
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        try:
            self._apply_response(target, body)
        except _ApiError as exc:
            response = exc.to_response()
            self.calls.append(ApiCall("response_url", body, response, 400, self.clock()))
            return web.json_response(response, status=400)
        self.calls.append(ApiCall("response_url", body, {"ok": True}, 200, self.clock()))
        return web.json_response({"ok": True})

    def _apply_response(self, target: _ResponseTarget, body: dict[str, Any]) -> None:
        channel = self._channels.get(target.channel)
        if channel is None:
            raise _ApiError("channel_not_found")
        original = self._original_for(target)
        if _flag(body, "delete_original"):
            if original is not None:
                self._delete_message(original)
            return
        text = str(body.get("text") or "")
        blocks = self._blocks_arg(body)
        if not text and not blocks:
            raise _ApiError("no_text")
        if _flag(body, "replace_original") and original is not None:
            self._edit_message(original, text=text, blocks=blocks or [])
        elif body.get("response_type") == "in_channel":
            self._store_message(channel, text=text, blocks=blocks or [], user=BOT_USER_ID, bot_id=BOT_ID,
                                thread_ts=body.get("thread_ts"))
        else:
            self._store_ephemeral(channel, target.user, text=text, blocks=blocks or [],
                                  thread_ts=body.get("thread_ts"))

    def _original_for(self, target: _ResponseTarget) -> SlackMessage | None:
        if target.message_ts is None:
            return None
        if target.ephemeral:
            return self._ephemerals.get(target.user, {}).get(target.message_ts)
        channel = self._channels.get(target.channel)
        return channel.by_ts.get(target.message_ts) if channel else None

    # ---------------------------------------------------------------- acting as Slack towards the app

    async def _deliver(self, body: str, content_type: str, *, sign: bool = True, bad_signature: bool = False,
                       timestamp_offset: int = 0, retry_num: int | None = None,
                       retry_reason: str = "http_timeout") -> AppResponse:
        """POST to the app's Request URL as Slack does: v0-signed, with Slack's headers.

        The timestamp is real wall-clock time (never ``self.clock``): Bolt checks it against its
        own clock and refuses anything more than five minutes off.
        """
        if not self.app_url:
            raise EmulatorUsageError("set emu.app_url (the app's …/slack/events URL) before acting as a user")
        if self._session is None:
            raise EmulatorUsageError("start() the emulator first")
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        if sign:
            timestamp = str(int(time.time()) + timestamp_offset)
            signature = self.sign(body, timestamp)
            if bad_signature:
                signature = self.sign(body + " ", timestamp)
            headers["X-Slack-Request-Timestamp"] = timestamp
            headers["X-Slack-Signature"] = signature
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        started = time.perf_counter()
        async with self._session.post(self.app_url, data=body.encode(), headers=headers) as response:
            text = await response.text()
            return AppResponse(response.status, text, dict(response.headers), time.perf_counter() - started,
                               request=(body, content_type))

    async def retry(self, response: AppResponse, retry_num: int = 1, retry_reason: str = "http_timeout",
                    **delivery: Any) -> AppResponse:
        """Send a request again byte for byte, as Slack retries one it thinks went unanswered:
        the same body (same trigger_id, action_ts, event_id), freshly signed, with
        ``X-Slack-Retry-Num`` and ``X-Slack-Retry-Reason``. What Slack does with the answer (a
        slash command's reply shown to the user) happens again."""
        if response.request is None:
            raise EmulatorUsageError("that response has no request to retry")
        body, content_type = response.request
        again = await self._deliver(body, content_type, retry_num=retry_num, retry_reason=retry_reason,
                                    **delivery)
        if response.after is not None:
            again.after = response.after
            response.after(again)
        return again

    async def _deliver_payload(self, payload: dict[str, Any], **delivery: Any) -> AppResponse:
        """Interactivity: a form-encoded ``payload=<json>`` body."""
        return await self._deliver(urlencode({"payload": json.dumps(payload)}),
                                   "application/x-www-form-urlencoded", **delivery)

    async def click(
        self,
        user_id: str,
        message_or_view: SlackMessage | SlackView,
        action_id: str,
        value: Any = None,
        selected_user: str | None = None,
        selected_option: Any = None,
        *,
        block_id: str | None = None,
        **delivery: Any,
    ) -> AppResponse:
        """Act on an element of a message (or ephemeral, modal, App Home) as ``user_id``: ``block_actions``.

        ``value`` picks among buttons sharing an action_id, or is the value chosen in a select,
        date picker or text input; ``selected_option`` (value or option dict) and ``selected_user``
        are the names Slack uses. ``delivery`` takes the forging options of :meth:`_deliver`
        (``sign``, ``bad_signature``, ``timestamp_offset``, ``retry_num``, ``retry_reason``).
        """
        user = self.user(user_id)
        block_id, element = self._find_element(message_or_view, action_id, block_id,
                                               value if selected_option is None and selected_user is None else None)
        action = self._action(block_id, element, value, selected_user, selected_option)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": user.to_actor(),
            "api_app_id": APP_ID,
            "token": self.verification_token,
            "trigger_id": self.issue_trigger(user_id),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": ENTERPRISE_ID,
            "is_enterprise_install": False,
            "actions": [action],
        }
        if isinstance(message_or_view, SlackView):
            view = message_or_view
            if view.closed:
                raise EmulatorUsageError(f"view {view.id} is closed")
            if element.get("type") != "button":
                view.state_values.setdefault(block_id, {})[action["action_id"]] = _element_state(
                    element, self._picked(element, value, selected_user, selected_option), use_initial=False)
            payload |= {"container": {"type": "view", "view_id": view.id}, "view": view.to_payload(),
                        "state": {"values": view.state_values}}
        else:
            payload |= self._message_context(user, message_or_view)
        return await self._deliver_payload(payload, **delivery)

    def _message_context(self, user: SlackUser, message: SlackMessage) -> dict[str, Any]:
        """The container, channel, message and response_url of an action on a message."""
        if message.deleted:
            raise EmulatorUsageError(f"message {message.ts} was deleted")
        channel = self._channels.get(message.channel)
        if channel is None:
            raise EmulatorUsageError(f"channel {message.channel} is gone")
        ephemeral = message.ephemeral_to is not None
        container: dict[str, Any] = {"type": "message", "message_ts": message.ts, "channel_id": channel.id,
                                     "is_ephemeral": ephemeral}
        if message.thread_ts:
            container["thread_ts"] = message.thread_ts
        context: dict[str, Any] = {
            "container": container,
            "channel": {"id": channel.id, "name": channel.name},
            "state": {"values": {}},
            "response_url": self._new_response_url(
                _ResponseTarget(user.id, channel.id, message.ts, ephemeral)),
        }
        if not ephemeral:  # Slack leaves the message out for ephemerals: the app never stored them
            context["message"] = message.to_payload()
        return context

    def _find_element(self, target: SlackMessage | SlackView, action_id: str, block_id: str | None,
                      button_value: Any) -> tuple[str, dict[str, Any]]:
        found = [
            (bid, element) for bid, element in _interactive_elements(target.blocks)
            if element.get("action_id") == action_id and block_id in (None, bid)
        ]
        if button_value is not None:  # several buttons may share an action_id; the value tells them apart
            found = [(b, e) for b, e in found if e.get("type") != "button" or e.get("value") == button_value]
        if not found:
            where = f"view {target.id}" if isinstance(target, SlackView) else f"message {target.ts}"
            others = [e.get("action_id") for _, e in _interactive_elements(target.blocks) if e.get("type") != "button"]
            raise EmulatorUsageError(
                f"no element action_id={action_id!r}"
                + (f" block_id={block_id!r}" if block_id else "")
                + (f" value={button_value!r}" if button_value is not None else "")
                + f" in {where}; buttons: {self.buttons(target)}; other elements: {others}"
            )
        return found[0]

    @staticmethod
    def _picked(element: dict[str, Any], value: Any, selected_user: Any, selected_option: Any) -> Any:
        if selected_option is not None:
            return selected_option
        if selected_user is not None:
            return selected_user
        return value

    def _action(self, block_id: str, element: dict[str, Any], value: Any, selected_user: Any,
                selected_option: Any) -> dict[str, Any]:
        """One entry of ``actions`` as Slack builds it for the element's type."""
        kind = element["type"]
        common = {"action_id": element["action_id"], "block_id": block_id, "action_ts": f"{time.time():.6f}"}
        if kind == "button":
            action: dict[str, Any] = {"type": "button", "text": element.get("text")}
            if "value" in element:
                action["value"] = element["value"]
            if "style" in element:
                action["style"] = element["style"]
            return action | common
        picked = self._picked(element, value, selected_user, selected_option)
        if picked is None:
            raise EmulatorUsageError(f"{kind} {element['action_id']!r} needs a value to pick")
        return _element_state(element, picked, use_initial=False) | common

    async def slash_command(self, user_id: str, command: str, text: str = "", channel: str | None = None,
                            **delivery: Any) -> AppResponse:
        """Run ``/command text`` as ``user_id`` in ``channel`` (default: their DM with the app).

        What the app acks with (text/blocks) is shown to the user as Slack does: ephemeral, or
        in the channel with ``response_type: in_channel``.
        """
        user = self.user(user_id)
        where = self._require_channel(channel) if channel else self._channels[user.dm_channel]
        response_url = self._new_response_url(_ResponseTarget(user.id, where.id, None, False))
        fields = {
            "token": self.verification_token,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": where.id,
            "channel_name": where.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": command if command.startswith("/") else f"/{command}",
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self.issue_trigger(user_id),
        }
        response = await self._deliver(urlencode(fields), "application/x-www-form-urlencoded", **delivery)

        def show(answer: AppResponse) -> None:
            data = answer.data if isinstance(answer.data, dict) else {"text": answer.body}
            if answer.status == 200 and (data.get("text") or data.get("blocks")):
                try:
                    self._apply_response(_ResponseTarget(user.id, where.id, None, False), data)
                except _ApiError as exc:
                    answer.problems.append(f"slash command answer refused: {exc.to_response()}")

        show(response)
        response.after = show
        return response

    def _initial_state(self, view: SlackView) -> dict[str, dict[str, Any]]:
        """Every input's value as Slack reports it before the user types: initial values or empty."""
        values: dict[str, dict[str, Any]] = {}
        for block in view.blocks:
            if block.get("type") == "input" and isinstance(block.get("element"), dict):
                element = block["element"]
                try:
                    values.setdefault(str(block.get("block_id")), {})[str(element.get("action_id"))] = \
                        _element_state(element)
                except EmulatorUsageError:
                    logger.debug("Initial option of %s is not among its options", element.get("action_id"))
        return values

    def _fill_state(self, view: SlackView, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The view's state.values after the person typed ``values`` ({block_id: {action_id: value}})."""
        inputs = {str(b.get("block_id")): b for b in view.blocks if b.get("type") == "input"}
        state = {block_id: dict(actions) for block_id, actions in view.state_values.items()}
        for block_id, given in values.items():
            block = inputs.get(block_id)
            if block is None:
                raise EmulatorUsageError(f"view {view.id} has no input block {block_id!r}; inputs: {list(inputs)}")
            element = block["element"]
            action_id = str(element.get("action_id"))
            if isinstance(given, dict) and set(given) == {action_id}:
                given = given[action_id]
            state.setdefault(block_id, {})[action_id] = _element_state(element, given, use_initial=False)
        for block_id, block in inputs.items():
            element_state = state.get(block_id, {}).get(str(block["element"].get("action_id")))
            if not block.get("optional") and (element_state is None or _is_empty(element_state)):
                # Slack's client refuses to send the form with a required field empty.
                raise EmulatorUsageError(f"required input {block_id!r} of view {view.id} is empty")
            max_length = block["element"].get("max_length")
            typed = (element_state or {}).get("value")
            if max_length and isinstance(typed, str) and len(typed) > max_length:
                raise EmulatorUsageError(f"input {block_id!r} is limited to {max_length} characters by Slack")
        return state

    def _open_view(self, user_id: str, view_id: str) -> SlackView:
        view = self.view(view_id)
        if view.user != user_id or view.id not in self._stacks.get(user_id, []):
            raise EmulatorUsageError(f"view {view_id} is not open for {user_id}; open: "
                                     f"{[v.id for v in self.views(user_id)]}")
        return view

    async def submit_view(self, user_id: str, view_id: str | None = None, values: dict[str, Any] | None = None,
                          **delivery: Any) -> AppResponse:
        """Press the modal's submit button as ``user_id`` (``view_submission``); default: the top view.

        ``values`` is ``{block_id: {action_id: value}}`` (or ``{block_id: value}``); a select takes
        an option value, a multi-select or checkboxes a list. The app's answer is applied as Slack
        does (``errors`` keep the view open with ``view.errors``; ``update``, ``push``, ``clear``;
        an empty ack closes the view) and returned; ``response.errors`` has the field errors.
        """
        user = self.user(user_id)
        if view_id is None:
            stack = self._stacks.get(user_id) or []
            if not stack:
                raise EmulatorUsageError(f"{user_id} has no modal open")
            view_id = stack[-1]
        view = self._open_view(user_id, view_id)
        view.state_values = self._fill_state(view, values or {})
        view.errors = {}
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": user.to_actor(),
            "api_app_id": APP_ID,
            "token": self.verification_token,
            "trigger_id": self.issue_trigger(user_id),
            "view": view.to_payload(),
            "response_urls": [],
            "enterprise": ENTERPRISE_ID,
            "is_enterprise_install": False,
        }
        response = await self._deliver_payload(payload, **delivery)
        if response.status == 200:
            self._apply_submission_answer(view, response)
        return response

    def _apply_submission_answer(self, view: SlackView, response: AppResponse) -> None:
        """Do to the modal stack what the app's answer to a view_submission asks for."""
        data = response.data if isinstance(response.data, dict) else {}
        action = data.get("response_action")
        stack = self._stacks.get(view.user, [])
        index = stack.index(view.id) if view.id in stack else len(stack)
        if action == "errors":
            errors = dict(data.get("errors") or {})
            inputs = {str(b.get("block_id")) for b in view.blocks if b.get("type") == "input"}
            unknown = [k for k in errors if k not in inputs]
            if unknown:
                response.problems.append(f"errors name blocks that are not inputs of the view: {unknown}")
            view.errors = errors
            self._view_changed(view, "errors")
        elif action in ("update", "push"):
            definition = data.get("view")
            problems = view_problems(definition, expected_type="modal")
            if problems:
                response.problems += problems
            elif action == "update":
                _assign_block_ids(definition.get("blocks") or [])
                self._replace_view(view, definition)
            elif len(stack) >= MAX_VIEW_STACK:
                response.problems.append("push_limit_reached")
            else:
                _assign_block_ids(definition.get("blocks") or [])
                pushed = self._new_view(view.user, definition, root=stack[0], previous=stack[-1])
                stack.append(pushed.id)
                self._view_changed(pushed, "opened")
        elif action == "clear":
            self._close_stack(view.user)
        elif action is None:
            self._close_stack(view.user, index)  # an empty ack closes the submitted view
        else:
            response.problems.append(f"unknown response_action {action!r}")

    async def close_view(self, user_id: str, view_id: str | None = None, *, clear: bool = False,
                         **delivery: Any) -> AppResponse | None:
        """Close a modal as ``user_id`` (its Close button, or × with ``clear=True`` for the whole stack).

        Slack tells the app (``view_closed``) only when the view asked with ``notify_on_close``;
        otherwise nothing is sent and None is returned.
        """
        user = self.user(user_id)
        stack = self._stacks.get(user_id) or []
        if not stack:
            raise EmulatorUsageError(f"{user_id} has no modal open")
        view = self._open_view(user_id, view_id or stack[-1])
        self._close_stack(user_id, 0 if clear else stack.index(view.id))
        if not view.definition.get("notify_on_close"):
            return None
        payload = {
            "type": "view_closed",
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": user.to_actor(),
            "api_app_id": APP_ID,
            "token": self.verification_token,
            "view": view.to_payload(),
            "is_cleared": clear,
            "enterprise": ENTERPRISE_ID,
            "is_enterprise_install": False,
        }
        return await self._deliver_payload(payload, **delivery)

    async def send_event(self, user_id: str, event: dict[str, Any], **delivery: Any) -> AppResponse:
        """Deliver an Events API ``event_callback`` caused by ``user_id``.

        ``user`` and ``event_ts`` are filled in; ``app_home_opened`` also gets the user's DM
        channel, ``tab`` and the current Home view, as Slack sends them.
        """
        user = self.user(user_id)
        event = dict(event)
        event.setdefault("user", user.id)
        event.setdefault("event_ts", self._next_ts())
        if event.get("type") == "app_home_opened":
            event.setdefault("channel", user.dm_channel)
            event.setdefault("tab", "home")
            home = self.home(user_id)
            if home is not None:
                event.setdefault("view", home.to_payload())
        envelope = {
            "token": self.verification_token,
            "team_id": TEAM_ID,
            "context_team_id": TEAM_ID,
            "context_enterprise_id": None,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{self._event_ids.take():010d}",
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True,
                                "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
            "event_context": f"4-{uuid.uuid4().hex}",
        }
        return await self._deliver(json.dumps(envelope), "application/json", **delivery)

    async def send_message(self, user_id: str, channel: str, text: str, *, thread_ts: str | None = None,
                           **delivery: Any) -> AppResponse:
        """Post ``text`` as ``user_id`` in a channel or DM; the app gets the ``message`` event."""
        user = self.user(user_id)
        where = self._require_channel(channel)
        message = self._store_message(where, text=text, blocks=[], user=user.id, bot_id=None, thread_ts=thread_ts)
        event: dict[str, Any] = {
            "type": "message",
            "channel": where.id,
            "user": user.id,
            "text": text,
            "ts": message.ts,
            "event_ts": message.ts,
            "team": TEAM_ID,
            "client_msg_id": str(uuid.uuid4()),
            "channel_type": "im" if where.is_im else "group" if where.is_private else "channel",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return await self.send_event(user_id, event, **delivery)

    async def send_dm(self, user_id: str, text: str, **delivery: Any) -> AppResponse:
        """Write to the app in the user's DM (a ``message.im`` event)."""
        return await self.send_message(user_id, self.user(user_id).dm_channel, text, **delivery)

    async def url_verification(self, challenge: str | None = None, **delivery: Any) -> AppResponse:
        """Slack's check of a new Request URL; the app must echo the challenge."""
        body = {"token": self.verification_token, "challenge": challenge or secrets.token_urlsafe(24),
                "type": "url_verification"}
        return await self._deliver(json.dumps(body), "application/json", **delivery)

    # ---------------------------------------------------------------- control endpoints for the web page

    def _control_routes(self) -> list[web.RouteDef]:
        return [
            web.route("OPTIONS", "/_emulator/{tail:.*}", self._control_preflight),
            web.get("/_emulator/users", self._control_users),
            web.get("/_emulator/channels", self._control_channels),
            web.get("/_emulator/channels/{channel}/messages", self._control_messages),
            web.get("/_emulator/users/{user}/home", self._control_home),
            web.get("/_emulator/users/{user}/views", self._control_views),
            web.get("/_emulator/users/{user}/ephemerals", self._control_ephemerals),
            web.post("/_emulator/click", self._control_click),
            web.post("/_emulator/submit", self._control_submit),
            web.post("/_emulator/close", self._control_close),
            web.post("/_emulator/command", self._control_command),
            web.post("/_emulator/message", self._control_message),
            web.post("/_emulator/event", self._control_event),
            web.get("/_emulator/events", self._control_event_stream),
        ]

    # The sandbox page is served from another port: let it call these endpoints.
    _CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Content-Type",
             "Access-Control-Allow-Methods": "GET, POST, OPTIONS"}

    def _control_json(self, data: Any, status: int = 200) -> web.Response:
        return web.json_response(data, status=status, headers=self._CORS)

    async def _control_preflight(self, request: web.Request) -> web.Response:
        return web.Response(headers=self._CORS)

    async def _control_users(self, request: web.Request) -> web.Response:
        return self._control_json([{**u.to_payload(), "dm_channel": u.dm_channel} for u in self._users.values()])

    async def _control_channels(self, request: web.Request) -> web.Response:
        return self._control_json([
            {"id": c.id, "name": c.name, "is_im": c.is_im, "is_private": c.is_private, "user": c.user,
             "is_archived": c.is_archived, "message_count": len(c.by_ts)}
            for c in self._channels.values()
        ])

    async def _control_messages(self, request: web.Request) -> web.Response:
        channel = self.channel(request.match_info["channel"])
        if channel is None:
            return self._control_json({"error": "channel_not_found"}, 404)
        return self._control_json([self._message_json(m) for m in channel.by_ts.values()])

    async def _control_home(self, request: web.Request) -> web.Response:
        home = self.home(request.match_info["user"])
        return self._control_json(home.to_payload() | {"errors": home.errors} if home else None)

    async def _control_views(self, request: web.Request) -> web.Response:
        return self._control_json([v.to_payload() | {"errors": v.errors}
                                   for v in self.views(request.match_info["user"])])

    async def _control_ephemerals(self, request: web.Request) -> web.Response:
        return self._control_json([self._message_json(m) for m in self.ephemerals(request.match_info["user"])])

    async def _control_action(self, request: web.Request,
                              act: Callable[[dict[str, Any]], Awaitable[AppResponse | None]]) -> web.Response:
        """Run one action for the page; usage errors become 400 with the sentence, not a stack trace."""
        try:
            body = await request.json()
            response = await act(body)
        except (EmulatorUsageError, KeyError, ValueError) as exc:
            return self._control_json({"error": str(exc)}, 400)
        except aiohttp.ClientError as exc:
            return self._control_json({"error": f"app unreachable: {exc}"}, 502)
        return self._control_json(response.to_json() if response else {"status": None})

    def _control_target(self, body: dict[str, Any]) -> SlackMessage | SlackView:
        if body.get("view_id"):
            return self.view(str(body["view_id"]))
        if body.get("ephemeral"):
            found = self._ephemerals.get(str(body["user"]), {}).get(str(body.get("ts")))
        else:
            found = self._require_channel(str(body.get("channel"))).by_ts.get(str(body.get("ts")))
        if found is None:
            raise EmulatorUsageError(f"no message {body.get('ts')!r} there")
        return found

    async def _control_click(self, request: web.Request) -> web.Response:
        return await self._control_action(request, lambda b: self.click(
            str(b["user"]), self._control_target(b), str(b["action_id"]), value=b.get("value"),
            selected_user=b.get("selected_user"), selected_option=b.get("selected_option"),
            block_id=b.get("block_id")))

    async def _control_submit(self, request: web.Request) -> web.Response:
        return await self._control_action(request, lambda b: self.submit_view(
            str(b["user"]), b.get("view_id"), b.get("values") or {}))

    async def _control_close(self, request: web.Request) -> web.Response:
        return await self._control_action(request, lambda b: self.close_view(
            str(b["user"]), b.get("view_id"), clear=bool(b.get("clear"))))

    async def _control_command(self, request: web.Request) -> web.Response:
        return await self._control_action(request, lambda b: self.slash_command(
            str(b["user"]), str(b["command"]), str(b.get("text") or ""), b.get("channel")))

    async def _control_message(self, request: web.Request) -> web.Response:
        async def post(body: dict[str, Any]) -> AppResponse:
            user = self.user(str(body["user"]))
            return await self.send_message(user.id, str(body.get("channel") or user.dm_channel), str(body["text"]),
                                           thread_ts=body.get("thread_ts"))
        return await self._control_action(request, post)

    async def _control_event(self, request: web.Request) -> web.Response:
        return await self._control_action(request, lambda b: self.send_event(str(b["user"]), dict(b["event"])))

    async def _control_event_stream(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: one ``event: message|ephemeral|view|home`` per change, JSON data."""
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                             **self._CORS})
        await stream.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=10_000)
        self._subscribers.add(queue)
        try:
            await stream.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    await stream.write(b": keep-alive\n\n")  # finds readers that went away
                    continue
                if event is None:
                    break
                await stream.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            logger.debug("Event-stream reader went away")
        finally:
            self._subscribers.discard(queue)
        return stream
