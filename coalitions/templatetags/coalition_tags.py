"""Coalition data for pages of the members app (which may not import coalitions itself)."""

from django import template

from coalitions.models import Coalition

register = template.Library()


@register.simple_tag
def people_with_coalitions(people) -> list[tuple]:
    """Pairs of (person, coalitions they lead), with one query for all people."""
    people = list(people)
    led: dict[int, list[Coalition]] = {p.pk: [] for p in people}
    through = Coalition.leads.through
    rows = (
        through.objects.filter(person_id__in=led)
        .select_related("coalition")
        .order_by("-coalition__school_year", "coalition__name")
    )
    for row in rows:
        led[row.person_id].append(row.coalition)
    return [(p, led[p.pk]) for p in people]


@register.simple_tag
def coalitions_led_by(person) -> list[Coalition]:
    return list(Coalition.objects.led_by(person).order_by("-school_year", "name"))
