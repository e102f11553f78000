"""Queue notifications in the outbox (members.models.Notification); members.tasks sends them."""

from django.db import transaction

from .models import Notification, Person
from .tasks import send_notifications


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
