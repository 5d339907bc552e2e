"""Bot API calls whose answer is taken as JSON, not parsed into python-telegram-bot objects.

Parsing Telegram's answer is most of what a call costs in CPU once the transport is cheap: the
Message that sendMessage returns (about a fifth of a form step), every update getUpdates
returns again while an older one is in flight. Where nobody reads those objects they are not
built. The call still goes through the bot's request pipeline: the same transport, timeouts,
errors and `ReplyRetries`.

PTB's public `do_api_request` warns when it is given the name of a method the Bot has ("use
Bot.send_message instead"). The Bot API's method names are case-insensitive (Telegram's
documentation says so), so these calls name them in lower case: the same methods to Telegram,
a name the Bot has no attribute for to PTB, and no warning to silence.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot, InlineKeyboardMarkup


async def send_message(bot: Bot, chat_id: int, text: str,
                       reply_markup: InlineKeyboardMarkup | None = None) -> int | None:
    """sendMessage, the answer not parsed into a Message: only its id is read."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if reply_markup is not None:
        params["reply_markup"] = reply_markup
    sent = await bot.do_api_request("sendmessage", api_kwargs=params)
    return sent.get("message_id") if isinstance(sent, dict) else None


async def get_updates(bot: Bot, *, offset: int | None, timeout: int,
                      allowed_updates: list[str], read_timeout: float) -> list[dict[str, Any]]:
    """getUpdates as JSON, so that only the updates not yet taken are parsed."""
    params: dict[str, Any] = {"timeout": timeout, "allowed_updates": allowed_updates}
    if offset is not None:
        params["offset"] = offset
    return await bot.do_api_request("getupdates", api_kwargs=params,
                                    read_timeout=read_timeout)
