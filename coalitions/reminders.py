"""What the coalitions send on their own, each sweep (members.notify rules): a month before
the planned end and a ring below its minimum (the ring-agreement nudge is the commitment rule's,
in events.reminders). Each rule asks what is
due by now, so a missed sweep is caught up; the outbox's unique row keeps each message once."""

import datetime as dt

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from members import notify
from members.models import Notification, Person

from .models import Coalition, Output, Ring, RingMembership, ThemeRound

ENDING_NOTICE = dt.timedelta(days=30)


def _url(name: str, coalition_id: int) -> str:
    return settings.SITE_URL + reverse(name, args=[coalition_id])


def _leads_and_contact(coalition: Coalition) -> list:
    people = {lead.pk: lead for lead in coalition.leads.all()}
    if coalition.bureau_contact_id:
        people.setdefault(coalition.bureau_contact_id, coalition.bureau_contact)
    return list(people.values())


@notify.register_rule("coalitions.ending")
def coalition_ending(now: dt.datetime) -> int:
    """A month before a running coalition's planned end: its leads and bureau contact plan the
    evaluation and the output. Extended (a new planned end), they are told again then."""
    today = timezone.localdate(now)
    coalitions = (
        Coalition.objects.running()
        .filter(planned_end__gt=today, planned_end__lte=today + ENDING_NOTICE)
        .annotate(has_output=Exists(Output.objects.filter(coalition=OuterRef("pk"))))
        .select_related("bureau_contact__user")
        .prefetch_related("leads__user")
    )
    messages = []
    for coalition in coalitions:
        for person in _leads_and_contact(coalition):
            with override(person.language):
                context = {
                    "coalition": coalition.name,
                    "end": notify.day(coalition.planned_end),
                    "has_output": coalition.has_output,
                    "url": _url("coalitions:detail", coalition.pk),
                }
            messages.append(
                notify.Message(
                    person,
                    f"coalitions.coalition:{coalition.pk}:ends:{coalition.planned_end:%Y%m%d}",
                    context,
                )
            )
    return notify.queue_many("coalition_ending", messages)


@notify.register_rule("coalitions.below_minimum")
def ring_below_minimum(now: dt.datetime) -> int:
    """An active coalition's ring with fewer members than it agreed on: its leads and bureau
    contact hear of it once a month while it lasts."""
    month = timezone.localdate(now).strftime("%Y-%m")
    rings = (
        Ring.objects.below_minimum()
        .filter(coalition__status=Coalition.Status.ACTIVE)
        .select_related("coalition__bureau_contact__user")
        .prefetch_related("coalition__leads__user")
    )
    messages = []
    for ring in rings:
        for person in _leads_and_contact(ring.coalition):
            messages.append(
                notify.Message(
                    person,
                    f"coalitions.ring:{ring.pk}:below_minimum:{month}",
                    {
                        "ring": ring.name,
                        "coalition": ring.coalition.name,
                        "members": ring.active_count,
                        "minimum": ring.minimum_size,
                        "url": _url("coalitions:board", ring.coalition_id),
                    },
                )
            )
    return notify.queue_many("ring_below_minimum", messages)


# The yearly cycle: each step through the outbox -------------------------------------------------

ROUND_CLOSING_NOTICE = dt.timedelta(days=3)


def _not_yet(kind: str, occasion: str):
    return ~Exists(Notification.objects.filter(kind=kind, occasion=occasion, person=OuterRef("pk")))


@notify.register_rule("coalitions.round_opened")
def round_opened(now: dt.datetime) -> int:
    """A theme round is open: everyone with a login is asked to bring in and support themes
    (once per round; who logs in later while it is open hears it at the next sweep)."""
    count = 0
    for theme_round in ThemeRound.objects.open_at(now):
        occasion = f"coalitions.round:{theme_round.pk}:opened"
        people = (
            Person.objects.filter(user__isnull=False, erased_at__isnull=True)
            .filter(_not_yet("round_opened", occasion))
            .select_related("user")
        )
        messages = []
        for person in people:
            with override(person.language):
                context = {
                    "year": theme_round.school_year,
                    "closes": notify.day(theme_round.closes_at),
                    "votes": theme_round.votes_per_person,
                    "url": settings.SITE_URL + reverse("coalitions:round", args=[theme_round.pk]),
                }
            messages.append(notify.Message(person, occasion, context))
        count += notify.queue_many("round_opened", messages)
    return count


@notify.register_rule("coalitions.round_closing")
def round_closing(now: dt.datetime) -> int:
    """Three days before a round closes, the ambassadors of the institutions are reminded."""
    count = 0
    for theme_round in ThemeRound.objects.open_at(now).filter(
        closes_at__lte=now + ROUND_CLOSING_NOTICE
    ):
        occasion = f"coalitions.round:{theme_round.pk}:closing"
        proposals = theme_round.proposals.count()
        messages = []
        for person in (
            Person.objects.filter(is_ambassador=True, erased_at__isnull=True)
            .filter(_not_yet("round_closing", occasion))
            .select_related("user")
        ):
            with override(person.language):
                context = {
                    "year": theme_round.school_year,
                    "closes": notify.day(theme_round.closes_at),
                    "proposals": proposals,
                    "url": settings.SITE_URL + reverse("coalitions:round", args=[theme_round.pk]),
                }
            messages.append(notify.Message(person, occasion, context))
        count += notify.queue_many("round_closing", messages)
    return count


@notify.register_rule("coalitions.evaluation_due")
def evaluation_due(now: dt.datetime) -> int:
    """A coalition in "evaluatie" without an evaluation: its leads and Kern are asked, once."""
    coalitions = Coalition.objects.filter(
        status=Coalition.Status.EVALUATING, evaluation__isnull=True
    ).prefetch_related("leads__user")
    messages = []
    core = {
        (m.coalition_id, m.person_id): m.person
        for m in RingMembership.objects.active()
        .filter(
            coalition__in=coalitions, ring__order=Ring.CORE_ORDER, person__erased_at__isnull=True
        )
        .select_related("person__user")
    }
    for coalition in coalitions:
        people = {lead.pk: lead for lead in coalition.leads.all()}
        for (coalition_id, person_id), person in core.items():
            if coalition_id == coalition.pk:
                people.setdefault(person_id, person)
        for person in people.values():
            messages.append(
                notify.Message(
                    person,
                    f"coalitions.coalition:{coalition.pk}:evaluation_due",
                    {
                        "coalition": coalition.name,
                        "url": _url("coalitions:evaluation", coalition.pk),
                    },
                )
            )
    return notify.queue_many("evaluation_due", messages)
