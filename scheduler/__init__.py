"""Schedules and delivery (DESIGN §4 "Schedules", §7, §10).

- `dispatcher`: the outbox dispatcher, the only code that talks to Telegram or Slack;
- `render`: how an outbox row looks on each transport (a registry other packages add to);
- `runner`: APScheduler with one leader and saved next-run times; `jobs`: what each schedule
  does; `digest`: the Commissioner's weekly digest; `retention`: the daily clean-up (§9).
"""
