from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from coalitions import health
from coalitions.models import Coalition
from events.models import Session
from members.access import bureau_required, is_bureau, person_of
from members.models import Institution, Person


@login_required
def home(request):
    """Overzicht: what is on for this person."""
    person = person_of(request)
    led = Coalition.objects.led_by(person).order_by("name")
    sessions = Session.objects.published().upcoming().select_related("host_institution")[:5]
    return render(
        request,
        "home.html",
        {
            "person": person,
            "led_coalitions": led,
            "sessions": sessions,
            "is_bureau": is_bureau(request),
        },
    )


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
