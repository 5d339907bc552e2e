"""The Bot API transport honours the environment's proxy, read once per host."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from telegram.error import NetworkError

from handlers.telegram.transport import AiohttpRequest


@pytest.fixture
async def proxy():
    """A forward proxy on loopback that answers every call itself and notes what it was asked."""
    asked: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        asked.append(str(request.url))
        if "Proxy-Authorization" in request.headers:
            asked.append(request.headers["Proxy-Authorization"])
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", asked
    await runner.cleanup()


async def test_calls_go_through_the_proxy_the_environment_names(proxy, monkeypatch) -> None:
    address, asked = proxy
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", address)
    request = AiohttpRequest()
    await request.initialize()
    try:
        # The host does not resolve: only the proxy can answer.
        for method in ("getMe", "deleteWebhook"):
            status, body = await request.do_request(
                f"http://bot-api.invalid/botTOKEN/{method}", "POST")
            assert status == 200 and json.loads(body)["result"] is True
    finally:
        await request.shutdown()
    assert asked == ["http://bot-api.invalid/botTOKEN/getMe",
                     "http://bot-api.invalid/botTOKEN/deleteWebhook"]


async def test_the_proxys_credentials_are_sent_to_it(proxy, monkeypatch) -> None:
    import base64

    address, asked = proxy
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", address.replace("http://", "http://office:pa55@"))
    request = AiohttpRequest()
    await request.initialize()
    try:
        status, _ = await request.do_request("http://bot-api.invalid/botTOKEN/getMe", "POST")
    finally:
        await request.shutdown()
    assert status == 200
    assert asked == ["http://bot-api.invalid/botTOKEN/getMe",
                     "Basic " + base64.b64encode(b"office:pa55").decode()]


async def test_a_host_in_no_proxy_is_called_directly(proxy, monkeypatch) -> None:
    address, asked = proxy
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.setenv("NO_PROXY", "bot-api.invalid")
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await request.do_request("http://bot-api.invalid/botTOKEN/getMe", "POST")
    finally:
        await request.shutdown()
    assert asked == []


async def test_a_bot_on_this_transport_sends_keyboards_and_files() -> None:
    """Through the emulator: a call without files goes as JSON (its keyboard intact); one
    with a file as multipart form data (the file's bytes intact)."""
    from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

    from bot.emulators.telegram import TelegramEmulator

    async with TelegramEmulator(token="123:transport") as emu:
        emu.user(42, "Ann")
        request = AiohttpRequest()
        async with Bot("123:transport", base_url=emu.base_url, base_file_url=emu.base_file_url,
                       request=request, get_updates_request=AiohttpRequest()) as bot:
            keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Back", callback_data="b")]])
            sent = await bot.send_message(42, "Where was it? <b>not bold</b>",
                                          reply_markup=keyboard)
            document = await bot.send_document(42, b"a,b\n1,2\n", filename="hours.csv")
            file = await bot.get_file(document.document.file_id)
            downloaded = bytes(await file.download_as_bytearray())
    assert sent.text == "Where was it? <b>not bold</b>"
    assert sent.reply_markup == keyboard
    assert downloaded == b"a,b\n1,2\n" and document.document.file_name == "hours.csv"
    calls = {call.method: call.params for call in emu.calls}
    assert calls["sendMessage"]["reply_markup"] == keyboard.to_dict()
    assert "parse_mode" not in calls["sendMessage"]


async def test_raw_calls_reach_the_api_without_a_warning() -> None:
    """sendMessage and getUpdates through handlers/telegram/raw.py: delivered, answered as
    JSON, and PTB has nothing to warn about (no filter hides it)."""
    import warnings

    from telegram import Bot

    from bot.emulators.telegram import TelegramEmulator
    from handlers.telegram import raw

    async with TelegramEmulator(token="123:raw") as emu:
        ann = emu.user(42, "Ann")
        async with Bot("123:raw", base_url=emu.base_url, request=AiohttpRequest()) as bot:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                await raw.send_message(bot, 42, "Hello Ann")
                await ann.send_text("hi")
                updates = await raw.get_updates(bot, offset=None, timeout=0,
                                                allowed_updates=["message"], read_timeout=5)
        assert [m.text for m in emu.bot_messages(42)] == ["Hello Ann"]
        assert [u["message"]["text"] for u in updates] == ["hi"]
