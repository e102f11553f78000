"""Session data for pages of other apps (coalitions, members), which may not import events."""

from django import template
from django.utils import timezone

from coalitions.models import Output
from events.models import CalendarFeed, Presentation, Registration, Session
from events.services import commitment, held_sessions
from kwaliteitsnetwerk.caching import versions_of

register = template.Library()


@register.inclusion_tag("events/includes/coalition_sessions.html")
def coalition_sessions(coalition):
    sessions = (
        Session.objects.published()
        .upcoming()
        .filter(coalitions=coalition)
        .select_related("host_institution")[:5]
    )
    return {"sessions": sessions, "coalition": coalition}


@register.inclusion_tag("events/includes/harvest.html")
def harvest(person=None):
    """The outputs library's harvest: the outputs presented at the latest conference that
    presented any (for visitors without login only the public ones)."""
    readable = Output.objects.public() if person is None else Output.objects.for_network()
    shown = Presentation.objects.filter(output__in=readable)
    latest = (
        Session.objects.published()
        .filter(kind=Session.Kind.CONFERENCE, presentations__in=shown, start__lte=timezone.now())
        .order_by("-start")
        .first()
    )
    if latest is None:
        return {"session": None, "presentations": []}
    return {
        "session": latest,
        "presentations": shown.filter(session=latest).select_related("output__coalition"),
    }


@register.inclusion_tag("events/includes/calendar_feed.html", takes_context=True)
def calendar_feed(context, person):
    request = context["request"]
    feed = CalendarFeed.objects.filter(person=person).first() if person else None
    url = request.build_absolute_uri(f"/bijeenkomsten/agenda/{feed.token}.ics") if feed else ""
    return {"feed": feed, "url": url, "csrf_token": context.get("csrf_token")}


@register.simple_tag
def ring_attendance(rings) -> dict:
    """Per person on the ring board: how they keep their ring's agreement (the commitment rule,
    events.services.commitment), for the members in `ring.groups["active"]`."""
    return commitment([m for ring in rings for m in ring.groups["active"]])


@register.simple_tag
def attendance_versions() -> str:
    """What the attendance on a ring board moves with (kwaliteitsnetwerk.caching): the
    sessions that count for commitment — their versions move with marks, sign-ups and
    programmes, and a session that ends joins them. One aggregate query."""
    return versions_of(held_sessions())


@register.filter
def lookup(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag
def sessions_attended(people) -> dict:
    """Number of sessions each person attended (one query for all)."""
    from django.db.models import Count

    rows = (
        Registration.objects.filter(person__in=list(people), attended=True)
        .values("person_id")
        .annotate(n=Count("pk"))
        .values_list("person_id", "n")
    )
    return dict(rows)


@register.simple_tag
def attended_count(person) -> int:
    return Registration.objects.filter(person=person, attended=True).count()
