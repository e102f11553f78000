"""Which coalitions are near their planned end (the bureau's signals in
kwaliteitsnetwerk/glance.py)."""

import datetime as dt

from django.utils import timezone

from .models import Coalition

ENDING_WITHIN = dt.timedelta(days=60)


def coalitions_ending(today=None):
    today = today or timezone.localdate()
    return (
        Coalition.objects.running()
        .filter(planned_end__lte=today + ENDING_WITHIN)
        .order_by("planned_end", "name")
    )
