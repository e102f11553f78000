"""The network at a glance, for the bureau and the board: the signals that need action, who
takes part where (the participation matrix), the figures of a school year against the year
before, and the network of institutions and coalitions. Each a fixed number of queries,
whatever the size of the network; each built on the rules' own predicates."""

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, Func, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from coalitions import health
from coalitions.models import Coalition, Output, Ring, RingMembership, school_year_of
from coalitions.reminders import PRESENCE_GRACE
from events.models import Registration, Session
from events.services import commitment
from members.models import Institution, Person

REQUEST_WAITS = dt.timedelta(days=7)
FILLING = 0.8  # a session is filling up from 80% of its places
DEADLINE_SOON = dt.timedelta(days=7)
FEW_ANSWERS = 0.25


@dataclass
class Signal:
    key: str
    title: str
    solve: str  # what to do, in a few words
    items: list = field(default_factory=list)  # (label, url, detail)


def signals(today: dt.date | None = None) -> list[Signal]:
    """Everything that asks for the bureau's action now, each item linking to where it is
    solved. A signal disappears as soon as its condition no longer holds."""
    now = timezone.now()
    today = today or timezone.localdate()
    found = []

    ending = Signal(
        "ending",
        _("Coalitions near or past their planned end"),
        _("plan the evaluation and the output, or extend"),
    )
    for c in health.coalitions_ending(today):
        late = c.planned_end < today
        ending.items.append(
            (
                c.name,
                reverse("coalitions:detail", args=[c.pk]),
                (_("ended on %(date)s") if late else _("ends on %(date)s"))
                % {"date": c.planned_end.strftime("%d-%m-%Y")},
            )
        )
    found.append(ending)

    rings = Signal(
        "rings", _("Core rings below their minimum or full with people waiting"), _("ring board")
    )
    # Waiting: a request to join the ring, or a member of another ring asking to move into it.
    waiting = RingMembership.objects.filter(
        Q(ring=OuterRef("pk"), status=RingMembership.Status.REQUESTED)
        | Q(requested_ring=OuterRef("pk"), status=RingMembership.Status.ACTIVE)
    )
    for ring in (
        Ring.objects.core()
        .with_counts()
        .filter(coalition__in=Coalition.objects.running())
        .annotate(has_waiting=Exists(waiting))
        .select_related("coalition")
        .order_by("coalition__name")
    ):
        if ring.below_minimum:
            detail = _("%(count)s of at least %(minimum)s") % {
                "count": ring.active_count,
                "minimum": ring.minimum_size,
            }
        elif ring.is_full and ring.has_waiting:
            detail = _("full, with requests waiting")
        else:
            continue
        rings.items.append(
            (ring.coalition.name, reverse("coalitions:board", args=[ring.coalition_id]), detail)
        )
    found.append(rings)

    old = Signal("requests", _("Ring requests unanswered for more than a week"), _("ring board"))
    for m in (
        RingMembership.objects.filter(coalition__in=Coalition.objects.running())
        .filter(
            Q(status=RingMembership.Status.REQUESTED, created_at__lt=now - REQUEST_WAITS)
            | Q(
                status=RingMembership.Status.ACTIVE,
                requested_ring__isnull=False,
                requested_at__lt=now - REQUEST_WAITS,
            )
        )
        .select_related("person", "coalition", "ring", "requested_ring")
        .order_by("created_at")[:50]
    ):
        since = m.requested_at if m.asks_to_move else m.created_at
        old.items.append(
            (
                f"{m.person.full_name} → {(m.requested_ring or m.ring).name} ({m.coalition.name})",
                reverse("coalitions:board", args=[m.coalition_id]),
                _("since %(date)s") % {"date": timezone.localtime(since).strftime("%d-%m-%Y")},
            )
        )
    found.append(old)

    filling = Signal("filling", _("Sessions filling up or with a waiting list"), _("registrations"))
    for s in (
        Session.objects.published()
        .filter(start__gt=now)
        .annotate(
            confirmed=Count("registrations", filter=Q(registrations__status="bevestigd")),
            waiting=Count("registrations", filter=Q(registrations__status="wachtlijst")),
        )
        .filter(
            Q(waiting__gt=0) | Q(capacity__isnull=False, confirmed__gte=F("capacity") * FILLING)
        )
        .order_by("start")
    ):
        detail = _("%(confirmed)s of %(capacity)s places") % {
            "confirmed": s.confirmed,
            "capacity": s.capacity or "∞",
        }
        if s.waiting:
            detail += ", " + _("%(count)s waiting") % {"count": s.waiting}
        filling.items.append((s.title, reverse("events:registrations", args=[s.pk]), detail))
    found.append(filling)

    quiet = Signal(
        "answers",
        _("Invitations with few answers close to the deadline"),
        _("send a reminder or ask the leads"),
    )
    # How many people the session invites (events.services.people_invited, counted inside
    # the query): one query for all sessions.
    invited_people = Person.objects.filter(
        Exists(Session.objects.filter(pk=OuterRef(OuterRef("pk"))).invited(OuterRef("pk"))),
        erased_at__isnull=True,
        user__isnull=False,
    ).order_by()
    # Of those, who answered: signed up, on the waiting list, or cancelled (a "no").
    answered_people = invited_people.filter(
        Exists(Registration.objects.filter(session=OuterRef(OuterRef("pk")), person=OuterRef("pk")))
    )

    def counted(people):
        return Subquery(people.annotate(n=Func(F("pk"), function="COUNT")).values("n"))

    for s in (
        Session.objects.published()
        .filter(signup_deadline__gt=now, signup_deadline__lte=now + DEADLINE_SOON)
        .annotate(invited=counted(invited_people), answered=counted(answered_people))
        .order_by("signup_deadline")
    ):
        if s.invited and s.answered < s.invited * FEW_ANSWERS:
            quiet.items.append(
                (
                    s.title,
                    reverse("events:detail", args=[s.pk]),
                    _("%(answered)s of %(invited)s answered")
                    % {
                        "answered": s.answered,
                        "invited": s.invited,
                    },
                )
            )
    found.append(quiet)

    year = school_year_of(today)
    nowhere = Signal(
        "nowhere",
        _("Member institutions in no coalition this school year"),
        _("invite them to a coalition"),
    )
    this_year = Coalition.objects.filter(school_year=year)
    taking_part = Q(
        Exists(
            RingMembership.objects.active().filter(
                person__institution=OuterRef("pk"), coalition__in=this_year
            )
        )
    ) | Q(
        Exists(
            Coalition.leads.through.objects.filter(
                person__institution=OuterRef("pk"), coalition__in=this_year
            )
        )
    )
    for institution in Institution.objects.members_on().exclude(taking_part).order_by("name"):
        nowhere.items.append(
            (
                institution.name,
                reverse("members:institution_detail", args=[institution.pk]),
                "",
            )
        )
    found.append(nowhere)

    missing = Signal(
        "missing",
        _("People who keep missing what their ring agreed"),
        _("the lead talks with them"),
    )
    memberships = list(
        RingMembership.objects.active()
        .filter(coalition__status=Coalition.Status.ACTIVE, ring__sessions_expected__isnull=False)
        .select_related("person", "coalition", "ring")
    )
    # As the nudge counts it: a session counts once the presence list could be made.
    kept = commitment(
        memberships, today=today, held_before=now - PRESENCE_GRACE, by_membership=True
    )
    for m in memberships:
        c = kept.get(m.pk)
        if c and c.missed_last_two and c.expected:
            missing.items.append(
                (
                    f"{m.person.full_name} ({m.coalition.name}, {m.ring.name})",
                    reverse("coalitions:board", args=[m.coalition_id]),
                    _("missed the last %(count)s") % {"count": c.missed_in_a_row},
                )
            )
    found.append(missing)
    return found


def current_signals() -> list[Signal]:
    """The signals as the bureau's start page shows them: computed once and kept (Redis in
    production) until anything changes — members.fragments moves a counter on every change of
    the data and of the activity log — or at most FRAGMENTS_KEPT seconds, for the conditions
    only the clock changes (a deadline that comes near). At ten times the network, computing
    them is ~100 ms (all active memberships for the commitment rule); reading them is one
    cache round trip for the counters and one for the signals."""
    from members import fragments

    return fragments.kept_value("glance-signals", fragments.AREAS, (), signals)


# The participation matrix ---------------------------------------------------------------------


@dataclass
class Matrix:
    coalitions: list
    rows: list  # (institution, [cell per coalition], total people)
    column_totals: list
    total: int


def school_years() -> list[str]:
    years = set(Coalition.objects.values_list("school_year", flat=True).distinct())
    years.add(school_year_of(timezone.localdate()))
    return sorted(years, reverse=True)


def matrix(year: str, *, theme=None, kind: str = "") -> Matrix:
    """Institutions × coalitions of a school year: in each cell the rings of that
    institution's people (and how many), with row and column totals of distinct people."""
    coalitions = Coalition.objects.filter(school_year=year).select_related("theme")
    if theme:
        coalitions = coalitions.filter(theme=theme)
    coalitions = list(coalitions.order_by("name"))
    places = RingMembership.objects.active().filter(coalition__in=coalitions)
    leads = Coalition.leads.through.objects.filter(coalition__in=coalitions)
    if kind:
        places = places.filter(person__institution__kind=kind)
        leads = leads.filter(person__institution__kind=kind)
    cells: dict = defaultdict(lambda: defaultdict(set))  # (institution, coalition) → ring → people
    people_of: dict = defaultdict(set)
    coalition_people: dict = defaultdict(set)
    for institution_id, coalition_id, ring, person_id in places.values_list(
        "person__institution_id", "coalition_id", "ring__name", "person_id"
    ):
        cells[institution_id, coalition_id][ring].add(person_id)
        people_of[institution_id].add(person_id)
        coalition_people[coalition_id].add(person_id)
    lead_label = _("Lead")
    for institution_id, coalition_id, person_id in leads.values_list(
        "person__institution_id", "coalition_id", "person_id"
    ):
        cells[institution_id, coalition_id][lead_label].add(person_id)
        people_of[institution_id].add(person_id)
        coalition_people[coalition_id].add(person_id)
    institutions = Institution.objects.filter(pk__in=people_of).order_by("name")
    rows = []
    for institution in institutions:
        row = []
        for coalition in coalitions:
            rings = cells.get((institution.pk, coalition.pk), {})
            row.append(sorted((name, len(people)) for name, people in rings.items()))
        rows.append((institution, row, len(people_of[institution.pk])))
    return Matrix(
        coalitions=coalitions,
        rows=rows,
        column_totals=[len(coalition_people[c.pk]) for c in coalitions],
        total=len(set().union(*people_of.values())) if people_of else 0,
    )


# The figures of a school year -----------------------------------------------------------------


def year_bounds(year: str) -> tuple[dt.datetime, dt.datetime]:
    first = int(year[:4])
    return (
        timezone.make_aware(dt.datetime(first, 9, 1)),
        timezone.make_aware(dt.datetime(first + 1, 9, 1)),
    )


def previous_year(year: str) -> str:
    first = int(year[:4]) - 1
    return f"{first}-{first + 1}"


FIGURE_LABELS = {
    "people_core": gettext_lazy("People in a core ring"),
    "people_flex": gettext_lazy("People in other rings"),
    "institutions_core": gettext_lazy("Institutions in a core ring"),
    "institutions_flex": gettext_lazy("Institutions in other rings"),
    "sessions_held": gettext_lazy("Sessions held"),
    "signups": gettext_lazy("Sign-ups"),
    "attendance": gettext_lazy("Attendance rate (%)"),
    "waiting": gettext_lazy("Sign-ups that waited"),
    "outputs": gettext_lazy("Outputs published"),
}


def figures(year: str) -> dict:
    """The year's figures: coalitions by status, people and institutions per ring, sessions
    held, sign-ups, attendance rate, waiting-list size, outputs published."""
    start, end = year_bounds(year)
    now = timezone.now()
    by_status = dict(
        Coalition.objects.filter(school_year=year)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    core, other = Q(ring__order=Ring.CORE_ORDER), ~Q(ring__order=Ring.CORE_ORDER)
    places = (
        RingMembership.objects.filter(coalition__school_year=year, started_at__isnull=False)
        .exclude(status__in=[RingMembership.Status.REQUESTED, RingMembership.Status.INVITED])
        .aggregate(
            people_core=Count("person", distinct=True, filter=core),
            people_flex=Count("person", distinct=True, filter=other),
            institutions_core=Count("person__institution", distinct=True, filter=core),
            institutions_flex=Count("person__institution", distinct=True, filter=other),
        )
    )
    held = Session.objects.filter(start__gte=start, start__lt=end, end__lt=now).exclude(
        status__in=[Session.Status.DRAFT, Session.Status.CANCELLED]
    )
    registrations = Registration.objects.filter(
        session__start__gte=start, session__start__lt=end
    ).exclude(session__status__in=[Session.Status.DRAFT, Session.Status.CANCELLED])
    counts = registrations.aggregate(
        signups=Count("pk", filter=~Q(status="afgemeld")),
        present=Count("pk", filter=Q(attended=True)),
        marked=Count("pk", filter=Q(attended__isnull=False)),
        waiting=Count("pk", filter=Q(status="wachtlijst") | Q(promoted_at__isnull=False)),
    )
    return {
        "by_status": [
            (label, by_status.get(value, 0)) for value, label in Coalition.Status.choices
        ],
        **places,
        "sessions_held": held.count(),
        "signups": counts["signups"],
        "attendance": round(100 * counts["present"] / counts["marked"]) if counts["marked"] else 0,
        "waiting": counts["waiting"],
        "outputs": Output.objects.filter(created_at__gte=start, created_at__lt=end).count(),
    }


def compared(year: str) -> dict:
    """This year's figures beside the year before: rows of (label, this year, year before)."""
    now, before = figures(year), figures(previous_year(year))
    return {
        "year": year,
        "previous": previous_year(year),
        "status_rows": [
            (label, count, dict(before["by_status"]).get(label, 0))
            for label, count in now["by_status"]
        ],
        "rows": [(label, now[key], before[key]) for key, label in FIGURE_LABELS.items()],
    }


def bar_chart(rows, *, width: int = 560, bar: int = 14) -> dict:
    """Horizontal bars for (label, this year, year before), drawn on the server: positions
    for the SVG template, the numbers stay in the table beside it."""
    biggest = max([max(a, b) for _label, a, b in rows] + [1])
    label_width, gap = 210, 10
    room = width - label_width - 60
    shapes, y = [], gap
    for label, this, last in rows:
        shapes.append(
            {
                "label": str(label),
                "y": y,
                "label_y": y + bar + 2,
                "this": this,
                "last": last,
                "this_w": max(1, round(room * this / biggest)) if this else 0,
                "last_w": max(1, round(room * last / biggest)) if last else 0,
                "last_y": y + bar + 2,
                "this_text_y": y + bar - 3,
                "last_text_y": y + 2 * bar - 1,
            }
        )
        y += 2 * bar + 2 * gap
    return {
        "width": width,
        "height": y,
        "label_width": label_width,
        "bars_x": label_width,
        "bar": bar,
        "shapes": shapes,
    }


# The network picture ----------------------------------------------------------------------------


def network(year: str, *, size: int = 640) -> dict:
    """Institutions and coalitions of a school year as a network, drawn on the server with a
    deterministic layout: coalitions on an inner circle (by name), institutions on an outer
    circle in the order of the first coalition they take part in, so that who works together
    sits together. Each node links to its page; `connections` is the same as text."""
    coalitions = list(Coalition.objects.filter(school_year=year).order_by("name"))
    links = set(
        RingMembership.objects.active()
        .filter(coalition__in=coalitions)
        .values_list("person__institution_id", "coalition_id")
    ) | set(
        Coalition.leads.through.objects.filter(coalition__in=coalitions).values_list(
            "person__institution_id", "coalition_id"
        )
    )
    institutions = {i.pk: i for i in Institution.objects.filter(pk__in={i for i, _c in links})}
    order = {c.pk: n for n, c in enumerate(coalitions)}
    first = defaultdict(lambda: len(coalitions))
    for institution_id, coalition_id in links:
        first[institution_id] = min(first[institution_id], order[coalition_id])
    placed = sorted(institutions.values(), key=lambda i: (first[i.pk], i.name))
    centre = size / 2
    nodes = {}

    def ring_of(items, radius, kind, url_name):
        for n, item in enumerate(items):
            angle = 2 * math.pi * n / max(len(items), 1) - math.pi / 2
            y = round(centre + radius * math.sin(angle), 1)
            nodes[kind, item.pk] = {
                "x": round(centre + radius * math.cos(angle), 1),
                "y": y,
                "label_y": round(y - 9, 1),
                "label": item.name,
                "url": reverse(url_name, args=[item.pk]),
                "kind": kind,
            }

    ring_of(coalitions, size * 0.22, "coalition", "coalitions:detail")
    ring_of(placed, size * 0.44, "institution", "members:institution_detail")
    edges = [
        (nodes["institution", i], nodes["coalition", c])
        for i, c in sorted(links, key=lambda link: (order[link[1]], link[0]))
    ]
    by_coalition = defaultdict(list)
    for institution_id, coalition_id in links:
        by_coalition[coalition_id].append(institutions[institution_id].name)
    return {
        "size": size,
        "nodes": list(nodes.values()),
        "edges": edges,
        "label_all": len(nodes) <= 60,
        "connections": [(c, sorted(by_coalition.get(c.pk, []))) for c in coalitions],
    }
