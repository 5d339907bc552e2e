"""The emulators answer in the real APIs' shapes (tests/bot/recorded/, sources in its README).

Each method the bot calls is called on its emulator; every key of the answer must be in the
recorded real answer with the same JSON type (the emulator may leave fields out, never invent
one), and the fields the bot reads must be there.
"""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from bot.emulators import telegram
from bot.emulators.slack import SlackEmulator
from bot.emulators.telegram import TelegramEmulator

RECORDED = Path(__file__).parent / "recorded"
ANN, OFFICER, ALERTS = 5123456789, "U0OFFICER1", "C0ALERTS01"

Answers = dict[str, Any]
# A call: (method, its parameters or a function of the earlier answers, the paths the bot reads);
# or something people do between calls.
Step = tuple[str, Any, list[str]] | Callable[[Any, Answers], Awaitable[None]]


# -- comparing shapes ----------------------------------------------------------------------------


def _kind(value: Any) -> str:
    for kind, types in (("null", type(None)), ("boolean", bool), ("number", int | float),
                        ("string", str), ("array", list), ("object", dict)):
        if isinstance(value, types):
            return kind
    raise TypeError(value)


def _shape(value: Any, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """JSON kind → detail (an object's fields, an array's items), every item of a list merged."""
    shape = {} if into is None else into
    kind = _kind(value)
    if kind == "object":
        fields = shape.setdefault("object", {})
        for key, item in value.items():
            _shape(item, fields.setdefault(key, {}))
    elif kind == "array":
        items = shape.setdefault("array", {})
        for item in value:
            _shape(item, items)
    else:
        shape.setdefault(kind, None)
    return shape


def strays(answer: Any, real: dict[str, Any], where: str) -> list[str]:
    """What the emulator answers that the real API does not: a key, or a value of another kind."""
    kind = _kind(answer)
    if kind not in real:
        return [f"{where}: {kind}, the real answer has {' or '.join(real) or 'no item here'}"]
    if kind == "object":
        return [problem for key, value in answer.items()
                for problem in (strays(value, real["object"][key], f"{where}.{key}")
                                if key in real["object"] else [f"{where}.{key}: not in the real answer"])]
    if kind == "array":
        return [problem for index, item in enumerate(answer)
                for problem in strays(item, real["array"], f"{where}[{index}]")]
    return []


def _at(value: Any, path: str) -> Any:
    """The value at a dotted path (list items by index), None where there is none."""
    for step in path.split("."):
        if isinstance(value, list):
            value = value[int(step)] if int(step) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


def missing(answer: Any, paths: list[str], where: str) -> list[str]:
    """The fields the bot reads that the answer lacks."""
    return [f"{where}: no {path}" for path in paths if _at(answer, path) is None]


async def check(steps: list[Step], service: str, call: Callable[[str, dict[str, Any]], Awaitable[Any]],
                emulator: Any) -> list[str]:
    """Run the steps; what the emulator answered that no recorded answer allows, or lacks."""
    called = {step[0] for step in steps if isinstance(step, tuple)}
    assert called == {path.stem for path in (RECORDED / service).glob("*.json")}  # one file each
    answers: Answers = {}
    problems: list[str] = []
    for step in steps:
        if callable(step):
            await step(emulator, answers)
            continue
        method, params, reads = step
        answer = answers[method] = await call(method, params(answers) if callable(params) else params)
        real = json.loads((RECORDED / service / f"{method}.json").read_text(encoding="utf-8"))
        problems += strays(answer, _shape(real), method) + missing(answer, reads, method)
    return problems


def test_the_comparison_finds_an_invented_field_a_wrong_type_and_a_missing_read() -> None:
    real = _shape({"ok": True, "result": [{"id": 1, "name": "a"}, {"id": 2, "photo": [{"w": 90}]}]})
    answer = {"ok": True, "result": [{"id": "1", "photo": [{"w": 90, "h": 68}]}], "extra": None}
    assert strays(answer, real, "m") == ["m.result[0].id: string, the real answer has number",
                                         "m.result[0].photo[0].h: not in the real answer",
                                         "m.extra: not in the real answer"]
    assert missing(answer, ["result.0.id", "result.0.name", "result.3.id"], "m") == [
        "m: no result.0.name", "m: no result.3.id"]


# -- Telegram ------------------------------------------------------------------------------------


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1200), (40, 120, 200)).save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


KEYBOARD = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}],
                                [{"text": "Privacy notice", "url": "https://example.org/privacy"}]]}
TWO = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]]}


async def ann_starts_a_chat(emu: TelegramEmulator, answers: Answers) -> None:
    emu.user(ANN, "Ann", "ann_shaw", last_name="Shaw")


async def ann_writes_sends_and_presses(emu: TelegramEmulator, answers: Answers) -> None:
    ann = emu.user(ANN)
    first = await ann.send_command("/start 3f9c2a")
    await ann.send_photo(jpeg(), "At the fair", media_group_id="13721864238469")
    await ann.send_document(b"%PDF-1.4", "receipt.pdf", "application/pdf")
    await ann.send_video(b"\x00" * 64, duration=5)
    await ann.send_location(52.192, -2.22)
    await ann.edit_text(first, "tomorrow 7pm")
    await ann.press("Yes")


def _sent(answers: Answers) -> dict[str, Any]:
    return {"chat_id": ANN, "message_id": answers["sendMessage"]["result"]["message_id"]}


def _updates(answers: Answers) -> list[dict[str, Any]]:
    return answers["getUpdates"]["result"]


TELEGRAM: list[Step] = [
    ("getMe", {}, ["result.id", "result.is_bot", "result.first_name", "result.username"]),
    ("setMyCommands", {"commands": [{"command": "menu", "description": "What you can do"}]}, ["result"]),
    ann_starts_a_chat,
    ("sendMessage", {"chat_id": ANN, "text": "Is the venue booked?", "reply_markup": KEYBOARD,
                     "entities": [{"offset": 4, "length": 5, "type": "bold"}]},
     ["result.message_id", "result.date", "result.chat.id"]),
    ("editMessageText", lambda a: _sent(a) | {"text": "Is the venue booked? Yes", "reply_markup": KEYBOARD},
     ["result.message_id"]),
    ("editMessageReplyMarkup", lambda a: _sent(a) | {"reply_markup": TWO}, ["result.message_id"]),
    ann_writes_sends_and_presses,
    ("getUpdates", {"timeout": 0}, [
        "result.0.update_id", "result.0.message.message_id", "result.0.message.date",
        "result.0.message.chat.id", "result.0.message.from.id", "result.0.message.text",
        "result.1.message.photo.0.file_id", "result.2.message.document.file_id",
        "result.5.edited_message.text", "result.6.callback_query.id", "result.6.callback_query.data"]),
    ("answerCallbackQuery", lambda a: {"callback_query_id": _updates(a)[-1]["callback_query"]["id"]},
     ["result"]),
    ("getFile", lambda a: {"file_id": _updates(a)[1]["message"]["photo"][-1]["file_id"]},
     ["result.file_path"]),
    ("sendDocument", lambda a: {"chat_id": ANN, "caption": "Your hours this quarter",
                                "document": _updates(a)[2]["message"]["document"]["file_id"]},
     ["result.message_id", "result.document.file_id"]),
    ("setWebhook", {"url": "http://127.0.0.1:9/telegram/webhook", "secret_token": "s3cret"}, ["result"]),
    ("deleteWebhook", {}, ["result"]),
]


async def test_the_telegram_emulator_answers_as_the_bot_api_does() -> None:
    assert {step[0] for step in TELEGRAM if isinstance(step, tuple)} == set(telegram._API_METHODS)
    async with TelegramEmulator() as emu, aiohttp.ClientSession() as session:

        async def call(method: str, params: dict[str, Any]) -> Any:
            async with session.post(emu.api_url + method, json=params) as response:
                return await response.json()

        assert await check(TELEGRAM, "telegram", call, emu) == []


# -- Slack ---------------------------------------------------------------------------------------


BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Urgent feedback* from Ann Shaw"}},
    {"type": "actions", "block_id": "alert_actions", "elements": [
        {"type": "button", "action_id": "alert_ack", "text": {"type": "plain_text", "text": "Acknowledge"},
         "value": "feedback:41", "style": "primary"}]},
]
MODAL = {"type": "modal", "callback_id": "follow_up_reason", "private_metadata": "feedback:41",
         "title": {"type": "plain_text", "text": "Follow-up"}, "submit": {"type": "plain_text", "text": "Save"},
         "close": {"type": "plain_text", "text": "Cancel"}, "blocks": BLOCKS}


async def the_officer_clicks(emu: SlackEmulator, answers: Answers) -> None:
    """A click gives the app a trigger_id to open a modal with."""
    answers["trigger"] = emu.issue_trigger(OFFICER)


async def upload_the_bytes(emu: SlackEmulator, answers: Answers) -> None:
    """slack_sdk's step between the two files.*External calls: the file, to the URL given."""
    async with aiohttp.ClientSession() as session:
        url = answers["files.getUploadURLExternal"]["upload_url"]
        async with session.post(url, data=b"\x89PNG chart") as response:
            assert response.status == 200


def _posted(answers: Answers) -> dict[str, Any]:
    return {"channel": answers["chat.postMessage"]["channel"], "ts": answers["chat.postMessage"]["ts"]}


def _file(answers: Answers) -> str:
    return answers["files.getUploadURLExternal"]["file_id"]


SLACK: list[Step] = [
    ("auth.test", {}, ["user_id", "bot_id", "team_id"]),
    ("chat.postMessage", {"channel": ALERTS, "text": "Urgent feedback from Ann Shaw", "blocks": BLOCKS},
     ["channel", "ts"]),
    ("chat.update", lambda a: _posted(a) | {"text": "Acknowledged by Olivia Hart", "blocks": BLOCKS}, ["ok"]),
    ("chat.postEphemeral", {"channel": ALERTS, "user": OFFICER, "text": "Only the deputy can do that."},
     ["ok"]),
    the_officer_clicks,
    ("views.open", lambda a: {"trigger_id": a["trigger"], "view": MODAL}, ["view.id", "view.hash"]),
    ("views.update", lambda a: {"view_id": a["views.open"]["view"]["id"], "hash": a["views.open"]["view"]["hash"],
                                "view": MODAL}, ["ok"]),
    ("views.publish", {"user_id": OFFICER, "view": {"type": "home", "blocks": BLOCKS}}, ["ok"]),
    ("conversations.open", {"users": OFFICER}, ["channel.id"]),
    ("files.getUploadURLExternal", {"filename": "digest-chart.png", "length": 10,
                                    "alt_txt": "Bar chart of engagements by area"}, ["upload_url", "file_id"]),
    upload_the_bytes,
    ("files.completeUploadExternal", lambda a: {"files": [{"id": _file(a), "title": "Engagements this week"}],
                                                "channel_id": ALERTS, "thread_ts": _posted(a)["ts"]}, ["ok"]),
    ("files.info", lambda a: {"file": _file(a)},
     ["file.mimetype", "file.size", "file.url_private_download", "file.name"]),
]


async def test_the_slack_emulator_answers_as_the_web_api_does() -> None:
    async with SlackEmulator(bot_token="xoxb-shapes", signing_secret="secret") as emu, \
            aiohttp.ClientSession() as session:
        emu.add_user(OFFICER, "olivia", "Olivia Hart")
        emu.add_channel(ALERTS, "ambassador-alerts")
        assert {step[0] for step in SLACK if isinstance(step, tuple)} == set(emu._methods)

        async def call(method: str, params: dict[str, Any]) -> Any:
            async with session.post(f"{emu.api_base_url}{method}", json=params,
                                    headers={"Authorization": f"Bearer {emu.bot_token}"}) as response:
                return await response.json()

        assert await check(SLACK, "slack", call, emu) == []
