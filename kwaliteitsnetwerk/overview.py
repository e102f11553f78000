"""The Overzicht of one person: what is on for them, built from the rules' own predicates
(Coalition.objects.led_by / RingMembership, Session.objects.invited, the commitment rule, the
activity log). A fixed number of queries whatever the size of the network."""

import datetime as dt

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from coalitions.models import Coalition, Input, Output, Ring, RingMembership
from events.models import Registration, Session
from events.services import coming_invited_ids, coming_sessions_for, commitment
from members import activity
from members.models import Action, Person

NEWS_SHOWN = 10
UNANSWERED_SHOWN = 8
# News from inside a coalition's workspace (the activity log's verbs): who joined, moved, left,
# and input answered. Outputs and phases are news for everyone in the coalition.
WORKSPACE_VERBS = (
    "input.answered",
    "membership.joined",
    "membership.accepted",
    "membership.moved",
    "membership.left",
    "membership.ended",
)


def member_overview(person: Person) -> dict:
    """Everything on the Overzicht of this person: their coalitions and rings, coming
    sessions, invitations not answered, open requests, what is new since their last visit, and
    for a lead what waits in their coalitions."""
    led = list(Coalition.objects.led_by(person).order_by("name"))
    # Running coalitions only: a closed coalition's places stay in its history, not here.
    memberships = list(
        RingMembership.objects.open()
        .filter(person=person, coalition__in=Coalition.objects.running())
        .select_related("ring", "coalition", "requested_ring")
        .order_by("coalition__name")
    )
    active = [m for m in memberships if m.is_active]
    commitments = commitment(active, by_membership=True)
    now = timezone.now()
    # The invitation rule asked once, for the coming published sessions: the sessions shown
    # and the unanswered invitations (further ahead than those shown too) both come from it.
    invited = coming_invited_ids(person)
    context = {
        "led_coalitions": led,
        "my_coalitions": [{"membership": m, "commitment": commitments.get(m.pk)} for m in active],
        "my_requests": [m for m in memberships if not m.is_active or m.asks_to_move],
        "sessions": coming_sessions_for(person, invited=invited),
        "unanswered": list(
            Session.objects.filter(pk__in=invited)
            .exclude(Exists(Registration.objects.filter(session=OuterRef("pk"), person=person)))
            .exclude(signup_deadline__lt=now)
            .order_by("start")[:UNANSWERED_SHOWN]
        ),
    }
    if led:
        context |= lead_overview(led)
    return context | news_for(person, led, active, visible_outputs_of(person, led, active))


def visible_outputs_of(person: Person, led: list[Coalition], active: list[RingMembership]):
    """The outputs of their coalitions this person may open (Output.visible_to), as a
    subquery of their ids."""
    return (
        Output.objects.visible_to(person)
        .filter(coalition__in=[m.coalition_id for m in active] + [c.pk for c in led])
        .values("pk")
    )


def news_for(
    person: Person,
    led: list[Coalition],
    active: list[RingMembership],
    visible_outputs,
) -> dict:
    """What happened in their coalitions since they last looked (by others)."""
    since = person.overview_seen_at or (timezone.now() - dt.timedelta(days=14))
    # Never "since" a day before they were here: a new account counts from its own start.
    joined = person.user.date_joined if person.user_id else person.created_at
    since = max(since, joined)
    scopes = {activity.scope_of(m.coalition) for m in active} | {activity.scope_of(c) for c in led}
    # Only what this person may see: an output they may open (Output.visible_to), and the
    # goings-on of a coalition whose workspace their ring shows (Ring.can_see_workspace).
    workspace = {activity.scope_of(c) for c in led} | {
        activity.scope_of(m.coalition) for m in active if m.grants("can_see_workspace")
    }
    news = list(
        Action.objects.filter(scope__in=scopes, at__gt=since)
        .filter(
            Q(verb="output.added", target_id__in=visible_outputs)
            | Q(verb="coalition.status_changed")
            | Q(verb__in=WORKSPACE_VERBS, scope__in=workspace)
        )
        .exclude(actor=person)
        .select_related("actor", "person", "target_type")
        .order_by("-at")[:NEWS_SHOWN]
    )
    coalition_names = {activity.scope_of(m.coalition): m.coalition for m in active} | {
        activity.scope_of(c): c for c in led
    }
    for action in news:
        action.coalition = coalition_names.get(action.scope)
    return {"news": news, "since": since}


def lead_overview(led: list[Coalition]) -> dict:
    """For a lead: the requests waiting in their coalitions, open input, and each ring's health."""
    running = [c for c in led if c.is_running]
    waiting = list(
        RingMembership.objects.waiting()
        .filter(coalition__in=running)
        .select_related("person", "ring", "coalition", "requested_ring")
        .order_by("created_at")[:NEWS_SHOWN]
    )
    open_input = list(
        Input.objects.filter(coalition__in=running, status=Input.Status.NEW)
        .select_related("coalition", "author")
        .order_by("-created_at")[:NEWS_SHOWN]
    )
    rings = list(
        Ring.objects.with_counts()
        .filter(coalition__in=running)
        .select_related("coalition")
        .order_by("coalition__name", "order")
    )
    return {
        "lead_requests": waiting,
        "open_input": open_input,
        "ring_health": [r for r in rings if r.below_minimum or r.is_full],
    }
