"""Work a sign-up handed to the workers once its place was committed. A sign-up now writes its
confirmation as an outbox row in its own transaction (events.services.register); this task is
kept for messages published before that, still waiting in a broker after a deploy."""

from celery import shared_task


@shared_task
def queue_confirmation(registration_id: int) -> bool:
    """Write the confirmation of a sign-up (text, HTML, calendar file) into the outbox, from a
    worker: the web request that took the place answers without rendering a mail."""
    from . import services
    from .models import Registration

    registration = (
        Registration.objects.select_related("person__user", "session__host_institution")
        .prefetch_related("choices", "session__parts")
        .filter(pk=registration_id)
        .first()
    )
    if registration is None or registration.is_cancelled:
        return False  # gone or cancelled before the worker came to it: nothing to confirm
    services._queue_confirmation(registration)
    return True
