"""Queue and send notifications through the outbox (members.models.Notification)."""

from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from .models import Notification, Person


def queue(
    kind: str,
    person: Person,
    occasion: str,
    *,
    subject: str,
    body: str,
    attachment_name: str = "",
    attachment: str = "",
) -> Notification | None:
    """Add a notification unless this person already has one for this kind and occasion.
    Sending happens after commit, by a task. Returns the new row, or None when it existed."""
    from .tasks import send_notifications

    if person.erased_at is not None:
        return None
    notification, created = Notification.objects.get_or_create(
        kind=kind,
        person=person,
        occasion=occasion,
        defaults={
            "subject": subject,
            "body": body,
            "attachment_name": attachment_name,
            "attachment": attachment,
        },
    )
    if not created:
        return None
    transaction.on_commit(lambda: send_notifications.delay([notification.pk]))
    return notification


def queue_many(kind: str, people, occasion: str, *, subject: str, body: str) -> int:
    """The same notification for many people at once (e.g. publishing a session); one task."""
    from .tasks import send_notifications

    people = [p for p in people if p.erased_at is None]
    existing = set(
        Notification.objects.filter(kind=kind, occasion=occasion, person__in=people).values_list(
            "person_id", flat=True
        )
    )
    rows = [
        Notification(kind=kind, person=p, occasion=occasion, subject=subject, body=body)
        for p in people
        if p.pk not in existing
    ]
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    if created:
        transaction.on_commit(lambda: send_notifications.delay(None, occasion=occasion, kind=kind))
    return len(rows)


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
