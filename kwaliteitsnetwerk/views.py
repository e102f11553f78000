import sys

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views import defaults as default_views
from django.views import i18n as i18n_views
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from coalitions.models import Coalition, Theme, school_year_of
from events.models import Registration, Session
from events.services import with_waitlist_positions
from members import activity
from members.access import bureau_required, is_bureau, person_of
from members.csvfiles import csv_response, safe_cell
from members.models import Action, Institution, Person

from . import glance, overview, pictures
from .redirects import is_safe_next


@login_required
def home(request):
    """Overzicht: what is on for this person (kwaliteitsnetwerk.overview) — their coalitions
    and ring with its agreements, coming sessions with their sign-up in place, invitations not
    answered, open requests, what is new since their last visit; for leads also the requests,
    input and ring health of their coalitions."""
    person = person_of(request)
    context = {"person": person, "is_bureau": is_bureau(request)}
    if person is not None:
        context |= overview.member_overview(person)
        Person.objects.filter(pk=person.pk).update(overview_seen_at=timezone.now())
    return render(request, "home.html", context)


@login_required
def my_registrations(request):
    """Mijn aanmeldingen: every session this person signed up for, coming first, then past."""
    person = person_of(request)
    registrations = (
        with_waitlist_positions(Registration.objects.filter(person=person))
        .exclude(session__status=Session.Status.DRAFT)
        .select_related("session__host_institution")
        .order_by("-session__start", "-queued_at")
        if person is not None
        else Registration.objects.none()
    )
    now = timezone.now()
    registrations = list(registrations[:200])
    # A sign-up cancelled and made again: the current one only.
    active = {r.session_id for r in registrations if not r.is_cancelled}
    registrations = [r for r in registrations if not (r.is_cancelled and r.session_id in active)]
    seen = set()
    registrations = [
        r for r in registrations if not (r.session_id in seen or seen.add(r.session_id))
    ]
    return render(
        request,
        "my_registrations.html",
        {
            "coming": sorted(
                (r for r in registrations if r.session.end >= now), key=lambda r: r.session.start
            ),
            "past": [r for r in registrations if r.session.end < now],
        },
    )


ACTIVITY_PAGE_SIZE = 50


@bureau_required
def activity_log(request):
    """Logboek: every change made through a service, newest first, filterable by kind of
    change, by person (who did it or whom it was about) and by period."""
    verb = request.GET.get("wat", "")
    query = request.GET.get("wie", "").strip()
    actions = Action.objects.select_related("actor", "person", "target_type")
    verbs = dict(activity.verb_choices())
    if verb in verbs:
        actions = actions.filter(verb=verb)
    elif verb.endswith(".") and any(v.startswith(verb) for v in verbs):
        actions = actions.filter(verb__startswith=verb)
    if query:
        for word in query.split():
            match = (
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email__icontains=word)
            )
            people = Person.objects.filter(match).values("pk")
            actions = actions.filter(Q(actor__in=people) | Q(person__in=people))
    since = parse_date(request.GET.get("van", "") or "")
    until = parse_date(request.GET.get("tot", "") or "")
    if since:
        actions = actions.filter(at__date__gte=since)
    if until:
        actions = actions.filter(at__date__lte=until)
    page = Paginator(actions.order_by("-at", "-pk"), ACTIVITY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    _link_scopes(page)
    context = {
        "page": page,
        "verbs": verbs.items(),
        "verb": verb,
        "query": query,
        "since": since,
        "until": until,
    }
    template = "activity_log.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


# Where an action happened, as a link: the scope names a coalition or a session.
SCOPES = {
    "coalitions.coalition": (Coalition, "name", "coalitions:detail"),
    "events.session": (Session, "title", "events:detail"),
}


def _link_scopes(actions) -> None:
    """Give each action `where` (a name) and `where_url`: one query per kind of scope."""
    wanted: dict[str, set[int]] = {}
    for action in actions:
        kind, _sep, pk = action.scope.partition(":")
        if kind in SCOPES and pk.isdigit():
            wanted.setdefault(kind, set()).add(int(pk))
    names = {
        kind: dict(SCOPES[kind][0].objects.filter(pk__in=pks).values_list("pk", SCOPES[kind][1]))
        for kind, pks in wanted.items()
    }
    for action in actions:
        kind, _sep, pk = action.scope.partition(":")
        action.where = names.get(kind, {}).get(int(pk)) if pk.isdigit() else None
        action.where_url = reverse(SCOPES[kind][2], args=[pk]) if action.where else ""


@bureau_required
def bureau_dashboard(request):
    """Beheer: the bureau's starting point — the signals that need action (each linking to
    where it is solved), the size of the network, and the ways to the overviews."""
    found = glance.signals()
    return render(
        request,
        "bureau_dashboard.html",
        {
            "counts": glance.network_size(),
            "signals": found,
            "signal_count": sum(signal.count for signal in found),
        },
    )


@bureau_required
def bureau_signal(request, key: str):
    """One signal with all its items, where the start page lists the first and says how many
    more there are."""
    found = glance.signal(key)
    if found is None:
        raise Http404
    return render(request, "bureau_signal.html", {"signal": found})


def _year_filters(request) -> tuple[str, list[str]]:
    years = glance.school_years()
    year = request.GET.get("jaar", "")
    return (year if year in years else school_year_of(timezone.localdate())), years


MATRIX_PAGE = 25


@bureau_required
def participation(request):
    """Deelname: institutions × coalitions of a school year, with filters and a CSV export."""
    year, years = _year_filters(request)
    theme_id = request.GET.get("thema", "")
    theme = Theme.objects.filter(pk=theme_id).first() if theme_id.isdigit() else None
    kinds = [k for k in Institution.Kind.choices if k[0] != Institution.Kind.BUREAU]
    kind = request.GET.get("soort", "")
    kind = kind if kind in dict(kinds) else ""
    if request.GET.get("formaat") == "csv":
        table = glance.matrix(year, theme=theme, kind=kind)
        return csv_response(f"deelname-{year}.csv", _matrix_rows(table))

    table = glance.matrix(year, theme=theme, kind=kind)
    # Twenty-five institutions at a time (the CSV has them all): at ten times the network the
    # whole matrix was 260 KB of table.
    page = Paginator(table.institutions, MATRIX_PAGE).get_page(request.GET.get("page"))
    page.object_list = [
        (institution, _matrix_cells(cells), total)
        for institution, cells, total in map(table.row, page.object_list)
    ]
    return render(
        request,
        "glance/participation.html",
        {
            "table": table,
            "page": page,
            "year": year,
            "years": years,
            "themes": Theme.objects.order_by("name"),
            "theme": theme,
            "kinds": kinds,
            "kind": kind,
        },
    )


def _matrix_cells(cells) -> str:
    """A row's cells as HTML, written here rather than in the template: a page has ~2,000
    of them (plain string work, as format_html per cell was most of the page)."""
    none = '<span class="muted" aria-hidden="true">–</span><span class="visually-hidden">{}</span>'
    none = none.format(escape(_("none")))
    return mark_safe(
        "".join(
            "<td>{}</td>".format(
                "<br>".join(f"{escape(ring)}: {count}" for ring, count in cell) if cell else none
            )
            for cell in cells
        )
    )


def _matrix_rows(table):
    yield [_("Institution"), *[c.name for c in table.coalitions], _("Total people")]
    for institution, cells, total in table.rows:
        yield [
            institution.name,
            *[", ".join(f"{ring}: {n}" for ring, n in cell) for cell in cells],
            total,
        ]
    yield [_("Total people"), *table.column_totals, table.total]


@bureau_required
def figures(request):
    """Cijfers: the school year's figures against the year before, as charts drawn on the
    server (SVG) with the numbers in a table beside them."""
    year, years = _year_filters(request)

    data = glance.compared(year)
    return render(
        request,
        "glance/figures.html",
        {
            "data": data,
            "status_chart": pictures.bar_chart(data["status_rows"]),
            "figure_chart": pictures.bar_chart(data["rows"]),
            "year": year,
            "years": years,
        },
    )


@bureau_required
def network_picture(request):
    """Netwerkbeeld: institutions and coalitions of a school year and who works with whom."""
    year, years = _year_filters(request)
    return render(
        request,
        "glance/network.html",
        {"picture": glance.network(year), "year": year, "years": years},
    )


def _bar_chart(sheet, first: int, last: int, title: str):
    """Horizontal bars of rows first..last: the labels in column A, this year (B) beside the
    year before (C), named by the year headings of row 3, with the numbers beside the bars."""
    from openpyxl.chart import BarChart, Reference, Series
    from openpyxl.chart.label import DataLabelList

    chart = BarChart()
    chart.type = "bar"
    chart.title = title
    chart.height, chart.width = 9, 18
    for column in (2, 3):
        values = Reference(sheet, min_col=column, min_row=first, max_row=last)
        chart.series.append(Series(values, title=str(sheet.cell(3, column).value)))
    chart.set_categories(Reference(sheet, min_col=1, min_row=first, max_row=last))
    chart.dataLabels = DataLabelList()
    chart.dataLabels.showVal = True
    chart.x_axis.scaling.orientation = "maxMin"  # the first row on top, as in the table
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    return chart


@bureau_required
def annual_report(request):
    """The year's figures and the participation matrix as an .xlsx workbook for the board's
    annual report."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    year, _years = _year_filters(request)
    data = glance.compared(year)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Figures")[:31]
    sheet.append([_("Figures of the school year %(year)s") % {"year": year}])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([])
    sheet.append(["", year, data["previous"]])
    sheet.append([_("Coalitions by status")])
    status_rows = (sheet.max_row + 1, sheet.max_row + len(data["status_rows"]))
    for row in data["status_rows"]:
        sheet.append([safe_cell(row[0]), row[1], row[2]])
    sheet.append([])
    figure_rows = (sheet.max_row + 1, sheet.max_row + len(data["rows"]))
    for row in data["rows"]:
        sheet.append([safe_cell(row[0]), row[1], row[2]])
    sheet.column_dimensions["A"].width = 40
    # The same charts as the figures page, drawn by the spreadsheet from these cells.
    for (first, last), title, anchor in [
        (status_rows, _("Coalitions by status"), "E3"),
        (figure_rows, _("People, sessions and outputs"), "E22"),
    ]:
        sheet.add_chart(_bar_chart(sheet, first, last, title), anchor)
    matrix_sheet = workbook.create_sheet(_("Participation")[:31])
    for row in _matrix_rows(glance.matrix(year)):
        # Names are written by people (a ring called "=HYPERLINK(…)"): text, never a formula.
        matrix_sheet.append(
            [value if isinstance(value, int) else safe_cell(value) for value in row]
        )
    matrix_sheet.column_dimensions["A"].width = 40
    response = HttpResponse(
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="jaarverslag-{year}.xlsx"'
    workbook.save(response)
    return response


@require_POST
def set_language(request):
    """The footer's language switch: Django's, and for a logged-in person also the language of
    their account (mails follow it), so the two are one setting."""
    response = i18n_views.set_language(request)
    if response.status_code in (301, 302) and not is_safe_next(request, response["Location"]):
        response = redirect("home")  # Django's own check already holds; ours is the one rule
    language = request.POST.get("language", "")
    user = request.user
    if user.is_authenticated and language in dict(settings.LANGUAGES) and user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return response


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says: send them to the icon."""
    return redirect(static("favicon.svg"), permanent=True)


# How long a person (or a client) is asked to wait when the database is gone.
RETRY_AFTER_SECONDS = 30


def database_gone(exc: BaseException | None) -> bool:
    """The database's connection is lost or refused (also when that caused another error)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (OperationalError, InterfaceError)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def server_error(request):
    """handler500. When the database is gone, every request — logged in or not, whichever
    middleware or view met it first — gets the calm page instead: 503 with Retry-After,
    rendered from a template that needs no database (no request context)."""
    if database_gone(sys.exc_info()[1]):
        return unavailable(request)
    return default_views.server_error(request)


def unavailable(request):
    language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    with translation.override(language):
        page = render_to_string("503.html", {"language": language})
    response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@never_cache
def healthz(request):
    """For load balancers and docker-compose: is the database (and the broker) reachable?
    `down` names what is not."""
    checks: dict[str, str] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = f"error: {exc.__class__.__name__}"
        healthy = False
    if settings.REDIS_URL:
        try:
            import redis

            redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
            ).ping()
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {exc.__class__.__name__}"
            healthy = False
    else:
        checks["broker"] = "not configured (tasks run in-process)"
    down = [part for part, state in checks.items() if state.startswith("error")]
    response = JsonResponse(
        {"status": "ok" if healthy else "error", **checks, "down": down},
        status=200 if healthy else 503,
    )
    if not healthy:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@login_required
def bench_reference(request):
    """make bench's reference (only routed with KN_BENCH_REFERENCE=1): a logged-in view with
    the whole middleware stack and the context processors, one query, a small template."""
    return render(
        request,
        "bench_reference.html",
        {"institutions": Institution.objects.filter(pk=person_of(request).institution_id)},
    )
