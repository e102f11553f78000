"""Sending: invitation links and the outbox. Nothing here queues; members.notify does."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from .models import Invitation, Notification


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_invitation_email(self, invitation_id: int, token: str) -> bool:
    """Mail the invitation link. Skips an invitation that was replaced or used in the meantime."""
    invitation = (
        Invitation.objects.select_related("person__institution", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or not invitation.is_usable:
        return False
    person = invitation.person
    with translation.override(person.language):
        context = {
            "person": person,
            "invitation": invitation,
            "url": settings.SITE_URL + reverse("members:accept_invitation", args=[token]),
            "valid_days": Invitation.VALID_FOR_DAYS,
        }
        subject = render_to_string("members/email/invitation_subject.txt", context).strip()
        body = render_to_string("members/email/invitation_body.txt", context)
    try:
        send_mail(subject, body, None, [person.email])
    except OSError as exc:  # SMTP trouble: try again later, the link stays valid
        raise self.retry(exc=exc) from exc
    return True


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_notifications(
    self, notification_ids: list[int] | None, *, occasion: str = "", kind: str = ""
) -> int:
    """Send queued notifications: the given ids, or every unsent one of a kind and occasion."""
    if notification_ids is None:
        notification_ids = list(
            Notification.objects.filter(
                kind=kind, occasion=occasion, sent_at__isnull=True
            ).values_list("pk", flat=True)
        )
    sent = 0
    try:
        for notification_id in notification_ids:
            sent += send_one(notification_id)
    except OSError as exc:
        raise self.retry(exc=exc) from exc
    return sent


@shared_task
def send_pending_notifications(older_than_seconds: int = 120) -> int:
    """The beat's safety net: send outbox rows whose task got lost (broker down at commit, a
    worker killed). Claiming each row first keeps this from sending anything twice."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    ids = Notification.objects.filter(sent_at__isnull=True, created_at__lt=cutoff).values_list(
        "pk", flat=True
    )[:500]
    return sum(send_one(pk) for pk in list(ids))


@shared_task
def apply_retention() -> int:
    """The beat, once a day: anonymise the people whose retention period has passed."""
    from .services import apply_retention as apply

    return apply()


def send_one(notification_id: int) -> bool:
    """Claim the row (unsent → sent) and mail it. False when someone else already did."""
    claimed = Notification.objects.filter(pk=notification_id, sent_at__isnull=True).update(
        sent_at=timezone.now()
    )
    if not claimed:
        return False
    notification = Notification.objects.select_related("person").get(pk=notification_id)
    message = EmailMessage(
        notification.subject, notification.body, None, [notification.person.email]
    )
    if notification.attachment:
        message.attach(
            notification.attachment_name or "bijeenkomst.ics",
            notification.attachment,
            "text/calendar",
        )
    try:
        message.send()
    except OSError:
        # Give the claim back so a retry can send it; nothing went out.
        Notification.objects.filter(pk=notification_id).update(sent_at=None)
        raise
    return True
