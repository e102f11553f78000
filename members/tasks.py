"""Sending the outbox (members.Notification) and the sweep. Nothing here writes a message;
members.notify does, and the apps' rules (notify.register_rule) decide what is due."""

import contextlib
import datetime as dt
import email.policy
import logging
import smtplib

from celery import shared_task
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import notify
from .models import Notification

logger = logging.getLogger(__name__)

# Waiting before the next attempt after a temporary failure (attempt 1, 2, …); the beat's
# sweep picks the row up again when its time has come: no ETA or countdown in the broker.
RETRY_DELAYS = [
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=8),
    dt.timedelta(hours=24),
]
# The mail server itself is away (or refuses our login or sender): no attempt is counted, so an
# outage of a weekend loses nothing; everything waits this long and is tried again.
SERVER_AWAY_DELAY = dt.timedelta(minutes=5)
# Rows claimed at a time (three queries each chunk, and one per message to mark it sent).
CHUNK = 100


@shared_task
def send_notifications(
    notification_ids: list[int] | None = None,
    *,
    kind: str = "",
    occasions: list[str] | None = None,
) -> int:
    """Send what was just queued (after the transaction that queued it committed): the given
    rows, or the rows of a kind and occasions (many at once). A retried or doubled task finds
    them claimed or sent and sends nothing twice; whatever is left, the sweep sends."""
    handled = 0
    while True:
        done = deliver(notification_ids, kind=kind, occasions=occasions)
        handled += done
        if done < settings.NOTIFICATION_BATCH_SIZE:
            return handled


@shared_task
def sweep() -> dict:
    """The beat (and `manage.py send_reminders`): queue what the rules find due, then send
    everything due, in batches, until nothing is left."""
    now = timezone.now()
    queued = {}
    for name, rule in notify.RULES.items():
        try:
            with notify.sweeping(), transaction.atomic():
                queued[name] = rule(now)
        except Exception:  # one broken rule must not stop the others or the sending
            logger.exception("Reminder rule %s failed", name)
            queued[name] = -1
    if sum(max(count, 0) for count in queued.values()) > CHUNK and not _eager():
        # Many at once (a big session's reminders): the other worker processes help; each
        # takes its own chunks (SKIP LOCKED), so nothing goes twice.
        for _helper in range(settings.NOTIFICATION_SENDERS - 1):
            notify.nudge(None)
    return {"queued": queued, "handled": send_all()}


def send_all() -> int:
    """Send everything due, a batch at a time, until nothing is left."""
    sent = 0
    for _round in range(1000):  # at most a million messages per sweep
        done = deliver()
        sent += done
        if done < settings.NOTIFICATION_BATCH_SIZE:
            break
    return sent


def _eager() -> bool:
    return bool(sweep.app.conf.task_always_eager)


@shared_task
def apply_retention() -> int:
    """The beat, once a day: anonymise the people whose retention period has passed."""
    from .services import apply_retention as apply

    return apply()


def deliver(
    notification_ids: list[int] | None = None,
    *,
    kind: str = "",
    occasions: list[str] | None = None,
) -> int:
    """Send up to NOTIFICATION_BATCH_SIZE due rows over one SMTP connection, claiming them a
    small chunk at a time and marking each sent as soon as the mail server accepted it, so a
    worker killed in the middle sends at most the one message in flight again. A claim is
    renewed while its chunk is being sent, so only a dead worker's is taken over (after
    Notification.CLAIM_TIMEOUT). Rows queued unwritten are written just before they go out.
    Returns how many rows it handled (sent, put back for a later attempt, failed, or with
    nothing left to say): three queries per chunk and one per message."""
    handled = 0
    connection = None
    try:
        while handled < settings.NOTIFICATION_BATCH_SIZE:
            claim, rows = _claim(
                notification_ids,
                kind,
                occasions,
                min(CHUNK, settings.NOTIFICATION_BATCH_SIZE - handled),
            )
            if not rows:
                break
            handled += len(rows)
            if connection is None:
                connection = mail.mailers.default
                try:
                    connection.open()
                except (OSError, smtplib.SMTPException) as exc:
                    # The mail server is away (or refuses our login): nothing was tried, so no
                    # attempt is counted; everything waits for the next sweep.
                    _record([], [], claim, unreachable=(rows, exc))
                    break
            retry, failed = [], []
            for index, row in enumerate(rows):
                claim, ours = _renew(claim, rows[index:] + [r for r, _e in retry + failed])
                if row.pk not in ours:
                    continue  # taken over by another sweep: it is theirs now
                if not row.written:
                    try:
                        if not notify.write(row):
                            continue  # nothing to say any more (the row is gone)
                    except Exception as exc:  # noqa: BLE001 - a later sweep tries again
                        logger.exception("Mail %s could not be written", row.pk)
                        retry.append((row, exc))
                        continue
                try:
                    connection.send_messages([_message(row, connection)])
                except Exception as exc:  # classified here: the bookkeeping must happen
                    if _is_permanent(exc):
                        failed.append((row, exc))
                    elif _connection_lost(exc):
                        # This one and the rest of the chunk wait; no attempt counted.
                        _record(retry, failed, claim, unreachable=(rows[index:], exc))
                        return handled
                    else:
                        retry.append((row, exc))
                else:
                    _mark_sent(row, claim)
            _record(retry, failed, claim)
    finally:
        if connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                connection.close()
    return handled


def _renew(claim: dt.datetime, rows: list[Notification]) -> tuple[dt.datetime, set[int]]:
    """Keep the claim on the rows still to be sent fresh (a slow mail server must not make a
    live worker's chunk look abandoned). Returns the claim and the ids it still holds."""
    pks = {row.pk for row in rows}
    now = timezone.now()
    if now - claim < Notification.CLAIM_TIMEOUT / 3:
        return claim, pks
    mine = Notification.objects.filter(
        pk__in=pks, status=Notification.Status.SENDING, claimed_at=claim
    )
    if mine.update(claimed_at=now) < len(pks):
        pks = set(
            Notification.objects.filter(pk__in=pks, claimed_at=now).values_list("pk", flat=True)
        )
    return now, pks


def _mark_sent(row: Notification, claim: dt.datetime) -> None:
    """The mail server accepted it: recorded at once, while this claim still holds the row."""
    blank = {}
    if getattr(notify.KINDS.get(row.kind), "secret", False):
        blank = {"body": "", "html": ""}  # a link that opens an account does not stay here
    Notification.objects.filter(
        pk=row.pk, status=Notification.Status.SENDING, claimed_at=claim
    ).update(
        status=Notification.Status.SENT,
        sent_at=timezone.now(),
        claimed_at=None,
        last_error="",
        **blank,
    )


def _claim(notification_ids, kind, occasions, size) -> tuple[dt.datetime, list[Notification]]:
    """Take `size` due rows: SKIP LOCKED, so two sweeps at once take different rows, and the
    status change makes the claim stick once this transaction commits."""
    claim = timezone.now()
    with transaction.atomic():
        due = Notification.objects.due(claim).order_by("next_attempt_at", "pk")
        if notification_ids is not None:
            due = due.filter(pk__in=notification_ids)
        if occasions is not None:
            due = due.filter(kind=kind, occasion__in=occasions)
        rows = list(
            due.select_for_update(skip_locked=True, of=("self",)).select_related("person")[:size]
        )
        if rows:
            Notification.objects.filter(pk__in=[row.pk for row in rows]).update(
                status=Notification.Status.SENDING,
                claimed_at=claim,
                attempts=F("attempts") + 1,
            )
    for row in rows:
        row.attempts += 1
    return claim, rows


def _message(row: Notification, connection) -> EmailMultiAlternatives:
    # The kind, for mail filters (and for tests that look for one kind among many).
    headers = {"Message-ID": _message_id(row), "X-Kwaliteitsnetwerk-Bericht": row.kind}
    url = notify.unsubscribe_url(row.person_id, row.kind) if row.kind in notify.KINDS else ""
    if url:
        # RFC 8058: one click in the mail program unsubscribes, without logging in.
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = _Mail(
        row.subject, row.body, None, [row.person.email], connection=connection, headers=headers
    )
    if row.html:
        message.attach_alternative(row.html, "text/html")
    if row.attachment:
        message.attach(row.attachment_name or "bijeenkomst.ics", row.attachment, "text/calendar")
    return message


# Headers are not folded below RFC 5322's 998 characters: the default (78) would write a long
# List-Unsubscribe address as RFC 2047 encoded words, which mail programs cannot follow.
LONG_HEADERS = email.policy.default.clone(max_line_length=998)


class _Mail(EmailMultiAlternatives):
    def message(self, *, policy=LONG_HEADERS):
        return super().message(policy=policy)


def _message_id(row: Notification) -> str:
    """The same Message-ID on every attempt, so a receiving server can see a repeat."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return f"<notification-{row.pk}.{row.created_at:%Y%m%d%H%M%S}@{domain}>"


def _is_permanent(exc: Exception) -> bool:
    """A 5xx answer about this message or its address (no such mailbox, refused content) will
    not get better by trying again; a 4xx answer may. Refusals of our sender or login are the
    set-up's fault, not the message's: temporary, so nothing is lost while it is fixed."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError)):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return isinstance(exc, (ValueError, UnicodeError))  # an address that cannot be written


def _connection_lost(exc: Exception) -> bool:
    """The server is gone or refuses us as a sender: not this message's fault."""
    return isinstance(
        exc,
        (
            smtplib.SMTPServerDisconnected,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPAuthenticationError,
            ConnectionError,
            TimeoutError,
        ),
    ) or (isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException))


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _record(retry, failed, claim: dt.datetime, *, unreachable=None) -> None:
    """Write down what happened to a chunk's messages that did not go out, for the rows this
    claim still holds (a row taken over after CLAIM_TIMEOUT is the other sweep's to record)."""
    now = timezone.now()
    everything = [row.pk for row, _exc in retry + failed]
    if unreachable:
        everything += [row.pk for row in unreachable[0]]
    ours = Notification.objects.filter(
        pk__in=everything, status=Notification.Status.SENDING, claimed_at=claim
    )
    changed = []
    for row, exc in retry:
        row.last_error = _describe(exc)
        row.claimed_at = None
        if row.attempts >= Notification.MAX_ATTEMPTS:
            row.status = Notification.Status.FAILED
        else:
            row.status = Notification.Status.QUEUED
            row.next_attempt_at = now + RETRY_DELAYS[min(row.attempts, len(RETRY_DELAYS)) - 1]
        changed.append(row)
        logger.warning("Mail %s not sent (attempt %s): %s", row.pk, row.attempts, row.last_error)
    for row, exc in failed:
        row.status = Notification.Status.FAILED
        row.last_error = _describe(exc)
        row.claimed_at = None
        changed.append(row)
        logger.error("Mail %s refused for good: %s", row.pk, row.last_error)
    if unreachable:
        rows, exc = unreachable
        for row in rows:
            row.status = Notification.Status.QUEUED
            row.attempts -= 1  # not this message's fault: it keeps its attempts
            row.next_attempt_at = now + SERVER_AWAY_DELAY
            row.last_error = _describe(exc)
            row.claimed_at = None
            changed.append(row)
        logger.warning("Mail server unreachable, %s messages wait: %s", len(rows), _describe(exc))
    if changed:
        still_ours = set(ours.values_list("pk", flat=True))
        Notification.objects.bulk_update(
            [row for row in changed if row.pk in still_ours],
            ["status", "next_attempt_at", "last_error", "claimed_at", "attempts"],
            batch_size=500,
        )


def send_one(notification_id: int) -> bool:
    """Send one row now if it is due (tests and the bureau's resend use it)."""
    return (
        deliver([notification_id]) == 1
        and Notification.objects.filter(
            pk=notification_id, status=Notification.Status.SENT
        ).exists()
    )
