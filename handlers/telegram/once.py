"""Each Telegram update handled once — here, in two handler groups around the router, so no
handler knows about repeats.

FIRST (before the router) reads what arrived in one query (`updates.arrive`: the person,
the form they are in, and whether the update's key is recorded already) and stops a repeat
there. A typed answer to the form in progress is taken in that same transaction, its draft
saved with the key: nothing to lose, nothing to take twice.

The router's handlers then change records through `context.handling.transaction()` (a form's
`FormContext.transaction` is the same thing): the key is written in that transaction, with
the change, so a crash keeps both or neither.

LAST (after the router) records the key of an update whose answer changed nothing (help, the
menu, a stale button), once it has been answered. A crash between that answer and its record
means the answer may come twice after a restart, never that a change is made twice.

An update whose handling failed never reaches LAST (app.py's error handler stops the groups):
its key stays unrecorded, and Telegram's next delivery of it is handled afresh.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers.telegram import conversation
from handlers.telegram.context import Ctx, Handling
from storage.operations import updates

log = logging.getLogger(__name__)

FIRST, LAST = -1, 1   # the router's own group is PTB's default, 0


async def first_look(update: Update, context: Ctx) -> None:
    """Read what arrived; a repeat goes no further."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or user.is_bot:
        raise ApplicationHandlerStop   # nothing a person sent: nothing to answer or record
    services = context.services
    handling = context.handling = Handling(updates.Once(
        services.db, updates.telegram_key(update.update_id)))
    typed = conversation.TypedAnswer.of(update, context)
    # The arrival's transaction is shared with the updates of other chats arriving at the same
    # moment (storage/operations/updates.py): in a burst, one commit for all of them.
    handling.arrival = arrived = await updates.arrive(
        services.db, handling.once.key, telegram_id=user.id,
        take=typed.take if typed else _nothing,
        draft_transport=conversation.TRANSPORT if typed else None, now=services.clock())
    if arrived.seen:
        handling.once.recorded = True
        if arrived.person is not None and arrived.person.active and \
                _handled_by_an_earlier_run(arrived, context):
            await conversation.ask_again(update, context, arrived.person)
        raise ApplicationHandlerStop
    if typed is not None and typed.step is not None:
        handling.taken = typed.step
        handling.once.recorded = True   # with the draft, in the arrival's transaction


async def last_look(update: Update, context: Ctx) -> None:
    """Record an update whose answer changed nothing (what changed records recorded it)."""
    await context.handling.once.record()


async def _nothing(arrived: updates.Arrival) -> None:
    return None


def _handled_by_an_earlier_run(arrived: updates.Arrival, context: Ctx) -> bool:
    started = context.application.bot_data.get("started_at")
    return arrived.seen_at is not None and started is not None and arrived.seen_at < started
