"""The Telegram Bot API emulator, driven by the real python-telegram-bot over loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bench._telegram_floor import run_echo_floor
from bot.emulators.telegram import TelegramEmulator

TOKEN = "123456789:TESTtokenForTheEmulatorTests_abcdef"
ANN = 1001


def jpeg(width: int = 1600, height: int = 1200) -> bytes:
    """A real JPEG of the given size."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


# -- a tiny bot ---------------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet with two choice buttons and a link."""
    assert update.message and update.effective_user
    keyboard = InlineKeyboardMarkup([
        [InlineKeyboardButton("Yes", callback_data="yes"),
         InlineKeyboardButton("No", callback_data="no")],
        [InlineKeyboardButton("Website", url="https://example.org")],
    ])
    args = " ".join(context.args or [])
    await update.message.reply_text(f"Welcome, {update.effective_user.first_name}! {args}",
                                    reply_markup=keyboard)


async def choose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the press and show the choice in place of the buttons."""
    query = update.callback_query
    assert query is not None
    await query.answer(f"You chose {query.data}")
    await query.edit_message_text(f"Chosen: {query.data}")


async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Download the largest size and say how big it was."""
    assert update.message and update.message.photo
    file = await update.message.photo[-1].get_file()
    buffer = io.BytesIO()
    await file.download_to_memory(buffer)
    context.bot_data.setdefault("photos", []).append(
        (update.message.media_group_id, buffer.getvalue()))
    await update.message.reply_text(f"photo of {len(buffer.getvalue())} bytes")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say the text back (an edited text too, marked as such)."""
    message = update.effective_message
    assert message and message.text
    prefix = "edited: " if update.edited_message else ""
    await message.reply_text(prefix + message.text)


async def remember(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Note every update id seen (runs before the other handlers, in its own group)."""
    context.bot_data.setdefault("update_ids", []).append(update.update_id)


def build_app(emu: TelegramEmulator, token: str = TOKEN) -> Application:  # type: ignore[type-arg]
    """A PTB Application talking to the emulator."""
    return (Application.builder().token(token).base_url(emu.base_url)
            .base_file_url(emu.base_file_url).build())


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """Run the application with long polling for the duration of the block."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=2)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(token=TOKEN) as emulator:
        emulator.webhook_retry_delay = 0.01
        yield emulator


@pytest.fixture
async def app(emu: TelegramEmulator) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    application = build_app(emu)
    # group=-1 so every update is noted before the handler that answers it runs.
    application.add_handler(TypeHandler(Update, remember), group=-1)
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(choose))
    application.add_handler(MessageHandler(filters.PHOTO, photo))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with polling(application):
        yield application


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as client:
        yield client


async def api(emu: TelegramEmulator, method: str, token: str = TOKEN,
              **params: Any) -> tuple[int, dict[str, Any]]:
    """A raw Bot API call with a JSON body, for what PTB would not send."""
    async with aiohttp.ClientSession() as session, session.post(
            f"{emu.url}/bot{token}/{method}", json=params) as response:
        return response.status, await response.json()


# -- conversations through a real PTB Application ----------------------------------------------


async def test_echo_reply_appears_in_the_transcript(emu: TelegramEmulator, app: Any) -> None:
    ann = emu.user(ANN, first_name="Ann")
    sent = await ann.send_text("hello there")
    reply = await ann.next_reply()

    assert reply.from_bot and reply.text == "hello there"
    assert emu.transcript(ANN) == [sent, reply]
    assert [m.from_bot for m in emu.transcript(ANN)] == [False, True]
    assert {"getMe", "deleteWebhook", "getUpdates", "sendMessage"} <= set(emu.call_counts)
    call = emu.calls_to("sendMessage")[-1]
    assert call.params["chat_id"] == ANN and call.params["text"] == "hello there"
    assert [t.update_id for t in emu.reply_timings] == [sent.update_id]
    assert emu.reply_timings[0].latency > 0


async def test_command_with_args_and_buttons(emu: TelegramEmulator, app: Any) -> None:
    ann = emu.user(ANN, first_name="Ann")
    await ann.send_command("/start abc")
    welcome = await ann.next_reply()

    assert welcome.text == "Welcome, Ann! abc"
    assert welcome.buttons == [[("Yes", "yes"), ("No", "no")],
                               [("Website", "https://example.org")]]


async def test_button_press_is_answered_and_the_message_edited(emu: TelegramEmulator,
                                                               app: Any) -> None:
    ann = emu.user(ANN)
    await ann.send_command("/start")
    welcome = await ann.next_reply()

    await ann.press("Yes")
    edited = await ann.next_reply()

    assert edited is welcome and edited.edited
    assert edited.text == "Chosen: yes" and edited.buttons == []
    assert [a.text for a in emu.callback_answers] == ["You chose yes"]
    assert len(emu.bot_messages(ANN)) == 1


async def test_pressing_a_missing_button_lists_the_buttons(emu: TelegramEmulator,
                                                           app: Any) -> None:
    ann = emu.user(ANN)
    await ann.send_command("/start")
    await ann.next_reply()

    with pytest.raises(AssertionError, match=r"no button 'Maybe'.*'Yes'→'yes'"):
        await ann.press("Maybe")
    with pytest.raises(AssertionError, match="sends no callback query"):
        await ann.press("Website")


async def test_photo_downloads_the_same_bytes(emu: TelegramEmulator, app: Any) -> None:
    ann = emu.user(ANN)
    data = jpeg(1600, 1200)
    sent = await ann.send_photo(data, caption="at the fair")
    reply = await ann.next_reply()

    assert reply.text == f"photo of {len(data)} bytes"
    assert app.bot_data["photos"] == [(None, data)]
    assert [(size["width"], size["height"]) for size in sent.photo] == [
        (90, 68), (320, 240), (800, 600), (1280, 960)]
    assert {"getFile"} <= set(emu.call_counts)


async def test_album_arrives_as_updates_sharing_a_media_group(emu: TelegramEmulator,
                                                              app: Any) -> None:
    ann = emu.user(ANN)
    photos = [jpeg(64, 48), jpeg(48, 64), jpeg(32, 32)]
    sent = await ann.send_album(photos, caption="three")
    await emu.wait_for(lambda: len(app.bot_data.get("photos", [])) == 3)

    group_ids = {group_id for group_id, _ in app.bot_data["photos"]}
    assert len(group_ids) == 1 and None not in group_ids
    assert [content for _, content in app.bot_data["photos"]] == photos
    assert len({m.update_id for m in sent}) == 3
    assert [m.caption for m in sent] == ["three", None, None]


async def test_redelivery_hands_the_same_update_over_twice(emu: TelegramEmulator,
                                                           app: Any) -> None:
    ann = emu.user(ANN)
    sent = await ann.send_text("once")
    await ann.next_reply()

    emu.redeliver(sent.update_id)
    await ann.next_reply()
    await ann.send_text("after")
    await ann.next_reply()

    ids = app.bot_data["update_ids"]
    assert ids[:2] == [sent.update_id, sent.update_id] and len(ids) == 3


async def test_group_messages_and_user_edits(emu: TelegramEmulator, app: Any) -> None:
    ann, bob = emu.user(ANN, "Ann"), emu.user(1002, "Bob")
    await ann.send_text("hi all", chat_type="group")
    await bob.send_text("hello", chat_type="group")
    group = emu.chats[-1]
    await emu.wait_for(lambda: len(emu.bot_messages(group.id)) == 2)
    assert group.type == "group" and [m.sender_id for m in emu.transcript(group.id)][:2] == [
        ANN, 1002]

    mine = await ann.send_text("typo")
    await ann.next_reply()
    await ann.edit_text(mine, "fixed")
    assert mine.edited and mine.text == "fixed"
    assert (await ann.next_reply()).text == "edited: fixed"


# -- the Bot API surface through PTB's Bot --------------------------------------------------


async def test_errors_match_the_real_api(emu: TelegramEmulator, bot: Bot) -> None:
    ann = emu.user(ANN)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(ANN, "  ")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ANN, "x" * 4097)
    await bot.send_message(ANN, "😀" * 2048)  # 4096 UTF-16 units: the limit exactly
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ANN, "😀" * 2049)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(555, "anyone?")

    sent = await bot.send_message(ANN, "same")
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("same", chat_id=ANN, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("new", chat_id=ANN, message_id=999)

    ann.blocked = True
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ANN, "still there?")


async def test_messages_and_edits(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user(ANN)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    sent = await bot.send_message(ANN, "<b>Summary</b>", parse_mode="HTML",
                                  reply_markup=keyboard)
    assert sent.reply_markup == keyboard and sent.from_user and sent.from_user.is_bot
    assert sent.chat.type == "private" and isinstance(sent.message_id, int)

    message = emu.bot_messages(ANN)[0]
    assert message.text == "<b>Summary</b>" and message.parse_mode == "HTML"
    assert message.plain_text == "Summary"

    edited = await bot.edit_message_reply_markup(ANN, sent.message_id)
    assert isinstance(edited, type(sent)) and edited.reply_markup is None
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_reply_markup(ANN, sent.message_id)

    await bot.send_message(ANN, "pick", reply_markup=ReplyKeyboardMarkup([["A", "B"]]))
    assert emu.chat(ANN).reply_keyboard == [["A", "B"]]


async def test_documents_files_and_commands(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user(ANN)
    document = await bot.send_document(ANN, b"a,b\n1,2\n", filename="report.csv")
    assert document.document and document.document.file_name == "report.csv"
    file = await bot.get_file(document.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"a,b\n1,2\n"
    with pytest.raises(BadRequest, match="Wrong file_id"):
        await bot.get_file("nonsense")

    await bot.set_my_commands([BotCommand("start", "Link your account"),
                               BotCommand("menu", "What you can do")])
    assert emu.commands == [("start", "Link your account"), ("menu", "What you can do")]


async def test_user_sent_kinds_deserialise_in_ptb(emu: TelegramEmulator, bot: Bot) -> None:
    ann = emu.user(ANN, "Ann", "ann_w")
    await ann.send_document(b"%PDF-1.4", "plan.pdf", "application/pdf")
    await ann.send_video(b"\x00" * 10, duration=4, width=640, height=480)
    await ann.send_sticker()
    await ann.send_voice()
    await ann.send_location(52.19, -2.22)
    await ann.send_command("/menu")

    updates = await bot.get_updates(timeout=0)
    messages = [u.message for u in updates]
    assert all(m is not None for m in messages)
    assert messages[0].document.file_name == "plan.pdf"  # type: ignore[union-attr]
    assert messages[1].video.thumbnail is not None  # type: ignore[union-attr]
    assert messages[2].sticker.emoji == "👍"  # type: ignore[union-attr]
    assert messages[3].voice is not None  # type: ignore[union-attr]
    assert messages[4].location.latitude == 52.19  # type: ignore[union-attr]
    command = messages[5]
    assert command and command.text == "/menu" and command.entities[0].type == "bot_command"
    assert messages[0].from_user.username == "ann_w"  # type: ignore[union-attr]
    video_file = await bot.get_file(messages[1].video.file_id)  # type: ignore[union-attr]
    assert bytes(await video_file.download_as_bytearray()) == b"\x00" * 10


# -- polling semantics ---------------------------------------------------------------------


async def test_get_updates_offsets_and_long_polling(emu: TelegramEmulator) -> None:
    ann = emu.user(ANN)
    for text in ("a", "b", "c"):
        await ann.send_text(text)

    _, first = await api(emu, "getUpdates")
    ids = [u["update_id"] for u in first["result"]]
    assert len(ids) == 3
    _, again = await api(emu, "getUpdates", offset=ids[1], limit=1)
    assert [u["update_id"] for u in again["result"]] == [ids[1]]
    _, rest = await api(emu, "getUpdates", offset=ids[2])
    assert [u["update_id"] for u in rest["result"]] == [ids[2]]

    waiting = asyncio.create_task(api(emu, "getUpdates", offset=ids[2] + 1, timeout=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await ann.send_text("d")
    _, woken = await asyncio.wait_for(waiting, 2)  # well before the 5 s poll timeout
    assert [u["message"]["text"] for u in woken["result"]] == ["d"]

    older = asyncio.create_task(api(emu, "getUpdates", offset=ids[2] + 2, timeout=5))
    await asyncio.sleep(0.05)
    status, _ = await api(emu, "getUpdates", offset=ids[2] + 2, timeout=0)
    older_status, older_body = await older
    assert status == 200 and older_status == 409
    assert "terminated by other getUpdates request" in older_body["description"]


async def test_wrong_token_and_unknown_method(emu: TelegramEmulator) -> None:
    status, body = await api(emu, "getMe", token="123:wrong")
    assert (status, body) == (401, {"ok": False, "error_code": 401,
                                    "description": "Unauthorized"})
    # What the bot never calls is not served: Telegram's own answer to a method it lacks.
    for method in ("sendTelepathy", "deleteMessage"):
        status, body = await api(emu, method, chat_id=ANN, message_id=1)
        assert (status, body) == (404, {"ok": False, "error_code": 404,
                                        "description": "Not Found"})
    status, body = await api(emu, "getme")  # method names are case-insensitive
    assert status == 200 and body["result"]["is_bot"] is True
    with pytest.raises(InvalidToken):
        async with Bot("123:wrong", base_url=emu.base_url):
            pass  # entering runs getMe, which is refused


# -- webhooks ------------------------------------------------------------------------------


async def test_webhook_delivers_with_secret_and_retries(emu: TelegramEmulator,
                                                        bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def endpoint(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                         await request.json()))
        return web.Response(status=500 if len(received) == 1 else 200)

    server = web.Application()
    server.router.add_post("/telegram/webhook", endpoint)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/telegram/webhook"
    try:
        assert await bot.set_webhook(url, secret_token="s3cret-Token_1")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        ann = emu.user(ANN)
        sent = await ann.send_text("via webhook")
        await emu.wait_for(lambda: len(received) == 2)

        assert [secret for secret, _ in received] == ["s3cret-Token_1"] * 2
        assert [body["update_id"] for _, body in received] == [sent.update_id] * 2
        assert received[0][1]["message"]["text"] == "via webhook"
        assert emu.pending_update_count == 0
        assert await bot.delete_webhook()
        assert (await bot.get_updates()) == ()
    finally:
        await runner.cleanup()


async def test_updates_held_by_a_removed_webhook_go_back_to_polling(
        emu: TelegramEmulator) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def stuck(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.Response()

    server = web.Application()
    server.router.add_post("/hook", stuck)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        await api(emu, "setWebhook", url=f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        ann = emu.user(ANN)
        await ann.send_text("a")
        await ann.send_text("b")
        await asyncio.wait_for(arrived.wait(), 2)  # "a" is in flight, "b" queued behind it
        assert emu.pending_update_count == 2
        await api(emu, "deleteWebhook")
        _, body = await api(emu, "getUpdates")
        assert [u["message"]["text"] for u in body["result"]] == ["a", "b"]
    finally:
        release.set()
        await runner.cleanup()


async def test_allowed_updates_drop_the_rest_and_next_reply_times_out(
        emu: TelegramEmulator) -> None:
    ann = emu.user(ANN)
    await api(emu, "getUpdates", allowed_updates=["callback_query"])
    await ann.send_text("not wanted")
    _, body = await api(emu, "getUpdates")
    assert body["result"] == []
    with pytest.raises(TimeoutError, match=r"no reply from the bot in chat 1001 within 0.05 s"):
        await ann.next_reply(timeout=0.05)


# -- faults --------------------------------------------------------------------------------


# PTB itself warns while building RetryAfter (its retry_after becomes a timedelta in v23).
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_faults_surface_as_ptb_exceptions(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user(ANN)
    emu.faults.server_error("sendMessage")
    with pytest.raises(NetworkError) as failed:
        await bot.send_message(ANN, "first try")
    assert failed.type is NetworkError and "Internal Server Error" in str(failed.value)
    assert (await bot.send_message(ANN, "second try")).text == "second try"

    emu.faults.flood("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter, match="Retry in 3"):
        await bot.send_message(ANN, "too fast")

    emu.faults.bad_gateway("sendMessage")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(ANN, "behind nginx")

    emu.faults.blocked()
    with pytest.raises(Forbidden):
        await bot.send_message(ANN, "blocked once")

    emu.faults.hang("sendMessage", seconds=0.4)
    with pytest.raises(TimedOut):
        await bot.send_message(ANN, "slow", read_timeout=0.1)
    # Telegram may still deliver what timed out on the bot's side.
    await emu.wait_for(lambda: emu.bot_messages(ANN)[-1].text == "slow")
    assert emu.faults.pending == []
    assert [c.status for c in emu.calls_to("sendMessage")] == [500, 200, 429, 502, 403, 200]


async def test_latency_delays_each_call(emu: TelegramEmulator, bot: Bot) -> None:
    emu.latency = 0.05
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bot.get_me()
    assert loop.time() - started >= 0.05


# -- the control API for the sandbox page --------------------------------------------------


async def test_control_api_and_event_stream(emu: TelegramEmulator, app: Any) -> None:
    async with aiohttp.ClientSession(emu.url) as session:
        events = await session.get("/_emulator/events")
        assert await events.content.readuntil(b"\n\n") == b": connected\n\n"

        response = await session.post(f"/_emulator/users/{ANN}/text",
                                      json={"text": "/start web", "first_name": "Ann"})
        assert (await response.json())["message"]["text"] == "/start web"

        seen = []
        while len(seen) < 2:
            chunk = await asyncio.wait_for(events.content.readuntil(b"\n\n"), 5)
            seen.append(json.loads(chunk.decode().split("data: ", 1)[1]))
        assert [e["message"]["from_bot"] for e in seen] == [False, True]
        assert seen[1]["message"]["buttons"][0] == [["Yes", "yes"], ["No", "no"]]

        pressed = await session.post(f"/_emulator/users/{ANN}/press", json={"button": "No"})
        assert (await pressed.json())["ok"]
        await emu.wait_for(lambda: emu.callback_answers)

        form = aiohttp.FormData()
        form.add_field("photo", jpeg(20, 20), filename="p.jpg", content_type="image/jpeg")
        form.add_field("caption", "from the page")
        uploaded = await (await session.post(f"/_emulator/users/{ANN}/photo", data=form)).json()
        file_id = uploaded["message"]["file_id"]
        assert await (await session.get(f"/_emulator/files/{file_id}")).read() == jpeg(20, 20)

        chats = await (await session.get("/_emulator/chats")).json()
        assert [c["id"] for c in chats["chats"]] == [ANN]
        transcript = await (await session.get(f"/_emulator/chats/{ANN}/messages")).json()
        assert transcript["messages"][1]["text"] == "Chosen: no"
        events.close()


# -- the echo floor the benchmark compares against ------------------------------------------


async def test_echo_floor_measures_a_burst(emu: TelegramEmulator) -> None:
    result = await run_echo_floor(emu, n_updates=60, n_users=6)
    assert result["updates"] == 60 and result["updates_per_s"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert len(emu.reply_timings) == 60
