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
    OVERSEE = "oversee"                      # each ambassador's work at a glance


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
    # The DPCC oversees the ambassadors (DESIGN §1); the Commissioner sees what the deputy does.
    Action.OVERSEE: frozenset({P, D}),
}

# What each action lets a person do, as the end of "Only <roles> can ...". The roles are
# never written here: the refusal names them from MATRIX, so the two cannot drift apart.
DOES: dict[Action, str] = {
    Action.OWN_RECORDS: "file engagements, feedback, photos, hours and expenses",
    Action.RECOMMEND_GRANT: "recommend a grant",
    Action.RSVP: "reply to meeting invitations",
    Action.SEE_ALL: "see all records, figures and the weekly digest",
    Action.SEE_GRANTS: "see all grant recommendations",
    Action.HANDLE_FOLLOW_UP: "act on follow-ups",
    Action.REVIEW_MEDIA: "approve photos and outcome excerpts for use",
    Action.SCRUTINISE_GRANT: "scrutinise grants",
    Action.ADD_DEPUTY_RECOMMENDATION: "add a recommendation to a grant",
    Action.DECIDE_GRANT: "approve or reject a grant",
    Action.APPROVE_EXPENSES: "approve expenses",
    Action.MANAGE_MEETINGS: "manage meetings",
    Action.INVITE: "invite people",
    Action.DEACTIVATE: "deactivate people",
    Action.EXPORT: "export records",
    Action.ERASE: "erase a person's data",
    Action.CHANGE_SCHEME: "change the scheme",
    Action.OVERSEE: "see each ambassador's work at a glance",
}

# Each role as a sentence names its holders, in the order of Role.
ROLE_NAMES: dict[Role, str] = {
    A: "ambassadors", O: "engagement officers", C: "the commissioning team",
    P: "the Commissioner", D: "the deputy", X: "administrators",
}


def who_may(action: Action) -> str:
    """The roles the matrix allows `action`, in plain English: "engagement officers, the
    deputy and administrators"."""
    names = [ROLE_NAMES[role] for role in Role if role in MATRIX[action]]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def refusal_sentence(action: Action) -> str:
    """The one line said to a person refused `action` (DESIGN §8: "tells the person why")."""
    return f"Only {who_may(action)} can {DOES[action]}."


WHY: dict[Action, str] = {action: refusal_sentence(action) for action in Action}

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
