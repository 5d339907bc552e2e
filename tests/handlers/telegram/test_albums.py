"""An album from a phone is acknowledged once, with its true count (issue 16, case 9).

Telegram delivers an album as one update per photo sharing a `media_group_id`, and never says
how many there are; the bot used to answer the first ("Received 1 so far") while the summary
later said 3."""

from __future__ import annotations

import asyncio

import pytest

from handlers.telegram.media import ALBUM_QUIET
from tests.handlers.telegram.test_photos import choose_engagement, jpeg_with_gps, setup  # noqa: F401
from tests.handlers.telegram.harness import said


def acknowledgements(ann) -> list[str]:
    return [m.text for m in ann.bot_messages() if "so far" in (m.text or "")]


async def quiet_while(seconds: float) -> None:
    """Let any late acknowledgement arrive before counting them."""
    await asyncio.sleep(seconds)


async def test_a_three_photo_album_in_one_burst_is_acknowledged_once_saying_3(setup) -> None:
    emu, bot, ann, root = setup
    await choose_engagement(ann)
    await ann.send_album([jpeg_with_gps(colour=(i * 60, 10, 10)) for i in range(3)])
    await said(ann, "Received 3 so far")
    await quiet_while(ALBUM_QUIET * 2)
    assert len(acknowledgements(ann)) == 1
    await ann.press("Done ✔")
    await said(ann, "Did everyone shown agree")


async def test_an_album_split_across_deliveries_is_still_one_acknowledgement(setup) -> None:
    """The album's photos may come in separate polls (or webhook calls) a moment apart."""
    emu, bot, ann, root = setup
    await choose_engagement(ann)
    group = "album-in-two-polls"
    for index in range(2):
        await ann.send_photo(jpeg_with_gps(colour=(index * 90, 20, 20)), media_group_id=group)
    await asyncio.sleep(ALBUM_QUIET / 3)
    await ann.send_photo(jpeg_with_gps(colour=(250, 20, 20)), media_group_id=group)
    await said(ann, "Received 3 so far")
    await quiet_while(ALBUM_QUIET * 2)
    assert acknowledgements(ann) == [acknowledgements(ann)[-1]]


@pytest.mark.parametrize("then", ["single photo", "Done"])
async def test_what_comes_after_an_album_is_answered_and_not_doubled(setup, then) -> None:
    """A photo sent alone right after an album is acknowledged at once, counting the album
    (one acknowledgement, not two); Done pressed before the album's acknowledgement was due
    moves on and no stale count follows."""
    emu, bot, ann, root = setup
    await choose_engagement(ann)
    await ann.send_album([jpeg_with_gps(colour=(i * 60, 10, 10)) for i in range(3)])
    if then == "single photo":
        await ann.send_photo(jpeg_with_gps(colour=(5, 200, 5)))
        await said(ann, "Received 4 so far")
        await quiet_while(ALBUM_QUIET * 2)
        assert acknowledgements(ann) == [acknowledgements(ann)[-1]]
    else:
        await ann.press("Done ✔")
        await said(ann, "Did everyone shown agree")
        await quiet_while(ALBUM_QUIET * 2)
        assert acknowledgements(ann) == []
        assert "Did everyone shown agree" in ann.last_bot_message.text
