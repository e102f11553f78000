"""Keeping personal data no longer than needed (AVG).

Someone's last activity is the latest of: their account's creation, last login and actions,
and what the apps above members report (coalitions: ring memberships and leading; events:
registrations) — registered with `register_activity`, since members may not import them. An
open place or a running coalition they lead counts as today. A person is due for anonymisation
on 1 September, `RetentionPolicy.school_years` full school years after the school year of their
last activity, unless the bureau postponed it (RetentionHold). Anonymising is
members.services.erase_person: the rows stay, so the yearly figures still add up.
"""

import datetime as dt
from collections.abc import Callable

from django.db.models import DateTimeField, Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from .models import Action, Person, RetentionHold, RetentionPolicy

# Each source: now -> an expression on a Person queryset giving a datetime (or None).
_SOURCES: list[Callable] = []


def register_activity(source: Callable) -> None:
    _SOURCES.append(source)


def policy() -> RetentionPolicy:
    return RetentionPolicy.objects.get_or_create(pk=1)[0]


def with_last_activity(people, now: dt.datetime | None = None):
    """Annotate `last_activity` on people (never empty: at least their creation)."""
    now = now or timezone.now()
    last_action = Subquery(
        Action.objects.filter(actor=OuterRef("pk")).order_by("-at").values("at")[:1],
        output_field=DateTimeField(),
    )
    expressions = [
        Coalesce("user__last_login", "created_at"),
        Coalesce(last_action, "created_at"),
        *(Coalesce(source(now), "created_at") for source in _SOURCES),
    ]
    return people.annotate(last_activity=Greatest("created_at", *expressions))


def cutoff(day: dt.date, school_years: int) -> dt.datetime:
    """Whoever was last active before this moment is due on `day`: 1 September of the school
    year `school_years` before the one `day` falls in."""
    first = day.year if day.month >= 9 else day.year - 1
    return timezone.make_aware(dt.datetime(first - school_years, 9, 1))


def candidates(day: dt.date | None = None):
    """People whose data may go: not erased, not bureau staff, not postponed."""
    day = day or timezone.localdate()
    held = RetentionHold.objects.filter(person=OuterRef("pk"), until__gte=day)
    return Person.objects.filter(erased_at__isnull=True, is_bureau_staff=False).exclude(
        Exists(held)
    )


def due(day: dt.date | None = None):
    """People due for anonymisation on `day`, longest inactive first."""
    day = day or timezone.localdate()
    years = policy().school_years
    return (
        with_last_activity(candidates(day))
        .filter(last_activity__lt=cutoff(day, years))
        .order_by("last_activity", "pk")
    )


def due_next(day: dt.date | None = None):
    """People who will be due on the coming 1 September (so the bureau can look first)."""
    day = day or timezone.localdate()
    first = day.year if day.month >= 9 else day.year - 1
    next_september = dt.date(first + 1, 9, 1)
    years = policy().school_years
    return (
        with_last_activity(candidates(next_september))
        .filter(
            last_activity__lt=cutoff(next_september, years),
            last_activity__gte=cutoff(day, years),
        )
        .order_by("last_activity", "pk")
    ), next_september
