"""Coalition data for pages of the members app (which may not import coalitions itself)."""

from django import template

from coalitions.models import taking_part_rows

register = template.Library()


@register.simple_tag
def people_with_coalitions(people) -> list[tuple]:
    """Pairs of (person, [(coalition, role)]): where each person takes part (leads or is in a
    ring: coalitions.models.taking_part_rows). Two queries for all people together."""
    people = list(people)
    taking_part: dict[int, list] = {p.pk: [] for p in people}
    places, leads = taking_part_rows(person_id__in=taking_part)
    for row in (
        leads.select_related("coalition")
        .only("person_id", "coalition__name", "coalition__school_year")
        .order_by("-coalition__school_year", "coalition__name")
    ):
        taking_part[row.person_id].append((row.coalition, None))
    for membership in (
        places.select_related("coalition", "ring")
        .only("person_id", "coalition__name", "coalition__school_year", "ring__name")
        .order_by("-coalition__school_year", "coalition__name")
    ):
        taking_part[membership.person_id].append((membership.coalition, membership.ring.name))
    return [(p, taking_part[p.pk]) for p in people]


@register.simple_tag
def coalitions_of(person) -> list[tuple]:
    """[(coalition, role)] for one person: role None for a lead, else the ring's name."""
    return people_with_coalitions([person])[0][1]
