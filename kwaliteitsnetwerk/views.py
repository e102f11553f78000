from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.views import i18n as i18n_views
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from coalitions import health
from coalitions.models import Coalition
from events.models import Registration, Session
from members import activity
from members.access import bureau_required, is_bureau, person_of
from members.models import Action, Institution, Person


@login_required
def home(request):
    """Overzicht: what is on for this person — the coalitions they lead and take part in, and
    the coming sessions they are invited to (Session.objects.invited), with their sign-up."""
    person = person_of(request)
    led = list(Coalition.objects.led_by(person).order_by("name"))
    member_of = list(
        Coalition.objects.with_member(person).exclude(pk__in=[c.pk for c in led]).order_by("name")
    )
    sessions = list(
        Session.objects.published()
        .upcoming()
        .invited(person)
        .select_related("host_institution")[:5]
    )
    mine = {
        r.session_id: r
        for r in Registration.objects.active().filter(
            person=person, session__in=[s.pk for s in sessions]
        )
    }
    for session in sessions:
        session.my_registration = mine.get(session.pk)
    return render(
        request,
        "home.html",
        {
            "person": person,
            "led_coalitions": led,
            "member_coalitions": member_of,
            "sessions": sessions,
            "is_bureau": is_bureau(request),
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
    """Beheer: the bureau's starting point, with the size of the network."""
    counts = {
        "institutions": Institution.objects.members_on().count(),
        "people": Person.objects.count(),
        "coalitions": Coalition.objects.running().count(),
        "sessions": Session.objects.upcoming().count(),
    }
    rows = health.participation()
    context = {
        "counts": counts,
        "ending": health.coalitions_ending(),
        "thin_cores": health.thin_core_rings(),
        "nowhere": [row for row in rows if row.coalitions == 0],
        "participation": [row for row in rows if row.coalitions > 0],
    }
    return render(request, "bureau_dashboard.html", context)


@require_POST
def set_language(request):
    """The footer's language switch: Django's, and for a logged-in person also the language of
    their account (mails follow it), so the two are one setting."""
    response = i18n_views.set_language(request)
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


@require_GET
@never_cache
def healthz(request):
    """For load balancers and docker-compose: is the database (and the broker) reachable?"""
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

            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {exc.__class__.__name__}"
            healthy = False
    else:
        checks["broker"] = "not configured (tasks run in-process)"
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )
