"""The Slack listeners, grouped by kind; each module exposes register(app)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.slack.listeners import (actions, commands, events, expenses, forms, outcomes,
                                      views)
from handlers.slack.listeners import catch_ups, meetings


def register_listeners(app: AsyncApp) -> None:
    actions.register(app)
    expenses.register(app)
    outcomes.register(app)
    catch_ups.register(app)
    meetings.register(app)
    forms.register(app)
    views.register(app)
    commands.register(app)
    events.register(app)
