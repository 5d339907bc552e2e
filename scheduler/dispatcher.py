"""The outbox dispatcher (DESIGN §5, §7 "Nothing lost", §10): the only code that talks to
Telegram or Slack.

Every message is an Outbox row written in the same transaction as the change that caused it.
The dispatcher delivers them:

* **Order per chat.** It only ever starts at the *oldest* undelivered row of each (transport,
  destination), and sends a chat's rows one after another; a row waiting for a retry holds
  back the rows behind it in that chat, while other chats carry on.
* **Claiming.** In one short transaction it takes, per chat, the head and up to `burst - 1`
  due rows right behind it, locking them with `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL
  (so any number of dispatchers can run, each row delivered by one: only the locked prefix of
  a chat's run is kept, so no run starts behind a row another dispatcher is sending), and
  marks them `sending` with a lease; SQLite serialises writers, so the same statements (the
  lock clause is ignored there) are safe for one dispatcher. Sending happens outside any
  transaction; outcomes are written in another short one. When a send does not succeed, the
  rest of that chat's run is put back untouched.
* **Retries.** Network errors, timeouts before the request left, 5xx: exponential backoff with
  jitter (`next_attempt_at`), for ever — "retried until delivered". 429: wait what Telegram's
  `retry_after` or Slack's `Retry-After` says. Permanent refusals (blocked by the user, chat or
  channel not found, archived, bad token): `failed` with the reason, and one message to the
  alerts channel per destination (again only after that destination has worked since).
* **Unknown outcome.** A timeout after the request was sent (or a dispatcher that died while
  sending: its lease runs out) may or may not have delivered. Such a row is flagged
  (`outcome_unknown`) and tried at most once more; if that fails too it ends as status
  `unknown`, so nobody is sent the same message three times and nothing is dropped silently.
* **Rewrites.** A row with `replaces_ref` edits the message of the row whose `ref` it names
  (Telegram `editMessageText`, Slack `chat.update`) using that row's `external_id`; if that row
  is not sent yet it waits; if it failed, or the message is gone, a new message is posted.
* **Metrics** (prometheus_client, on the registry passed in): pending, sent, retried, failed.

`drain()` delivers everything currently deliverable (tests, the CLI); `run()` is the long-running
loop: a short poll interval plus `wake()` for rows just committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from scheduler import render as renderers
from storage import outbox as outbox_module
from storage.db import Database
from storage.models import Outbox, OutboxStatus, Person, ScheduleMark, utcnow
from storage.operations.reminders import claim_mark
from storage.scheme import Scheme

log = logging.getLogger(__name__)

S = OutboxStatus
Kind = Literal["sent", "transient", "rate_limited", "unknown", "permanent"]
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DBAPIError, OSError, TimeoutError)


@dataclass(frozen=True)
class Delivery:
    """One claimed row, detached from the session: what a sender needs to send it."""
    id: int
    transport: str
    destination: str
    event: str
    payload: dict[str, Any]
    edit_external_id: str | None = None      # set when this row rewrites a sent message
    attempts: int = 1                        # including this one
    outcome_unknown: bool = False            # an earlier attempt may have delivered it
    posted_id: str | None = None             # posted already; only its file is still to go


@dataclass(frozen=True)
class Result:
    """What happened to one send: the dispatcher turns it into the row's next state."""
    kind: Kind
    external_id: str | None = None
    reason: str | None = None
    retry_after: float | None = None

    @classmethod
    def sent(cls, external_id: str | None) -> Result:
        return cls("sent", external_id=external_id)


class Sender(Protocol):
    """Sends rendered messages over one transport and classifies what went wrong."""

    transport: str

    async def deliver(self, delivery: Delivery, message: dict[str, Any]) -> Result: ...


# ---- Telegram ------------------------------------------------------------------------------


class TelegramSender:
    """Through python-telegram-bot's `telegram.Bot` (its `base_url` may point anywhere: the
    Bot API, a self-hosted server, the emulator). Built and shut down by the caller."""

    transport = renderers.TELEGRAM

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def deliver(self, delivery: Delivery, message: dict[str, Any]) -> Result:
        from telegram.error import (BadRequest, ChatMigrated, Forbidden, InvalidToken,
                                    NetworkError, RetryAfter, TelegramError, TimedOut)

        chat_id: int | str = int(delivery.destination) if delivery.destination.lstrip(
            "-").isdigit() else delivery.destination
        try:
            if delivery.edit_external_id is not None:
                try:
                    await self.bot.edit_message_text(
                        chat_id=chat_id, message_id=int(delivery.edit_external_id), **message)
                    return Result.sent(delivery.edit_external_id)
                except BadRequest as error:
                    text = str(error).lower()
                    if "not modified" in text:
                        return Result.sent(delivery.edit_external_id)
                    if not ("not found" in text or "can't be edited" in text):
                        raise
                    # The message to rewrite is gone: post the new version instead.
            sent = await self.bot.send_message(chat_id=chat_id, **message)
            return Result.sent(str(sent.message_id))
        except RetryAfter as error:
            with warnings.catch_warnings():  # PTB 22 warns that int seconds will become timedelta
                warnings.simplefilter("ignore")
                after = _seconds(error.retry_after)
            return Result("rate_limited", reason=f"Telegram: {error}", retry_after=after)
        except TimedOut as error:
            import aiohttp
            import httpx
            # Timed out waiting for a connection: the request never left, so it is safe to
            # send again. Any other timeout may have reached Telegram (PTB over httpx, or the
            # bot's aiohttp transport, handlers/telegram/transport.py).
            before_sending = isinstance(error.__cause__, httpx.PoolTimeout | httpx.ConnectTimeout
                                        | aiohttp.ConnectionTimeoutError)
            return Result("transient" if before_sending else "unknown",
                          reason=f"Telegram: timed out ({error})")
        except (Forbidden, InvalidToken, ChatMigrated, BadRequest) as error:
            return Result("permanent", reason=f"Telegram: {error}")
        except NetworkError as error:           # 5xx, 502 pages, connection errors
            return Result("transient", reason=f"Telegram: {error}")
        except TelegramError as error:
            return Result("permanent", reason=f"Telegram: {error}")


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


# ---- Slack ---------------------------------------------------------------------------------

# Slack errors worth retrying; everything else Slack refuses is permanent for that message.
SLACK_TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable",
                             "request_timeout", "ratelimited", "team_added_to_org"})
SLACK_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


class SlackSender:
    """Through slack_sdk's `AsyncWebClient(base_url=...)`. Build the client with
    `retry_handlers=[]` so that retrying (and deciding what is safe to retry) stays here.

    A rendered message may carry a `file` (`{"path", "filename", "title", "alt_text"}`: the
    digest's chart, a photo for review); it is uploaded with files_upload_v2
    (files.getUploadURLExternal, the upload, files.completeUploadExternal) into the new
    message's thread. When the post went out but the upload hit a transient failure (5xx,
    429, a network error) the result carries the post's id: the row is retried, and the next
    attempt uploads only the file, so the message never shows twice. A file Slack refuses for
    good, or one missing from disk, leaves the message delivered with the reason noted."""

    transport = renderers.SLACK

    def __init__(self, client: Any) -> None:
        self.client = client

    async def deliver(self, delivery: Delivery, message: dict[str, Any]) -> Result:
        import aiohttp
        from slack_sdk.errors import SlackApiError, SlackClientError

        message = dict(message)
        upload = message.pop("file", None)
        if delivery.posted_id is not None and ":" in delivery.posted_id:
            if not upload:
                return Result.sent(delivery.posted_id)
            channel, ts = delivery.posted_id.split(":", 1)
            return await self._upload(upload, channel, ts, delivery)
        try:
            if delivery.edit_external_id is not None and ":" in delivery.edit_external_id:
                channel, ts = delivery.edit_external_id.split(":", 1)
                try:
                    await self.client.chat_update(channel=channel, ts=ts, **message)
                    return Result.sent(delivery.edit_external_id)
                except SlackApiError as error:
                    if _slack_error(error) not in SLACK_GONE:
                        raise
            response = await self.client.chat_postMessage(channel=delivery.destination,
                                                          **message)
        except SlackApiError as error:
            status = getattr(error.response, "status_code", 0)
            code = _slack_error(error)
            if status == 429 or code == "ratelimited":
                headers = getattr(error.response, "headers", {}) or {}
                after = next((v for k, v in headers.items() if k.lower() == "retry-after"), 1)
                return Result("rate_limited", reason="Slack: ratelimited",
                              retry_after=float(after))
            if status >= 500 or code in SLACK_TRANSIENT:
                return Result("transient", reason=f"Slack: {code or f'HTTP {status}'}")
            return Result("permanent", reason=f"Slack: {code or f'HTTP {status}'}")
        except TimeoutError:
            return Result("unknown", reason="Slack: timed out waiting for the answer")
        except (aiohttp.ClientConnectorError, aiohttp.ClientConnectionError) as error:
            return Result("transient", reason=f"Slack: {error.__class__.__name__}: {error}")
        except SlackClientError as error:
            return Result("permanent", reason=f"Slack: {error}")
        posted = f"{response['channel']}:{response['ts']}"
        if upload:
            return await self._upload(upload, response["channel"], response["ts"], delivery)
        return Result.sent(posted)

    async def _upload(self, upload: dict[str, Any], channel: str, ts: str,
                      delivery: Delivery) -> Result:
        """The post's file into its thread; see the class docstring for the outcomes."""
        import aiohttp
        from slack_sdk.errors import SlackApiError, SlackClientError

        posted = f"{channel}:{ts}"
        path = Path(str(upload["path"]))
        try:
            if not path.is_file():
                raise FileNotFoundError(f"no file at {path.name}")
            await self.client.files_upload_v2(
                channel=channel, thread_ts=ts, file=str(path),
                filename=upload.get("filename") or path.name,
                title=upload.get("title"), alt_txt=upload.get("alt_text"))
            return Result.sent(posted)
        except SlackApiError as error:
            status = getattr(error.response, "status_code", 0)
            code = _slack_error(error)
            if status == 429 or code == "ratelimited":
                headers = getattr(error.response, "headers", {}) or {}
                after = next((v for k, v in headers.items() if k.lower() == "retry-after"), 1)
                return Result("rate_limited", external_id=posted, retry_after=float(after),
                              reason="Slack: ratelimited while uploading the file")
            if status >= 500 or code in SLACK_TRANSIENT:
                return Result("transient", external_id=posted,
                              reason=f"Slack: file not uploaded yet ({code or status})")
            reason = f"Slack: {code or f'HTTP {status}'}"
        except (TimeoutError, aiohttp.ClientConnectionError) as error:
            return Result("transient", external_id=posted,
                          reason=f"Slack: file not uploaded yet ({error.__class__.__name__})")
        except SlackClientError as error:      # the upload step itself answered with an error
            if "status: 5" in str(error) or "status: 429" in str(error):
                return Result("transient", external_id=posted,
                              reason="Slack: file not uploaded yet (upload refused for now)")
            reason = f"Slack: {error}"
        except OSError as error:
            reason = f"the file can't be read ({error.__class__.__name__})"
        log.warning("outbox row %s: posted, but its file was not attached: %s", delivery.id,
                    reason)
        return Result("sent", external_id=posted,
                      reason=f"posted, but its file was not attached: {reason}"[:500])


def _slack_error(error: Any) -> str:
    data = getattr(error.response, "data", None)
    return str(data.get("error") or "") if isinstance(data, dict) else ""


# ---- the dispatcher ------------------------------------------------------------------------


@dataclass
class DrainStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    rounds: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class Dispatcher:
    """Delivers outbox rows through one Sender per transport. See the module docstring."""

    def __init__(self, db: Database, scheme: Scheme, senders: Mapping[str, Sender], *,
                 registry: CollectorRegistry | None = None,
                 clock: Callable[[], dt.datetime] = utcnow, batch_size: int = 64,
                 burst: int = 8,
                 concurrency: int = 16, lease: float = 120.0, backoff_base: float = 1.0,
                 backoff_cap: float = 300.0, poll_interval: float = 1.0,
                 unknown_quarantine: float = 30.0,
                 rng: random.Random | None = None, name: str = "dispatcher") -> None:
        self.db = db
        self.scheme = scheme
        self.senders = dict(senders)
        self.clock = clock
        self.batch_size = batch_size      # chats per round
        self.burst = burst                # rows per chat per round, sent one after another
        self.lease = dt.timedelta(seconds=lease)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.poll_interval = poll_interval
        # After an unknown outcome the chat waits this long, so a request that hung and lands
        # late still arrives before the next message (keep it above the senders' timeouts).
        self.quarantine = dt.timedelta(seconds=unknown_quarantine)
        self.rng = rng or random.Random()
        self.name = name
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._pending_checked = 0.0
        registry = registry if registry is not None else CollectorRegistry()
        self.registry = registry
        self.m_pending = Gauge("ambassador_outbox_pending",
                               "Outbox rows waiting to be delivered", registry=registry)
        self.m_sent = Counter("ambassador_outbox_sent", "Outbox rows delivered",
                              ["transport"], registry=registry)
        self.m_retried = Counter("ambassador_outbox_retried",
                                 "Sends that will be tried again", ["transport", "kind"],
                                 registry=registry)
        self.m_failed = Counter("ambassador_outbox_failed",
                                "Outbox rows that failed for good, or ended unknown",
                                ["transport", "status"], registry=registry)

    # ---- running -------------------------------------------------------------------------

    def wake(self) -> None:
        """New rows were committed: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stop(): rounds back to back while there is work, else wait for
        wake() or the poll interval."""
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                handled = await self.run_once()
            except DATABASE_UNAVAILABLE as error:
                log.warning("%s: database unavailable (%s)", self.name, error)
                handled = 0
            if handled:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def drain(self, *, timeout: float = 30.0) -> DrainStats:
        """Deliver every row that can be delivered, waiting out backoffs; return when no row is
        pending or sending (or after `timeout` seconds)."""
        stats = DrainStats()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            handled = await self.run_once(stats)
            if handled:
                continue
            wait = await self._seconds_until_next()
            if wait is None:
                break
            await asyncio.sleep(min(max(wait, 0.02), deadline - loop.time(), 1.0))
        return stats

    async def _seconds_until_next(self) -> float | None:
        async with self.db.transaction() as session:
            earliest = await session.scalar(
                select(func.min(Outbox.next_attempt_at))
                .where(Outbox.status.in_([S.PENDING.value, S.SENDING.value])))
        if earliest is None:
            self.m_pending.set(0)
            return None
        return (earliest - self.clock()).total_seconds()

    # ---- one round -----------------------------------------------------------------------

    async def run_once(self, stats: DrainStats | None = None) -> int:
        """Claim a run of rows from the head of each chat's queue, send each chat's run in
        order (chats side by side), record what happened. Returns the rows handled."""
        stats = stats or DrainStats()
        chats = await self._claim()
        if not chats:
            return 0
        stats.rounds += 1
        sent = await asyncio.gather(*(self._deliver_chat(chat) for chat in chats))
        outcomes = [pair for chat in sent for pair in chat]
        await self._record(outcomes, stats)
        await self._update_pending_gauge()
        return sum(1 for _, result in outcomes if result is not None)

    async def _deliver_chat(self, chat: list[Delivery]) -> list[tuple[Delivery, Result | None]]:
        """One chat's run, in order; after anything but a delivery the rest is released
        untouched (None), to go after the head once it has gone."""
        done: list[tuple[Delivery, Result | None]] = []
        for index, delivery in enumerate(chat):
            result = await self._deliver(delivery)
            done.append((delivery, result))
            if result.kind != "sent":
                done += [(later, None) for later in chat[index + 1:]]
                break
        return done

    async def _claim(self) -> list[list[Delivery]]:
        """Mark `sending`, per chat, the head of its queue and up to `burst - 1` due rows right
        behind it; return them chat by chat, oldest first."""
        now = self.clock()
        active = [S.PENDING.value, S.SENDING.value]
        # Each chat's rows not yet done, numbered from its oldest; an unknown-outcome row in
        # quarantine counts as not done, so it holds its chat without being sent again.
        ranked = (select(Outbox.id, Outbox.transport, Outbox.destination, Outbox.status,
                         Outbox.next_attempt_at, Outbox.replaces_ref,
                         func.row_number().over(
                             partition_by=(Outbox.transport, Outbox.destination),
                             order_by=Outbox.id).label("rn"))
                  .where(or_(Outbox.status.in_(active),
                             and_(Outbox.status == S.UNKNOWN.value,
                                  Outbox.next_attempt_at > now)))
                  .subquery())
        candidates = select(ranked).where(ranked.c.rn <= self.burst).order_by(ranked.c.id)
        async with self.db.transaction() as session:
            runs: dict[tuple[str, str], list[int]] = {}
            closed: set[tuple[str, str]] = set()
            for row in (await session.execute(candidates)).all():
                chat = (row.transport, row.destination)
                if chat in closed:
                    continue
                due = row.next_attempt_at <= now
                if chat not in runs:                        # the head
                    if row.status not in active or not due or len(runs) >= self.batch_size:
                        closed.add(chat)
                    else:
                        runs[chat] = [row.id]
                elif row.status == S.PENDING.value and due and not row.replaces_ref:
                    runs[chat].append(row.id)                # right behind, and due
                else:
                    closed.add(chat)                         # a rewrite goes only as a head
            if not runs:
                return []
            # Lock what is still claimable; on PostgreSQL another dispatcher may have taken
            # some since. Only the locked prefix of each chat's run is kept, so a run never
            # starts behind a row someone else is sending.
            wanted = [row_id for run in runs.values() for row_id in run]
            locked = {row.id: row for row in (await session.scalars(
                select(Outbox).where(Outbox.id.in_(wanted), Outbox.status.in_(active),
                                     Outbox.next_attempt_at <= now)
                .order_by(Outbox.id).with_for_update(skip_locked=True))).all()}
            chats: list[list[Delivery]] = []
            claim: list[int] = []
            for run in runs.values():
                chat_rows: list[Delivery] = []
                for position, row_id in enumerate(run):
                    row = locked.get(row_id)
                    if row is None:
                        break
                    delivery = await self._prepare(session, row, now) if position == 0 else \
                        self._delivery(row, None, bool(row.outcome_unknown))
                    if delivery is None:
                        break                                # the head is not going now
                    chat_rows.append(delivery)
                    claim.append(row.id)
                if chat_rows:
                    chats.append(chat_rows)
            if claim:
                await session.execute(
                    update(Outbox).where(Outbox.id.in_(claim))
                    .values(status=S.SENDING.value, attempts=Outbox.attempts + 1,
                            next_attempt_at=now + self.lease)
                    .execution_options(synchronize_session=False))
        chats.sort(key=lambda chat: chat[0].id)
        return chats

    @staticmethod
    def _delivery(row: Outbox, edit: str | None, unknown: bool) -> Delivery:
        # A pending row with an external id was posted by an earlier attempt whose file is
        # still to go (see SlackSender).
        return Delivery(row.id, row.transport, row.destination, row.event,
                        dict(row.payload or {}), edit, row.attempts + 1, unknown,
                        posted_id=row.external_id)

    async def _prepare(self, session: Any, row: Outbox, now: dt.datetime) -> Delivery | None:
        """The head of a chat: recover it if a dispatcher died sending it, find the message
        it rewrites; None when it is not to be sent now."""
        unknown = bool(row.outcome_unknown)
        if row.status == S.SENDING.value:
            # A dispatcher died (or stalled past its lease) while sending this row.
            if unknown:
                await session.execute(
                    update(Outbox).where(Outbox.id == row.id)
                    .values(status=S.UNKNOWN.value, next_attempt_at=now + self.quarantine,
                            error="not known whether it was delivered: sending stopped twice")
                    .execution_options(synchronize_session=False))
                self.m_failed.labels(row.transport, S.UNKNOWN.value).inc()
                return None
            await session.execute(
                update(Outbox).where(Outbox.id == row.id)
                .values(outcome_unknown=True,
                        error="sending stopped part way; trying once more")
                .execution_options(synchronize_session=False))
            unknown = True
        edit: str | None = None
        if row.replaces_ref:
            target = await self._edit_target(session, row)
            if target is _WAIT:
                await session.execute(
                    update(Outbox).where(Outbox.id == row.id)
                    .values(status=S.PENDING.value,
                            next_attempt_at=now + dt.timedelta(seconds=1))
                    .execution_options(synchronize_session=False))
                return None
            edit = target  # type: ignore[assignment]
        return self._delivery(row, edit, unknown)

    async def _edit_target(self, session: Any, row: Outbox) -> str | None | object:
        original = (await session.execute(
            select(Outbox.status, Outbox.external_id, Outbox.transport)
            .where(Outbox.ref == row.replaces_ref, Outbox.id < row.id)
            .order_by(Outbox.id.desc()).limit(1))).first()
        if original is None:
            return None                       # nothing to rewrite: post it
        if original.status in (S.PENDING.value, S.SENDING.value):
            return _WAIT                      # keep order: the original goes first
        if original.status == S.SENT.value and original.external_id and \
                original.transport == row.transport:
            return original.external_id
        return None                           # failed or unknown: post a new message

    async def _deliver(self, delivery: Delivery) -> Result:
        sender = self.senders.get(delivery.transport)
        if sender is None:
            return Result("permanent", reason=f"no sender for {delivery.transport!r}")
        try:
            message = renderers.render(delivery)
        except Exception as error:  # a renderer bug: fail the row with the reason, loudly
            log.exception("%s: could not render outbox row %s", self.name, delivery.id)
            return Result("permanent", reason=f"could not render: {error!r}"[:500])
        async with self._limit:
            try:
                return await sender.deliver(delivery, message)
            except Exception as error:  # a sender must classify; this one did not
                log.exception("%s: unexpected error sending outbox row %s", self.name,
                              delivery.id)
                return Result("transient", reason=f"unexpected: {error!r}"[:500])

    def _backoff(self, attempts: int) -> dt.timedelta:
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(attempts - 1, 0))
        return dt.timedelta(seconds=self.rng.uniform(ceiling / 2, ceiling))

    async def _record(self, outcomes: list[tuple[Delivery, Result | None]],
                      stats: DrainStats) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            changes: list[dict[str, Any]] = []
            recovered: set[str] = set()
            failed: list[tuple[Delivery, str]] = []
            for delivery, result in outcomes:
                attempts, was_unknown = delivery.attempts, delivery.outcome_unknown
                if result is None:   # released: never tried, back in the queue as it was
                    changes.append({"id": delivery.id, "status": S.PENDING.value,
                                    "attempts": attempts - 1, "next_attempt_at": now})
                    continue
                stats.by_kind[result.kind] = stats.by_kind.get(result.kind, 0) + 1
                change: dict[str, Any] = {"id": delivery.id}
                if result.external_id is not None:
                    change["external_id"] = result.external_id   # posted, even if not done
                if result.kind == "sent":
                    change.update(status=S.SENT.value, external_id=result.external_id,
                                  sent_at=now, error=(
                                      "delivered after an earlier attempt whose outcome was "
                                      "unknown: it may show twice" if was_unknown else
                                      result.reason))
                    recovered.add(_mark_key(delivery))
                    self.m_sent.labels(delivery.transport).inc()
                    stats.sent += 1
                elif result.kind == "rate_limited":
                    wait = (result.retry_after or 1.0) * self.rng.uniform(1.0, 1.1)
                    change.update(status=S.PENDING.value, error=result.reason,
                                  next_attempt_at=now + dt.timedelta(seconds=wait))
                    self.m_retried.labels(delivery.transport, result.kind).inc()
                    stats.retried += 1
                elif result.kind in ("transient", "unknown") and was_unknown:
                    # That was the one more try after an unknown outcome: stop and flag it.
                    change.update(status=S.UNKNOWN.value, next_attempt_at=now + self.quarantine,
                                  error=(
                        f"not known whether it was delivered; the retry also failed "
                        f"({result.reason})")[:2000])
                    self.m_failed.labels(delivery.transport, S.UNKNOWN.value).inc()
                    stats.unknown += 1
                elif result.kind in ("transient", "unknown"):
                    wait = self._backoff(attempts)
                    if result.kind == "unknown":
                        change["outcome_unknown"] = True
                        wait = max(wait, self.quarantine)
                    change.update(status=S.PENDING.value, error=result.reason,
                                  next_attempt_at=now + wait)
                    self.m_retried.labels(delivery.transport, result.kind).inc()
                    stats.retried += 1
                else:
                    change.update(status=S.FAILED.value, error=(result.reason or "")[:2000])
                    failed.append((delivery, result.reason or "refused"))
                    self.m_failed.labels(delivery.transport, S.FAILED.value).inc()
                    stats.failed += 1
                changes.append(change)
            # ORM bulk UPDATE by primary key (rows with the same keys go as one executemany).
            await session.execute(update(Outbox), changes)
            if recovered:
                await session.execute(ScheduleMark.__table__.delete().where(
                    ScheduleMark.key.in_(sorted(recovered))))
            for delivery, reason in failed:
                await self._tell_the_office(session, delivery, reason, now)

    async def _tell_the_office(self, session: Any, delivery: Delivery, reason: str,
                               now: dt.datetime) -> None:
        """One alert per destination that stopped working (not one per message)."""
        alerts = self.scheme.channels.alerts
        if delivery.transport == renderers.SLACK and delivery.destination == alerts:
            log.error("%s: the alerts channel itself cannot be reached: %s", self.name, reason)
            return
        if not await claim_mark(session, _mark_key(delivery), now=now):
            return
        who = await _describe(session, delivery)
        outbox_module.to_channel(
            session, self.scheme, "alerts", "delivery_failed",
            f"Messages to {who} can't be delivered ({reason}). They are kept as failed in the "
            f"outbox; please check the {delivery.transport.capitalize()} side "
            "(blocked the bot, left, or the channel was renamed or archived).",
            data={"transport": delivery.transport, "destination": delivery.destination,
                  "reason": reason, "outbox_id": delivery.id})

    async def _update_pending_gauge(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._pending_checked < 1.0:
            return
        self._pending_checked = loop.time()
        async with self.db.transaction() as session:
            self.m_pending.set(await session.scalar(
                select(func.count()).select_from(Outbox)
                .where(Outbox.status.in_([S.PENDING.value, S.SENDING.value]))))


_WAIT = object()


def _mark_key(delivery: Delivery) -> str:
    return f"delivery_failed:{delivery.transport}:{delivery.destination}"


async def _describe(session: Any, delivery: Delivery) -> str:
    if delivery.transport == renderers.TELEGRAM and delivery.destination.lstrip("-").isdigit():
        person = await session.scalar(select(Person).where(
            Person.telegram_id == int(delivery.destination)))
        if person is not None:
            return f"{person.name} on Telegram"
    if delivery.transport == renderers.SLACK:
        person = await session.scalar(select(Person).where(
            Person.slack_id == delivery.destination))
        if person is not None:
            return f"{person.name} on Slack"
        return f"the Slack channel {delivery.destination}"
    return f"{delivery.transport} chat {delivery.destination}"


__all__ = ["Delivery", "Dispatcher", "DrainStats", "Result", "Sender", "SlackSender",
           "TelegramSender"]
