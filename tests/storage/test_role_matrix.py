"""DESIGN §8 as a table: every action × every role, through the real operations."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from storage.errors import NotAllowed, Refused
from storage.models import AuditEvent, Role
from storage.operations import (engagements, expenses, follow_ups, grants, hours, media,
                                meetings, oversight, people)
from storage.permissions import MATRIX, Action
from tests.storage.seed import NOW, Cast

ROLES = list(Role)
FUTURE = NOW + dt.timedelta(days=3)


def _calls(scheme):
    """For each action, one operation that needs it (called with ids that may not exist:
    an allowed role gets past the role check and is refused for some other reason or succeeds)."""
    return {
        Action.OWN_RECORDS: lambda s, a: engagements.do_prenotify_engagement(
            s, scheme, title="Parish council", kind="Parish council meeting", place="Hall",
            starts_at=FUTURE, ends_at=FUTURE + dt.timedelta(hours=1), area="Shropshire",
            actor=a, now=NOW),
        Action.RECOMMEND_GRANT: lambda s, a: grants.do_recommend_grant(
            s, scheme, applicant_organisation="Org", applicant_contact="c", project="p",
            amount_pence=100, objectives=[scheme.plan_objectives[0]], actor=a),
        Action.RSVP: lambda s, a: meetings.do_rsvp(s, scheme, meeting_id=999, answer="yes",
                                                   actor=a),
        Action.HANDLE_FOLLOW_UP: lambda s, a: follow_ups.do_acknowledge_follow_up(
            s, scheme, follow_up_id=999, actor=a),
        Action.REVIEW_MEDIA: lambda s, a: media.do_review_media(s, scheme, media_id=999,
                                                                approve=True, actor=a),
        Action.SCRUTINISE_GRANT: lambda s, a: grants.do_refer_grant(s, scheme, grant_id=999,
                                                                    actor=a),
        Action.ADD_DEPUTY_RECOMMENDATION: lambda s, a: grants.do_add_deputy_recommendation(
            s, scheme, grant_id=999, recommendation="yes", actor=a),
        Action.DECIDE_GRANT: lambda s, a: grants.do_approve_grant(s, scheme, grant_id=999,
                                                                  actor=a),
        Action.APPROVE_EXPENSES: lambda s, a: expenses.do_approve_expense(s, scheme, claim_id=999,
                                                                          actor=a),
        Action.MANAGE_MEETINGS: lambda s, a: meetings.do_schedule_meeting(
            s, scheme, kind="quarterly", title="Q1", place="HQ", starts_at=FUTURE,
            ends_at=FUTURE + dt.timedelta(hours=2), actor=a, now=NOW),
        Action.INVITE: lambda s, a: people.do_create_invite(s, scheme, name="New Person",
                                                            role="officer", area=None, actor=a),
        Action.DEACTIVATE: lambda s, a: people.do_deactivate_person(s, person_id=999, actor=a),
        Action.ERASE: lambda s, a: people.do_erase_person(s, person_id=999, actor=a),
        Action.OVERSEE: lambda s, a: oversight.team_overview(s, scheme, actor=a, now=NOW),
    }


CASES = [(action, role) for action in Action for role in ROLES
         if action not in (Action.SEE_ALL, Action.SEE_GRANTS, Action.EXPORT,
                           Action.CHANGE_SCHEME)]


@pytest.mark.parametrize("action,role", CASES, ids=[f"{a.value}-{r.value}" for a, r in CASES])
async def test_role_matrix(db, scheme, action: Action, role: Role) -> None:
    cast = await Cast.create(db, scheme)
    actor = cast.by_role(role)
    allowed = role in MATRIX[action]
    try:
        async with db.transaction() as s:
            await _calls(scheme)[action](s, await s.merge(actor))
        outcome = "done"
    except NotAllowed as refusal:
        outcome = "not allowed"
        assert refusal.sentence.endswith(".") and "\n" not in refusal.sentence
    except Refused:
        outcome = "refused for another reason"
    assert (outcome != "not allowed") == allowed, outcome
    async with db.transaction() as s:
        audited = await s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.outcome == "refused", AuditEvent.actor_id == actor.id))
    assert audited == (0 if allowed else 1)


async def test_a_deactivated_person_can_do_nothing(db, scheme) -> None:
    cast = await Cast.create(db, scheme)
    async with db.transaction() as s:
        await people.do_deactivate_person(s, person_id=cast.ambassador.id,
                                          actor=await s.merge(cast.officer))
    with pytest.raises(NotAllowed, match="Your account is not active"):
        async with db.transaction() as s:
            actor = await people.get_person(s, cast.ambassador.id)
            await _calls(scheme)[Action.OWN_RECORDS](s, actor)
