"""Dates and times in long lists, without Django's general `date` filter (which looks up the
format's translations for every value: a fifth of the outbox's rendering)."""

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def machine_time(value) -> str:
    """For `<time datetime="…">`: the same as `date:'Y-m-d\\TH:i:sO'`."""
    if not value:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M:%S%z")


@register.filter
def day_and_time(value) -> str:
    """Numeric day and time, as `date:"j-n-Y H.i"` ("5-3-2027 09.30")."""
    if not value:
        return ""
    moment = timezone.localtime(value)
    return f"{moment.day}-{moment.month}-{moment.year} {moment:%H.%M}"
