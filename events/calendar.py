"""iCalendar files: one per session, and a person's own feed. Built with icalendar."""

import zoneinfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
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


def session_event(session: Session) -> Event:
    event = Event()
    # A stable UID: the same event in every file and feed, so calendars update instead of duplicating.
    event.add("uid", f"{session.uid}@kwaliteitsnetwerk")
    event.add("sequence", session.sequence)
    event.add("dtstamp", timezone.now())
    event.add("last-modified", session.updated_at)
    event.add("dtstart", timezone.localtime(session.start, AMSTERDAM))
    event.add("dtend", timezone.localtime(session.end, AMSTERDAM))
    event.add("summary", session.title)
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
    event.add("description", f"{session.description}\n\n{url}".strip())
    event.add("status", "CANCELLED" if session.is_cancelled else "CONFIRMED")
    return event


def session_ics(session: Session) -> bytes:
    cancelled = session.is_cancelled
    calendar = _calendar("CANCEL" if cancelled else "PUBLISH")
    calendar.add_component(session_event(session))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def feed_ics(person) -> bytes:
    """The person's sessions: what they signed up for (also cancelled sessions, shown as such)."""
    calendar = _calendar()
    calendar.add("x-wr-calname", "Kwaliteitsnetwerk mbo")
    sessions = (
        Session.objects.filter(
            pk__in=Registration.objects.active().filter(person=person).values("session")
        )
        .exclude(status=Session.Status.DRAFT)
        .select_related("host_institution")
        .order_by("start")
    )
    for session in sessions:
        calendar.add_component(session_event(session))
    calendar.add_missing_timezones()
    return calendar.to_ical()
