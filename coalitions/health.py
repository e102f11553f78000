"""The network's health at a glance, for the bureau: where institutions take part, which
coalitions are ending, which core rings are thin. A fixed number of queries."""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from members.models import Institution

from .models import Coalition, Ring, RingMembership

ENDING_WITHIN = dt.timedelta(days=60)


@dataclass
class Participation:
    institution: Institution
    coalitions: int
    people: int


def coalitions_ending(today=None):
    today = today or timezone.localdate()
    return (
        Coalition.objects.running()
        .filter(planned_end__lte=today + ENDING_WITHIN)
        .order_by("planned_end", "name")
    )


def thin_core_rings():
    """Core rings of running coalitions with fewer active members than their minimum."""
    return (
        Ring.objects.core()
        .below_minimum()
        .filter(coalition__in=Coalition.objects.running())
        .select_related("coalition")
        .order_by("coalition__name")
    )


def participation() -> list[Participation]:
    """Per member institution: in how many running coalitions its people take part (ring or lead)."""
    running = Coalition.objects.running()
    members = list(Institution.objects.members_on().order_by("name"))
    in_rings = (
        RingMembership.objects.active()
        .filter(coalition__in=running)
        .values_list("person__institution_id", "coalition_id", "person_id")
    )
    leads = Coalition.leads.through.objects.filter(coalition__in=running).values_list(
        "person__institution_id", "coalition_id", "person_id"
    )
    coalitions: dict[int, set] = {}
    people: dict[int, set] = {}
    for institution_id, coalition_id, person_id in [*in_rings, *leads]:
        coalitions.setdefault(institution_id, set()).add(coalition_id)
        people.setdefault(institution_id, set()).add(person_id)
    rows = [
        Participation(i, len(coalitions.get(i.pk, ())), len(people.get(i.pk, ()))) for i in members
    ]
    return sorted(rows, key=lambda row: (row.coalitions, row.people, row.institution.name))
