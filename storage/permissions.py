"""Who may do what: the role matrix of DESIGN §8, checked by every operation."""

from __future__ import annotations

import enum

from storage.errors import NotAllowed
from storage.models import Person, Role


class Action(str, enum.Enum):
    """Every action the matrix names. The value is what the audit trail records."""

    OWN_RECORDS = "own_records"              # create/edit own engagements, feedback, media...
    RECOMMEND_GRANT = "recommend_grant"
    RSVP = "rsvp"
    SEE_ALL = "see_all"                      # all records, stats, digest now
    SEE_GRANTS = "see_grants"
    HANDLE_FOLLOW_UP = "handle_follow_up"    # acknowledge / assign / close
    REVIEW_MEDIA = "review_media"
    SCRUTINISE_GRANT = "scrutinise_grant"    # refer, ask for information, decline
    ADD_DEPUTY_RECOMMENDATION = "add_deputy_recommendation"
    DECIDE_GRANT = "decide_grant"            # approve / reject a referred grant
    APPROVE_EXPENSES = "approve_expenses"
    MANAGE_MEETINGS = "manage_meetings"
    INVITE = "invite"
    DEACTIVATE = "deactivate"
    EXPORT = "export"
    ERASE = "erase"
    CHANGE_SCHEME = "change_scheme"


A, O, C, P, D, X = (Role.AMBASSADOR, Role.OFFICER, Role.COMMISSIONING, Role.COMMISSIONER,
                    Role.DEPUTY, Role.ADMIN)

MATRIX: dict[Action, frozenset[Role]] = {
    Action.OWN_RECORDS: frozenset({A}),
    Action.RECOMMEND_GRANT: frozenset({A}),
    Action.RSVP: frozenset({A}),
    Action.SEE_ALL: frozenset({O, P, D, X}),
    Action.SEE_GRANTS: frozenset({O, C, P, D, X}),
    Action.HANDLE_FOLLOW_UP: frozenset({O, P, D}),
    Action.REVIEW_MEDIA: frozenset({O, D}),
    Action.SCRUTINISE_GRANT: frozenset({C, D}),
    Action.ADD_DEPUTY_RECOMMENDATION: frozenset({D}),
    Action.DECIDE_GRANT: frozenset({P}),
    Action.APPROVE_EXPENSES: frozenset({O, D, X}),
    Action.MANAGE_MEETINGS: frozenset({O, D, X}),
    Action.INVITE: frozenset({O, D, X}),
    Action.DEACTIVATE: frozenset({O, D, X}),
    Action.EXPORT: frozenset({X}),
    Action.ERASE: frozenset({X}),
    Action.CHANGE_SCHEME: frozenset({X}),
}

# One line each, said to the person who was refused (DESIGN §8: "tells the person why").
WHY: dict[Action, str] = {
    Action.OWN_RECORDS: "Only ambassadors can file engagements, feedback, photos, hours and "
                        "expenses.",
    Action.RECOMMEND_GRANT: "Only ambassadors can recommend a grant.",
    Action.RSVP: "Only ambassadors are asked to reply to meeting invitations.",
    Action.SEE_ALL: "Only the engagement team, the Commissioner and the deputy can see all "
                    "records.",
    Action.SEE_GRANTS: "Only the office can see all grant recommendations.",
    Action.HANDLE_FOLLOW_UP: "Only engagement officers, the Commissioner and the deputy can "
                             "act on follow-ups.",
    Action.REVIEW_MEDIA: "Only engagement officers and the deputy can approve photos for use.",
    Action.SCRUTINISE_GRANT: "Only the commissioning team and the deputy can scrutinise grants.",
    Action.ADD_DEPUTY_RECOMMENDATION: "Only the deputy can add a recommendation to a grant.",
    Action.DECIDE_GRANT: "Only the Commissioner can approve or reject a grant.",
    Action.APPROVE_EXPENSES: "Only engagement officers and the deputy can approve expenses.",
    Action.MANAGE_MEETINGS: "Only engagement officers and the deputy can manage meetings.",
    Action.INVITE: "Only engagement officers and the deputy can invite people.",
    Action.DEACTIVATE: "Only engagement officers and the deputy can deactivate people.",
    Action.EXPORT: "Only an administrator can export records, from the command line.",
    Action.ERASE: "Only an administrator can erase a person's data, from the command line.",
    Action.CHANGE_SCHEME: "Only an administrator can change the scheme.",
}

INACTIVE = "Your account is not active. Please contact the engagement team if you think " \
           "this is a mistake."
NOT_YOURS = "That record belongs to someone else, so you can't change it."


def allowed(person: Person, action: Action) -> bool:
    return person.active and any(role in MATRIX[action] for role in map(Role, person.roles))


def require(person: Person, action: Action, *, target_type: str | None = None,
            target_id: int | None = None, owner_id: int | None = None) -> None:
    """Raise NotAllowed (audited by Database.transaction) unless `person` may do `action`.

    `owner_id`, when given, also requires the record to be the person's own.
    """
    sentence = None
    if not person.active:
        sentence = INACTIVE
    elif not allowed(person, action):
        sentence = WHY[action]
    elif owner_id is not None and owner_id != person.id:
        sentence = NOT_YOURS
    if sentence:
        raise NotAllowed(sentence, action=action.value, actor_id=person.id,
                         actor_label=person.name, target_type=target_type, target_id=target_id)
