"""Session data for pages of other apps (coalitions, members), which may not import events."""

import datetime as dt
from collections import defaultdict

from django import template
from django.utils import timezone

from coalitions.models import school_year_of
from events.models import CalendarFeed, Registration, Session

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


@register.inclusion_tag("events/includes/calendar_feed.html", takes_context=True)
def calendar_feed(context, person):
    request = context["request"]
    feed = CalendarFeed.objects.filter(person=person).first() if person else None
    url = request.build_absolute_uri(f"/bijeenkomsten/agenda/{feed.token}.ics") if feed else ""
    return {"feed": feed, "url": url, "csrf_token": context.get("csrf_token")}


@register.simple_tag
def ring_attendance(coalition, rings) -> dict:
    """Per person on the ring board: sessions of this coalition attended this school year, against
    the ring's expectation, and whether they missed the last two. Two queries for the whole board."""
    today = timezone.localdate()
    first_year = int(school_year_of(today)[:4])
    since = timezone.make_aware(dt.datetime(first_year, 9, 1))
    sessions = list(
        Session.objects.filter(coalitions=coalition, start__gte=since, end__lt=timezone.now())
        .exclude(status__in=[Session.Status.CANCELLED, Session.Status.DRAFT])
        .order_by("start")
        .values_list("pk", flat=True)
    )
    people = {m.person_id: ring for ring in rings for m in ring.groups["active"]}
    attended = defaultdict(set)
    for person_id, session_id in Registration.objects.filter(
        session_id__in=sessions, person_id__in=people, attended=True
    ).values_list("person_id", "session_id"):
        attended[person_id].add(session_id)
    last_two = sessions[-2:]
    stats = {}
    for person_id, ring in people.items():
        count = len(attended[person_id])
        expected = ring.sessions_expected
        stats[person_id] = {
            "attended": count,
            "held": len(sessions),
            "expected": expected,
            "keeps": expected is None or count >= min(expected, len(sessions)),
            "missed_last": len(last_two) == 2 and not (attended[person_id] & set(last_two)),
            "core_candidate": ring.order > 1 and len(sessions) >= 2 and count == len(sessions),
        }
    return stats


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
