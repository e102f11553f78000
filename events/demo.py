"""Demo sessions: joint network sessions through the school year and the annual conference."""

import datetime as dt
import random
import zoneinfo

from django.utils import timezone

from coalitions.models import Coalition, school_year_of
from members.models import Institution

from .models import Session

AMS = zoneinfo.ZoneInfo("Europe/Amsterdam")
HOSTS = [
    "Deltion College",
    "ROC Nijmegen",
    "Albeda",
    "Summa College",
    "Drenthe College",
    "Hoornbeeck College",
]


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=AMS)


def _first_thursday(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 1)
    return day + dt.timedelta(days=(3 - day.weekday()) % 7)


def seed_sessions(*, scale: int = 1, rng: random.Random) -> list[Session]:
    today = timezone.localdate()
    current_first = int(school_year_of(today)[:4])
    hosts = {i.name: i for i in Institution.objects.filter(name__in=HOSTS)}
    sessions = []
    for first in range(current_first - scale, current_first + 1):
        year_label = f"{first}-{first + 1}"
        coalitions = list(Coalition.objects.filter(school_year=year_label))
        plan = [
            ("Jaarconferentie", Session.Kind.CONFERENCE, _first_thursday(first, 10), 9, 30, 16, 30),
            (
                "Netwerkbijeenkomst coalities: aftrap",
                Session.Kind.NETWORK,
                _first_thursday(first, 9) + dt.timedelta(days=14),
                13,
                0,
                16,
                30,
            ),
            (
                "Netwerkbijeenkomst coalities: tussenstand",
                Session.Kind.NETWORK,
                _first_thursday(first, 12),
                9,
                30,
                15,
                30,
            ),
            (
                "Netwerkbijeenkomst coalities: delen en verdiepen",
                Session.Kind.NETWORK,
                _first_thursday(first + 1, 3),
                13,
                0,
                16,
                30,
            ),
            (
                "Netwerkbijeenkomst coalities: oogst",
                Session.Kind.NETWORK,
                _first_thursday(first + 1, 6),
                9,
                30,
                15,
                30,
            ),
        ]
        for n, (title, kind, day, sh, sm, eh, em) in enumerate(plan):
            host = hosts.get(HOSTS[(n + first) % len(HOSTS)])
            session, created = Session.objects.get_or_create(
                title=f"{title} {year_label}",
                defaults={
                    "kind": kind,
                    "description": "Coalities delen hun tussenopbrengsten met elkaar en werken in de eigen coalitie.",
                    "start": _at(day, sh, sm),
                    "end": _at(day, eh, em),
                    "host_institution": host,
                    "address": f"te gast bij {host.name}, {host.city}" if host else "",
                    "capacity": 300 if kind == Session.Kind.CONFERENCE else 120,
                    "signup_deadline": _at(day - dt.timedelta(days=7), 23, 59),
                    "status": Session.Status.PUBLISHED,
                },
            )
            if created and coalitions:
                session.coalitions.add(*coalitions)
            sessions.append(session)
    return sessions
