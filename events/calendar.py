"""iCalendar files: one per session, and a person's own feed. Built with icalendar."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from .models import Registration, Session

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
PRODID = "-//Kwaliteitsnetwerk mbo//Bijeenkomsten//NL"


def _calendar(method: str = "PUBLISH") -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add("x-wr-timezone", "Europe/Amsterdam")
    return calendar


def session_event(session: Session, registration: Registration | None = None) -> Event:
    """The session as a calendar event; for someone's own registration it tells their state: on
    the waiting list it is tentative (and says so), moved up it is confirmed with a higher
    SEQUENCE, so their calendar updates the event it already holds."""
    waiting = registration is not None and registration.is_waitlisted
    event = Event()
    # A stable UID: the same event in every file and feed, so calendars update instead of duplicating.
    event.add("uid", f"{session.uid}@kwaliteitsnetwerk")
    moved_up = registration is not None and registration.promoted_at is not None
    event.add("sequence", session.sequence + (1 if moved_up else 0))
    event.add("dtstamp", timezone.now())
    event.add("last-modified", session.updated_at)
    event.add("dtstart", timezone.localtime(session.start, AMSTERDAM))
    event.add("dtend", timezone.localtime(session.end, AMSTERDAM))
    event.add(
        "summary",
        _("%(title)s (waiting list)") % {"title": session.title} if waiting else session.title,
    )
    where = ", ".join(
        part
        for part in (
            session.host_institution.name if session.host_institution else "",
            session.address,
            session.room,
        )
        if part
    )
    if where:
        event.add("location", where)
    url = settings.SITE_URL + reverse("events:detail", args=[session.pk])
    event.add("url", url)
    note = (
        _("You are on the waiting list; we tell you when a place becomes free.") if waiting else ""
    )
    event.add("description", "\n\n".join(p for p in (note, session.description, url) if p))
    if session.is_cancelled:
        event.add("status", "CANCELLED")
    else:
        event.add("status", "TENTATIVE" if waiting else "CONFIRMED")
    return event


def _years_around(start, end) -> dict:
    """The VTIMEZONE covers the years of the events, not 1970–2038 (which costs milliseconds
    and kilobytes per file)."""
    return {
        "first_date": dt.date(start.year - 1, 1, 1),
        "last_date": dt.date(end.year + 2, 1, 1),
    }


def session_ics(session: Session, registration: Registration | None = None) -> bytes:
    cancelled = session.is_cancelled
    calendar = _calendar("CANCEL" if cancelled else "PUBLISH")
    calendar.add_component(session_event(session, registration))
    calendar.add_missing_timezones(**_years_around(session.start, session.end))
    return calendar.to_ical()


def session_ics_cached(session: Session, registration: Registration | None, cache: dict) -> str:
    """session_ics for many people at once (a reminder, a change): the file differs only by
    whether their place is waiting or moved up, so it is built once per kind of place."""
    key = (
        session.pk,
        registration is not None and registration.is_waitlisted,
        registration is not None and registration.promoted_at is not None,
    )
    if key not in cache:
        cache[key] = session_ics(session, registration).decode()
    return cache[key]


def feed_ics(person) -> bytes:
    """The person's sessions: what they signed up for (also cancelled sessions, shown as such)."""
    calendar = _calendar()
    calendar.add("x-wr-calname", "Kwaliteitsnetwerk mbo")
    registrations = (
        Registration.objects.active()
        .filter(person=person)
        .exclude(session__status=Session.Status.DRAFT)
        .select_related("session__host_institution")
        .order_by("session__start")
    )
    registrations = list(registrations)
    for registration in registrations:
        calendar.add_component(session_event(registration.session, registration))
    if registrations:
        calendar.add_missing_timezones(
            **_years_around(registrations[0].session.start, registrations[-1].session.end)
        )
    return calendar.to_ical()
