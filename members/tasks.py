"""Sending the outbox (members.Notification) and the sweep. Nothing here writes a message;
members.notify does, and the apps' rules (notify.register_rule) decide what is due."""

import contextlib
import datetime as dt
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
]


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
            with transaction.atomic():
                queued[name] = rule(now)
        except Exception:  # one broken rule must not stop the others or the sending
            logger.exception("Reminder rule %s failed", name)
            queued[name] = -1
    sent = 0
    for _round in range(1000):  # at most a million messages per sweep
        done = deliver()
        sent += done
        if done < settings.NOTIFICATION_BATCH_SIZE:
            break
    return {"queued": queued, "handled": sent}


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
    """Claim a batch of due rows and mail them over one connection. Returns how many rows it
    handled (sent, put back for a later attempt, or failed). A fixed number of queries per
    batch, whatever its size."""
    now = timezone.now()
    with transaction.atomic():
        due = Notification.objects.due(now).order_by("next_attempt_at", "pk")
        if notification_ids is not None:
            due = due.filter(pk__in=notification_ids)
        if occasions is not None:
            due = due.filter(kind=kind, occasion__in=occasions)
        # SKIP LOCKED: two sweeps at once each take other rows; the status change below makes
        # the claim stick once this transaction commits.
        rows = list(
            due.select_for_update(skip_locked=True, of=("self",)).select_related("person")[
                : settings.NOTIFICATION_BATCH_SIZE
            ]
        )
        if not rows:
            return 0
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=Notification.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    sent, retry, failed = [], [], []
    connection = mail.mailers.default
    try:
        connection.open()
    except (OSError, smtplib.SMTPException) as exc:
        retry = [(row, exc) for row in rows]
        rows = []
    for index, row in enumerate(rows):
        try:
            connection.send_messages([_message(row, connection)])
        except Exception as exc:  # classified below: nothing may stop the batch's bookkeeping
            if _is_permanent(exc):
                failed.append((row, exc))
                continue
            retry.append((row, exc))
            if _connection_lost(exc):
                # The rest of the batch waits for the next attempt.
                retry.extend((later, exc) for later in rows[index + 1 :])
                break
        else:
            sent.append(row)
    with contextlib.suppress(OSError, smtplib.SMTPException):
        connection.close()
    _record(sent, retry, failed)
    return len(sent) + len(retry) + len(failed)


def _message(row: Notification, connection) -> EmailMultiAlternatives:
    # The kind, for mail filters (and for tests that look for one kind among many).
    headers = {"Message-ID": _message_id(row), "X-Kwaliteitsnetwerk-Bericht": row.kind}
    url = notify.unsubscribe_url(row.person_id, row.kind) if row.kind in notify.KINDS else ""
    if url:
        # RFC 8058: one click in the mail program unsubscribes, without logging in.
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        row.subject, row.body, None, [row.person.email], connection=connection, headers=headers
    )
    if row.html:
        message.attach_alternative(row.html, "text/html")
    if row.attachment:
        message.attach(row.attachment_name or "bijeenkomst.ics", row.attachment, "text/calendar")
    return message


def _message_id(row: Notification) -> str:
    """The same Message-ID on every attempt, so a receiving server can see a repeat."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return f"<notification-{row.pk}.{row.created_at:%Y%m%d%H%M%S}@{domain}>"


def _is_permanent(exc: Exception) -> bool:
    """A 5xx answer (the address does not exist, the message is refused) will not get better
    by trying again; a 4xx answer, a lost connection or a timeout may."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return isinstance(exc, (ValueError, UnicodeError))  # an address that cannot be written


def _connection_lost(exc: Exception) -> bool:
    return isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError))


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _record(sent, retry, failed) -> None:
    now = timezone.now()
    if sent:
        Notification.objects.filter(pk__in=[row.pk for row in sent]).update(
            status=Notification.Status.SENT, sent_at=now, claimed_at=None, last_error=""
        )
        secret = [row.pk for row in sent if getattr(notify.KINDS.get(row.kind), "secret", False)]
        if secret:  # a link that opens an account does not stay in the outbox
            Notification.objects.filter(pk__in=secret).update(body="", html="")
    changed = []
    for row, exc in retry:
        attempts = row.attempts + 1  # counted by the claim
        row.last_error = _describe(exc)
        row.claimed_at = None
        if attempts >= Notification.MAX_ATTEMPTS:
            row.status = Notification.Status.FAILED
        else:
            row.status = Notification.Status.QUEUED
            row.next_attempt_at = now + RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
        changed.append(row)
        logger.warning("Mail %s not sent (attempt %s): %s", row.pk, attempts, row.last_error)
    for row, exc in failed:
        row.status = Notification.Status.FAILED
        row.last_error = _describe(exc)
        row.claimed_at = None
        changed.append(row)
        logger.error("Mail %s refused for good: %s", row.pk, row.last_error)
    if changed:
        Notification.objects.bulk_update(
            changed, ["status", "next_attempt_at", "last_error", "claimed_at"], batch_size=500
        )


def send_one(notification_id: int) -> bool:
    """Send one row now if it is due (tests and the bureau's resend use it)."""
    return (
        deliver([notification_id]) == 1
        and Notification.objects.filter(
            pk=notification_id, status=Notification.Status.SENT
        ).exists()
    )
