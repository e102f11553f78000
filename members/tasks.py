from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from .models import Invitation


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
    language = person.user.language if person.user_id else settings.LANGUAGE_CODE
    with translation.override(language):
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
    from .models import Notification
    from .notify import send_one

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
    import datetime as dt

    from django.utils import timezone

    from .models import Notification
    from .notify import send_one

    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    ids = Notification.objects.filter(sent_at__isnull=True, created_at__lt=cutoff).values_list(
        "pk", flat=True
    )[:500]
    return sum(send_one(pk) for pk in list(ids))
