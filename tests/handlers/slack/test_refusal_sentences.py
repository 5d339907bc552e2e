"""Every refusal names exactly the roles the matrix allows (issue 16, case 13): "Invite" and
"Manage meetings" once left out the administrators, and the export refusal sent them to the
command line though `/ambassadors export` works for them. Each action the office can be refused
in Slack is tried there, by someone without the role, through slack-bolt and the emulator; the
actions Slack never offers are refused by the operations with the same sentence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import pytest

from storage.errors import NotAllowed
from storage.models import Person, Role
from storage.operations import meetings
from storage.permissions import MATRIX, Action, require
from tests.handlers.slack.harness import (BOB, Office, photo, recommend_grant, refer_grant,
                                          urgent_feedback)

A, O, C, P, D, X = (Role.AMBASSADOR, Role.OFFICER, Role.COMMISSIONING, Role.COMMISSIONER,
                    Role.DEPUTY, Role.ADMIN)
# Written here, not imported: what a person reading the sentence takes each role to be called.
SAID_AS = {A: "ambassadors", O: "engagement officers", C: "the commissioning team",
           P: "the Commissioner", D: "the deputy", X: "administrators"}
NOT_ON_SLACK = {Action.SEE_GRANTS, Action.APPROVE_EXPENSES, Action.DEACTIVATE, Action.ERASE,
                Action.CHANGE_SCHEME}


def roles_named(sentence: str) -> set[Role]:
    assert sentence.startswith("Only ") and " can " in sentence, sentence
    named = sentence[len("Only "):sentence.index(" can ")]
    found = {role for role, said in SAID_AS.items() if said in named}
    # Nothing else is in the list of who may: it is these names, joined by commas and "and".
    rest = named
    for role in found:
        rest = rest.replace(SAID_AS[role], "")
    assert rest.replace(",", "").replace(" and ", "").strip() == "", sentence
    return found


def refused_role(action: Action) -> Role:
    return next(role for role in Role if role not in MATRIX[action])


async def _slash(office: Office, action: Action, text: str) -> str:
    user = office.uid(refused_role(action))
    await office.emu.slash_command(user, "/ambassadors", text)
    return (await office.ephemeral(user, "Only ")).text


async def _click(office: Office, action: Action, message: object, action_id: str,
                 **click: object) -> str:
    user = office.uid(refused_role(action))
    await office.emu.click(user, message, action_id, **click)
    return (await office.ephemeral(user, "Only ")).text


async def _home(office: Office, action: Action, action_id: str) -> str:
    """A button on Ann's App Home pressed by someone without the role: a small notice."""
    emu = office.emu
    ann = office.uid(A)
    await emu.send_event(ann, {"type": "app_home_opened"})
    home = await emu.wait_for(lambda: emu.home(ann))
    user = office.uid(refused_role(action))
    await emu.click(user, home, action_id)
    [notice] = await emu.wait_for(lambda: emu.views(user))
    await emu.close_view(user)
    return str(notice.blocks)


async def _meeting_invitation(office: Office) -> object:
    now = dt.datetime.now(dt.UTC)
    async with office.db.transaction() as s:
        await meetings.do_schedule_meeting(
            s, office.scheme, kind="catch_up", title="Weekly catch-up", place="Online",
            starts_at=now + dt.timedelta(days=2), ends_at=now + dt.timedelta(days=2, hours=1),
            actor=await s.merge(office.cast.officer))
    await office.deliver()
    return office.last(BOB)


async def _grant_post(office: Office) -> object:
    await recommend_grant(office)
    await office.deliver()
    return office.last(office.channel("grants"))


async def _decision(office: Office) -> object:
    grant_id = await recommend_grant(office, organisation="Decision Club")
    await refer_grant(office, grant_id)
    await office.deliver()
    return office.last(office.uid(P))


async def _alert(office: Office) -> object:
    await urgent_feedback(office)
    await office.deliver()
    return office.last(office.channel("alerts"))


async def _media_post(office: Office) -> object:
    await photo(office, children=False)
    await office.deliver()
    return office.last(office.channel("media"))


Try = Callable[[Office, Action], Awaitable[str]]
ON_SLACK: dict[Action, Try] = {
    Action.OWN_RECORDS: lambda o, a: _home(o, a, "open_form_prenotify"),
    Action.RECOMMEND_GRANT: lambda o, a: _home(o, a, "open_form_grant"),
    Action.SEE_ALL: lambda o, a: _slash(o, a, "stats"),
    Action.OVERSEE: lambda o, a: _slash(o, a, "team"),
    Action.INVITE: lambda o, a: _slash(o, a, "invite"),
    Action.MANAGE_MEETINGS: lambda o, a: _slash(o, a, "meetings"),
    Action.EXPORT: lambda o, a: _slash(o, a, "export"),
}


async def _rsvp(o: Office, a: Action) -> str:
    return await _click(o, a, await _meeting_invitation(o), "meeting_rsvp_yes")


async def _follow_up(o: Office, a: Action) -> str:
    return await _click(o, a, await _alert(o), "follow_up_ack")


async def _review(o: Office, a: Action) -> str:
    return await _click(o, a, await _media_post(o), "media_approve")


async def _scrutinise(o: Office, a: Action) -> str:
    return await _click(o, a, await _grant_post(o), "grant_refer")


async def _deputy(o: Office, a: Action) -> str:
    return await _click(o, a, await _grant_post(o), "grant_deputy")


async def _decide(o: Office, a: Action) -> str:
    return await _click(o, a, await _decision(o), "grant_approve")


ON_SLACK.update({Action.RSVP: _rsvp, Action.HANDLE_FOLLOW_UP: _follow_up,
                 Action.REVIEW_MEDIA: _review, Action.SCRUTINISE_GRANT: _scrutinise,
                 Action.ADD_DEPUTY_RECOMMENDATION: _deputy, Action.DECIDE_GRANT: _decide})


def test_every_action_is_either_tried_on_slack_or_known_not_to_be_there() -> None:
    assert set(ON_SLACK) | NOT_ON_SLACK == set(Action)
    assert not set(ON_SLACK) & NOT_ON_SLACK


@pytest.mark.parametrize("action", sorted(ON_SLACK, key=lambda a: a.value),
                         ids=lambda a: a.value)
async def test_the_refusal_seen_in_slack_names_the_roles_allowed(office: Office,
                                                                 action: Action) -> None:
    said = await ON_SLACK[action](office, action)
    sentence = said[said.index("Only "):].split(".")[0] + "."
    assert roles_named(sentence) == set(MATRIX[action]), (action, sentence)
    assert "command line" not in said
    assert [a.action for a in await office.refusals(action.value)] == [action.value]


@pytest.mark.parametrize("action", sorted(NOT_ON_SLACK, key=lambda a: a.value),
                         ids=lambda a: a.value)
def test_the_refusal_of_an_action_slack_does_not_offer_names_the_roles_allowed(
        action: Action) -> None:
    someone = Person(name="Someone", roles=[refused_role(action).value], active=True)
    with pytest.raises(NotAllowed) as refusal:
        require(someone, action)
    assert roles_named(refusal.value.sentence) == set(MATRIX[action])
