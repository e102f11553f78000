"""The network at a glance, for the bureau and the board: the signals that need action, who
takes part where (the participation matrix), the figures of a school year against the year
before, and the network of institutions and coalitions. Each a fixed number of queries,
whatever the size of the network; each built on the rules' own predicates."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, Func, OuterRef, Q, Subquery, Value, Window
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from coalitions import health
from coalitions.models import (
    Coalition,
    Output,
    Ring,
    RingMembership,
    RingQuerySet,
    school_year_of,
    taking_part,
    taking_part_rows,
)
from events.models import Registration, Session
from events.services import keep_missing, people_invited
from members.models import Institution, Person

from . import pictures

REQUEST_WAITS = dt.timedelta(days=7)
FILLING = 0.8  # a session is filling up from 80% of its places
DEADLINE_SOON = dt.timedelta(days=7)
FEW_ANSWERS = 0.25
SHOWN = 15  # the items a signal lists; the others are counted ("and 12 more")
REQUESTS_COUNTED = 50  # the waiting requests are counted up to fifty, as they always were


@dataclass
class Signal:
    key: str
    title: str
    solve: str  # what to do, in a few words
    items: list = field(default_factory=list)  # the first SHOWN: (label, url, detail)
    count: int = 0  # all items, the listed ones and the others

    @property
    def more(self) -> int:
        return self.count - len(self.items)


def network_size() -> dict:
    """The size of the network on the bureau's start page: four counts in one query."""
    counted = {
        "institutions": Institution.objects.members_on(),
        "people": Person.objects.all(),
        "coalitions": Coalition.objects.running(),
        "sessions": Session.objects.upcoming(),
    }
    counts = [
        queryset.order_by()
        .annotate(what=Value(name), n=Func(F("pk"), function="COUNT"))
        .values_list("what", "n")
        for name, queryset in counted.items()
    ]
    return dict(counts[0].union(*counts[1:], all=True).order_by())


def signals(today: dt.date | None = None, *, limit: int | None = SHOWN) -> list[Signal]:
    """Everything that asks for the bureau's action now, each item linking to where it is
    solved. A signal disappears as soon as its condition no longer holds. Each signal is one
    query that lists its first `limit` items (all with None: the signal's own page) and counts
    them all; people who keep missing their ring's sessions take a few more (the commitment
    rule)."""
    return [_signal(key, today, limit) for key in SIGNALS]


def signal(key: str, today: dt.date | None = None) -> Signal | None:
    """One signal with all its items (its own page, where the start page says "and 12 more"),
    or None for a key that is not a signal."""
    return _signal(key, today, None) if key in SIGNALS else None


def _signal(key: str, today: dt.date | None, limit: int | None) -> Signal:
    now = timezone.now()
    return SIGNALS[key](today or timezone.localdate(), now, limit)


def _first(rows, limit: int | None = SHOWN) -> tuple[list, int]:
    """The first `limit` rows of a query (all with None) and how many it has in all, in one
    query: the count is a window over the whole result, taken before the LIMIT."""
    found = list(rows.annotate(rows_in_all=Window(Count("*")))[:limit])
    return found, (found[0].rows_in_all if found else 0)


def _ending(today: dt.date, now: dt.datetime, limit: int | None) -> Signal:
    signal = Signal(
        "ending",
        _("Coalitions near or past their planned end"),
        _("plan the evaluation and the output, or extend"),
    )
    coalitions, signal.count = _first(health.coalitions_ending(today), limit)
    for c in coalitions:
        late = c.planned_end < today
        signal.items.append(
            (
                c.name,
                reverse("coalitions:detail", args=[c.pk]),
                (_("ended on %(date)s") if late else _("ends on %(date)s"))
                % {"date": c.planned_end.strftime("%d-%m-%Y")},
            )
        )
    return signal


def _rings(today: dt.date, now: dt.datetime, limit: int | None) -> Signal:
    signal = Signal(
        "rings", _("Core rings below their minimum or full with people waiting"), _("ring board")
    )
    # Waiting: a request to join the ring, or a member of another ring asking to move into it.
    waiting = RingMembership.objects.waiting().filter(
        Q(ring=OuterRef("pk"), requested_ring__isnull=True) | Q(requested_ring=OuterRef("pk"))
    )
    rings, signal.count = _first(
        Ring.objects.core()
        .with_counts()
        .filter(coalition__in=Coalition.objects.running())
        .annotate(has_waiting=Exists(waiting))
        # Ring.below_minimum, or Ring.is_full with someone waiting (the rings' own rules).
        .filter(RingQuerySet.BELOW_MINIMUM | (RingQuerySet.FULL & Q(has_waiting=True)))
        .select_related("coalition")
        .order_by("coalition__name"),
        limit,
    )
    for ring in rings:
        if ring.below_minimum:
            detail = _("%(count)s of at least %(minimum)s") % {
                "count": ring.active_count,
                "minimum": ring.minimum_size,
            }
        else:
            detail = _("full, with requests waiting")
        signal.items.append(
            (ring.coalition.name, reverse("coalitions:board", args=[ring.coalition_id]), detail)
        )
    return signal


def _old_requests(today: dt.date, now: dt.datetime, limit: int | None) -> Signal:
    signal = Signal("requests", _("Ring requests unanswered for more than a week"), _("ring board"))
    requests, count = _first(
        RingMembership.objects.waiting()
        .filter(coalition__in=Coalition.objects.running())
        .filter(
            Q(requested_ring__isnull=True, created_at__lt=now - REQUEST_WAITS)
            | Q(requested_ring__isnull=False, requested_at__lt=now - REQUEST_WAITS)
        )
        .select_related("person", "coalition", "ring", "requested_ring")
        .order_by("created_at"),
        REQUESTS_COUNTED if limit is None else limit,
    )
    signal.count = min(count, REQUESTS_COUNTED)
    for m in requests:
        since = m.requested_at if m.asks_to_move else m.created_at
        signal.items.append(
            (
                f"{m.person.full_name} → {(m.requested_ring or m.ring).name} ({m.coalition.name})",
                reverse("coalitions:board", args=[m.coalition_id]),
                _("since %(date)s") % {"date": timezone.localtime(since).strftime("%d-%m-%Y")},
            )
        )
    return signal


def _filling(today: dt.date, now: dt.datetime, limit: int | None) -> Signal:
    signal = Signal("filling", _("Sessions filling up or with a waiting list"), _("registrations"))
    sessions, signal.count = _first(
        Session.objects.published()
        .filter(start__gt=now)
        .with_places()
        .filter(
            Q(waiting_count__gt=0)
            | Q(capacity__isnull=False, confirmed_count__gte=F("capacity") * FILLING)
        )
        .order_by("start"),
        limit,
    )
    for s in sessions:
        detail = _("%(confirmed)s of %(capacity)s places") % {
            "confirmed": s.confirmed_count,
            "capacity": s.capacity or "∞",
        }
        if s.waiting_count:
            detail += ", " + _("%(count)s waiting") % {"count": s.waiting_count}
        signal.items.append((s.title, reverse("events:registrations", args=[s.pk]), detail))
    return signal


def _few_answers(today: dt.date, now: dt.datetime, limit: int | None) -> Signal:
    signal = Signal(
        "answers",
        _("Invitations with few answers close to the deadline"),
        _("send a reminder or ask the leads"),
    )
    # Only the sessions whose deadline is in the coming week, mostly none: the counts below
    # are asked only for them (the invitation rule is a large query to build).
    soon = list(
        Session.objects.published()
        .filter(signup_deadline__gt=now, signup_deadline__lte=now + DEADLINE_SOON)
        .values_list("pk", flat=True)
    )
    if not soon:
        return signal
    # How many people the session invites (events.services.people_invited, counted inside
    # the query): one query for all sessions.
    invited_people = people_invited(OuterRef("pk")).order_by()
    # Of those, who answered: signed up, on the waiting list, or cancelled (a "no").
    answered_people = invited_people.filter(
        Exists(Registration.objects.filter(session=OuterRef(OuterRef("pk")), person=OuterRef("pk")))
    )

    def counted(people):
        return Subquery(people.annotate(n=Func(F("pk"), function="COUNT")).values("n"))

    quiet = [
        s
        for s in Session.objects.filter(pk__in=soon)
        .annotate(invited=counted(invited_people), answered=counted(answered_people))
        .order_by("signup_deadline")
        if s.invited and s.answered < s.invited * FEW_ANSWERS
    ]
    signal.count = len(quiet)
    for s in quiet[:limit]:
        signal.items.append(
            (
                s.title,
                reverse("events:detail", args=[s.pk]),
                _("%(answered)s of %(invited)s answered")
                % {"answered": s.answered, "invited": s.invited},
            )
        )
    return signal


def _nowhere(today: dt.date, now: dt.datetime, limit: int | None) -> Signal:
    signal = Signal(
        "nowhere",
        _("Member institutions in no coalition this school year"),
        _("invite them to a coalition"),
    )
    this_year = Coalition.objects.filter(school_year=school_year_of(today))
    institutions, signal.count = _first(
        Institution.objects.members_on()
        .exclude(taking_part(person__institution=OuterRef("pk"), coalition__in=this_year))
        .order_by("name"),
        limit,
    )
    for institution in institutions:
        signal.items.append(
            (
                institution.name,
                reverse("members:institution_detail", args=[institution.pk]),
                "",
            )
        )
    return signal


def _missing(today: dt.date, now: dt.datetime, limit: int | None) -> Signal:
    signal = Signal(
        "missing",
        _("People who keep missing what their ring agreed"),
        _("the lead talks with them"),
    )
    # The commitment rule's own list (events.services.keep_missing), as the nudge reads it.
    listed = keep_missing(now, today=today)
    signal.count = len(listed)
    for m, kept in listed[:limit]:
        signal.items.append(
            (
                f"{m.person.full_name} ({m.coalition.name}, {m.ring.name})",
                reverse("coalitions:board", args=[m.coalition_id]),
                _("missed the last %(count)s") % {"count": kept.missed_in_a_row},
            )
        )
    return signal


# The signals in the order the start page shows them, by the key their page is named by.
SIGNALS = {
    "ending": _ending,
    "rings": _rings,
    "requests": _old_requests,
    "filling": _filling,
    "answers": _few_answers,
    "nowhere": _nowhere,
    "missing": _missing,
}


# The participation matrix ---------------------------------------------------------------------


@dataclass
class Matrix:
    coalitions: list
    institutions: list  # every institution taking part, by name
    column_totals: list
    total: int
    cells: dict  # (institution id, coalition id) → ring name → people
    people_of: dict  # institution id → its people taking part

    def row(self, institution) -> tuple:
        """(institution, [cell per coalition: sorted (ring, how many)], total people)."""
        cells = []
        for coalition in self.coalitions:
            rings = self.cells.get((institution.pk, coalition.pk), {})
            cells.append(sorted((name, len(people)) for name, people in rings.items()))
        return institution, cells, len(self.people_of[institution.pk])

    @property
    def rows(self) -> list:
        return [self.row(institution) for institution in self.institutions]


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
    # Who takes part (the rule's own rows), without the memberships' own ordering (ring,
    # surname): a sort the matrix does not need.
    places, leads = taking_part_rows(coalition__in=coalitions)
    places = places.order_by()
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
    return Matrix(
        coalitions=coalitions,
        institutions=list(Institution.objects.filter(pk__in=people_of).order_by("name")),
        column_totals=[len(coalition_people[c.pk]) for c in coalitions],
        total=len(set().union(*people_of.values())) if people_of else 0,
        cells=cells,
        people_of=people_of,
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
        signups=Count("pk", filter=~Q(status=Registration.Status.CANCELLED)),
        present=Count("pk", filter=Q(attended=True)),
        marked=Count("pk", filter=Q(attended__isnull=False)),
        waiting=Count(
            "pk", filter=Q(status=Registration.Status.WAITLISTED) | Q(promoted_at__isnull=False)
        ),
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
        # An output belongs to the year of its coalition, whenever it was posted.
        "outputs": Output.objects.filter(coalition__school_year=year).count(),
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


# The network picture ----------------------------------------------------------------------------


def network(year: str) -> dict:
    """Institutions and coalitions of a school year as a network, drawn on the server with a
    deterministic circular layout (`pictures.circle`): each coalition followed by the
    institutions that first take part in it, so that who works together sits together. Each
    node links to its page; `connections` is the same as a table."""
    coalitions = list(Coalition.objects.filter(school_year=year).order_by("name"))
    places, leads = taking_part_rows(coalition__in=coalitions)
    links = {
        link
        for rows in (places.order_by(), leads)
        for link in rows.values_list("person__institution_id", "coalition_id")
    }
    institutions = {i.pk: i for i in Institution.objects.filter(pk__in={i for i, _c in links})}
    picture = pictures.circle(coalitions, list(institutions.values()), links)
    for node in picture["nodes"]:
        url_name = (
            "coalitions:detail" if node["kind"] == "coalition" else "members:institution_detail"
        )
        node["url"] = reverse(url_name, args=[node["item"].pk])
    by_coalition = defaultdict(list)
    for institution_id, coalition_id in links:
        by_coalition[coalition_id].append(institutions[institution_id].name)
    return picture | {
        "connections": [(c, sorted(by_coalition.get(c.pk, []))) for c in coalitions],
    }
