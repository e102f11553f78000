"""The Overzicht of one person: what is on for them, built from the rules' own predicates
(Coalition.objects.led_by / RingMembership, Session.objects.invited, the commitment rule, the
activity log). A fixed number of queries whatever the size of the network."""

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from coalitions.models import Coalition, Input, Ring, RingMembership
from events.services import coming_sessions_for, commitment
from members import activity
from members.models import Action, Person

NEWS_SHOWN = 10
# What counts as news in a coalition (the activity log's verbs).
NEWS_VERBS = (
    "output.added",
    "input.answered",
    "membership.joined",
    "membership.accepted",
    "membership.moved",
    "membership.left",
    "membership.ended",
    "coalition.status_changed",
)


def member_overview(person: Person) -> dict:
    led = list(Coalition.objects.led_by(person).order_by("name"))
    memberships = list(
        RingMembership.objects.open()
        .filter(person=person)
        .select_related("ring", "coalition", "requested_ring")
        .order_by("coalition__name")
    )
    active = [m for m in memberships if m.is_active]
    kept = commitment(active, by_membership=True)
    mine = [{"membership": m, "commitment": kept.get(m.pk)} for m in active]
    requests = [m for m in memberships if not m.is_active or m.asks_to_move]
    sessions = coming_sessions_for(person)
    now = timezone.now()
    unanswered = [
        s
        for s in sessions
        if s.my_registration is None and not (s.signup_deadline and s.signup_deadline < now)
    ]
    # What happened in my coalitions since I last looked (by others).
    since = person.overview_seen_at or (now - dt.timedelta(days=14))
    scopes = {activity.scope_of(m.coalition) for m in active} | {activity.scope_of(c) for c in led}
    news = list(
        Action.objects.filter(scope__in=scopes, at__gt=since, verb__in=NEWS_VERBS)
        .exclude(actor=person)
        .select_related("actor", "person", "target_type")
        .order_by("-at")[:NEWS_SHOWN]
    )
    coalition_names = {activity.scope_of(m.coalition): m.coalition for m in active} | {
        activity.scope_of(c): c for c in led
    }
    for action in news:
        action.coalition = coalition_names.get(action.scope)
    context = {
        "led_coalitions": led,
        "my_coalitions": mine,
        "my_requests": requests,
        "sessions": sessions,
        "unanswered": unanswered,
        "news": news,
        "since": since,
    }
    if led:
        context |= lead_overview(led)
    return context


def lead_overview(led: list[Coalition]) -> dict:
    """For a lead: the requests waiting in their coalitions, open input, and each ring's health."""
    waiting = list(
        RingMembership.objects.filter(coalition__in=led)
        .filter(
            Q(status=RingMembership.Status.REQUESTED)
            | Q(status=RingMembership.Status.ACTIVE, requested_ring__isnull=False)
        )
        .select_related("person", "ring", "coalition", "requested_ring")
        .order_by("created_at")[:NEWS_SHOWN]
    )
    open_input = list(
        Input.objects.filter(coalition__in=led, status=Input.Status.NEW)
        .select_related("coalition", "author")
        .order_by("-created_at")[:NEWS_SHOWN]
    )
    rings = list(
        Ring.objects.with_counts()
        .filter(coalition__in=led)
        .select_related("coalition")
        .order_by("coalition__name", "order")
    )
    return {
        "lead_requests": waiting,
        "open_input": open_input,
        "ring_health": [r for r in rings if r.below_minimum or r.is_full],
    }
