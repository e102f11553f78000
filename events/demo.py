"""Demo sessions: joint network sessions through the school year with a programme built from the
coalitions taking part, coalition meetings, sign-ups and (for past sessions) attendance."""

import datetime as dt
import random
import zoneinfo

from django.utils import timezone

from coalitions.models import Coalition, RingMembership, school_year_of
from members.models import Institution, Person

from . import services
from .models import Presentation, Registration, Session, SessionPart, ring_invitations

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


def _programme(
    session: Session, coalitions: list[Coalition], rng: random.Random, index: int
) -> None:
    """Plenary, the coalitions' own parts (core only, or core and flexible ring), exchange."""
    start, end = session.start, session.end
    middle = start + (end - start) / 3
    late = start + (end - start) * 2 / 3
    SessionPart.objects.create(
        session=session,
        kind=SessionPart.Kind.PLENARY,
        title="Opening en plenair deel",
        start=start,
        end=middle,
        room="Aula",
    )
    parts = services.add_coalitions(session, coalitions, by=None)
    for n, part in enumerate(parts):
        part.start, part.end = middle, late
        part.room = f"Lokaal {n + 1:02d}"
        part.capacity = 25
        part.save(update_fields=["start", "end", "room", "capacity"])
        if index % 2 == 1:  # every other session the flexible ring is invited too
            part.invited_rings.add(*part.coalition.rings.filter(order=2))
    SessionPart.objects.create(
        session=session,
        kind=SessionPart.Kind.EXCHANGE,
        title="Markt: coalities delen hun opbrengsten",
        start=late,
        end=end,
        room="Aula",
    )


def _sign_up(session: Session, rng: random.Random, *, past: bool) -> None:
    """Members of the invited rings sign up through the same service; past sessions get attendance."""
    if session.registrations.exists():
        return
    work_parts = list(
        session.parts.filter(kind=SessionPart.Kind.WORK).prefetch_related("invited_rings")
    )
    open_parts = list(session.parts.exclude(kind=SessionPart.Kind.WORK))
    seen: set[int] = set()
    if not work_parts:
        # A conference or a coalition meeting: the people of the coalitions taking part.
        for membership in (
            RingMembership.objects.active()
            .filter(coalition__in=session.coalitions.all())
            .select_related("person")
            .order_by("pk")
        ):
            if rng.random() < 0.5 and membership.person_id not in seen:
                seen.add(membership.person_id)
                try:
                    registration = _register_any_time(
                        membership.person, session, parts=open_parts, past=past
                    )
                except services.RegistrationError:
                    continue
                if past:
                    services.mark_attendance(registration, attended=rng.random() < 0.85, by=None)
    for part in work_parts:
        members = (
            RingMembership.objects.active()
            .filter(ring__in=part.invited_rings.all())
            .select_related("person")
        )
        for membership in members:
            if rng.random() < 0.7 and membership.person_id not in seen:
                seen.add(membership.person_id)
                person = membership.person
                try:
                    registration = _register_any_time(
                        person, session, parts=[*open_parts, part], past=past
                    )
                except services.RegistrationError:
                    continue
                if past:
                    services.mark_attendance(registration, attended=rng.random() < 0.85, by=None)


def _register_any_time(person: Person, session: Session, *, parts, past: bool) -> Registration:
    if not past:
        return services.register(person, session, parts=parts)
    # History: sign-up happened before the session; the rules checked then are the same.
    registration = Registration.objects.create(
        person=person,
        session=session,
        status=Registration.Status.CONFIRMED,
        queued_at=session.start - dt.timedelta(days=14),
    )
    for part in parts:
        registration.choices.create(part=part, status=Registration.Status.CONFIRMED)
    return registration


def seed_sessions(*, scale: int = 1, rng: random.Random) -> list[Session]:
    today = timezone.localdate()
    current_first = int(school_year_of(today)[:4])
    hosts = {i.name: i for i in Institution.objects.filter(name__in=HOSTS)}
    sessions = []
    for first in range(current_first - scale, current_first + 1):
        year_label = f"{first}-{first + 1}"
        coalitions = list(
            Coalition.objects.filter(school_year=year_label).order_by("name")[: 12 * scale]
        )
        plan = [
            (
                "Netwerkbijeenkomst coalities: aftrap",
                Session.Kind.NETWORK,
                _first_thursday(first, 9) + dt.timedelta(days=14),
                13,
                0,
                16,
                30,
            ),
            ("Jaarconferentie", Session.Kind.CONFERENCE, _first_thursday(first, 10), 9, 30, 16, 30),
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
            start, end = _at(day, sh, sm), _at(day, eh, em)
            past = end < timezone.now()
            session, created = Session.objects.get_or_create(
                title=f"{title} {year_label}",
                defaults={
                    "kind": kind,
                    "description": "Coalities delen hun tussenopbrengsten met elkaar en werken in de eigen coalitie: "
                    "de ene keer met de vaste kern, de andere keer met de bredere flexibele ring.",
                    "start": start,
                    "end": end,
                    "host_institution": host,
                    "address": host.city if host else "",
                    "capacity": 300 if kind == Session.Kind.CONFERENCE else 150,
                    "signup_deadline": _at(day - dt.timedelta(days=7), 23, 59),
                    "status": Session.Status.PUBLISHED,
                },
            )
            if created:
                if kind == Session.Kind.NETWORK and coalitions:
                    _programme(session, coalitions, rng, n)
                elif coalitions:
                    session.coalitions.add(*coalitions)
                if past or session.signup_deadline > timezone.now():
                    _sign_up(session, rng, past=past)
            sessions.append(session)
    # A coalition meeting of the demo lead's coalition, small and nearly full, for the waiting list.
    peer = Coalition.objects.filter(name="Peer review in teams").first()
    if peer is not None:
        day = today + dt.timedelta(days=9)
        meeting, created = Session.objects.get_or_create(
            title="Coalitiebijeenkomst Peer review in teams",
            defaults={
                "kind": Session.Kind.COALITION,
                "organiser_coalition": peer,
                "description": "Werksessie van de kern en de flexibele ring: we testen de eerste versie van het draaiboek.",
                "start": _at(day, 13, 30),
                "end": _at(day, 16, 0),
                "form": Session.Form.HYBRID,
                "online_link": "https://meet.example/peer-review",
                "host_institution": hosts.get("Deltion College"),
                "address": "Mondriaanlaan 4, Zwolle",
                "room": "B2.14",
                "capacity": 12,
                # Two days from now: the invited who have not answered get the nudge.
                "signup_deadline": _at(today + dt.timedelta(days=2), 17, 0),
                "status": Session.Status.PUBLISHED,
            },
        )
        if created:
            meeting.coalitions.add(peer)
            _sign_up_some(meeting, rng, 8)
        sessions.append(meeting)
    sessions += _this_week(today, hosts, rng)
    # The harvest: the last conference presented the outputs of the year before it.
    conference = (
        Session.objects.filter(kind=Session.Kind.CONFERENCE, start__lt=timezone.now())
        .order_by("-start")
        .first()
    )
    if conference is not None and not conference.presentations.exists():
        Presentation.objects.bulk_create(
            [
                Presentation(session=conference, output=output)
                for output in services.presentable_outputs(conference)[:8]
            ],
            ignore_conflicts=True,
        )
    return sessions


def _sign_up_some(session: Session, rng: random.Random, count: int) -> None:
    """A few of the coalition's people without a login sign up (the demo logins stay unanswered,
    so they see the sign-up and get the nudge)."""
    memberships = list(
        RingMembership.objects.active()
        .filter(coalition__in=session.coalitions.all(), person__user__isnull=True)
        .select_related("person")
        .order_by("pk")
    )
    for membership in rng.sample(memberships, min(count, len(memberships))):
        services.register(membership.person, session)


def _this_week(today: dt.date, hosts: dict, rng: random.Random) -> list[Session]:
    """What makes the first day of the demo show everything: two meetings of the demo lead's
    coalition already held with attendance (the ring board's history, its agreements and the
    nudge for who missed both), and a network session tomorrow whose sign-ups were made weeks
    ago (so the reminder goes out with the first sweep)."""
    peer = Coalition.objects.filter(name="Peer review in teams").first()
    sessions = []
    if peer is not None:
        for weeks, title in [(5, "eerste werksessie"), (2, "tweede werksessie")]:
            day = today - dt.timedelta(weeks=weeks)
            held, created = Session.objects.get_or_create(
                title=f"Coalitiebijeenkomst Peer review in teams: {title}",
                defaults={
                    "kind": Session.Kind.COALITION,
                    "organiser_coalition": peer,
                    "description": "Werksessie van de kern en de flexibele ring.",
                    "start": _at(day, 13, 30),
                    "end": _at(day, 16, 0),
                    "host_institution": hosts.get("Deltion College"),
                    "address": "Mondriaanlaan 4, Zwolle",
                    "capacity": 40,
                    "signup_deadline": _at(day - dt.timedelta(days=2), 17, 0),
                    "status": Session.Status.PUBLISHED,
                },
            )
            if created:
                held.coalitions.add(peer)
                _sign_up(held, rng, past=True)
            sessions.append(held)
        _one_missed_the_last_two(peer)
    coalitions = list(
        Coalition.objects.filter(school_year=school_year_of(today), status="actief").order_by(
            "name"
        )[:6]
    )
    day = today + dt.timedelta(days=1)
    tomorrow, created = Session.objects.get_or_create(
        title="Netwerkbijeenkomst coalities: werkatelier",
        defaults={
            "kind": Session.Kind.NETWORK,
            "description": "Coalities werken aan hun opbrengst en laten elkaar de eerste versies zien.",
            "start": _at(day, 9, 30),
            "end": _at(day, 15, 30),
            "host_institution": hosts.get("Albeda"),
            "address": hosts["Albeda"].city if hosts.get("Albeda") else "",
            "capacity": 150,
            "signup_deadline": _at(today, 23, 59),
            "status": Session.Status.PUBLISHED,
        },
    )
    if created and coalitions:
        _programme(tomorrow, coalitions, rng, 0)
        _sign_up(tomorrow, rng, past=False)
        # They signed up weeks ago (the demo is made today): the reminder is due.
        tomorrow.registrations.update(queued_at=timezone.now() - dt.timedelta(days=21))
    sessions.append(tomorrow)
    return sessions


def _one_missed_the_last_two(coalition: Coalition) -> None:
    """One person of the Kern came to everything but the last two meetings their ring was
    invited to: the ring board flags them and the ring-agreement nudge goes out."""
    kern = coalition.rings.filter(order=1).first()
    if kern is None or not kern.sessions_expected:
        return
    held = list(
        services.held_sessions().filter(
            pk__in=ring_invitations([kern], services.held_sessions())[kern.pk]
        )
    )
    if len(held) < 3:
        return
    member = (
        kern.memberships.active()
        .exclude(person__in=coalition.leads.all())
        .exclude(person__user__isnull=False)
        .order_by("pk")
        .first()
    )
    if member is None:
        return
    *before, last_but_one, last = held
    for session in before:
        registration = session.registrations.filter(person=member.person).first()
        if registration is None:
            registration = _register_any_time(member.person, session, parts=[], past=True)
        registration.attended, registration.checked_in_at = True, session.start
        registration.save(update_fields=["attended", "checked_in_at"])
    for session in (last_but_one, last):
        session.registrations.filter(person=member.person).update(
            attended=False, checked_in_at=None
        )
