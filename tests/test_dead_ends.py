"""No dead ends: every step lands where the next one is."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from events.models import SessionPart
from tests.conftest import login
from tests.events.conftest import make_session


def test_the_session_page_lists_the_programme_in_time_order(client, member, db):
    session = make_session()
    day = timezone.localtime(session.start).replace(hour=9, minute=30)
    for title, hour, minute in [("Werken in de coalitie", 10, 30), ("Markt", 13, 0)]:
        SessionPart.objects.create(
            session=session,
            kind="uitwisseling",
            title=title,
            start=day.replace(hour=hour, minute=minute),
            end=day.replace(hour=hour + 2, minute=minute),
        )
    SessionPart.objects.create(  # made last, first in time
        session=session, kind="plenair", title="Opening", start=day, end=day + dt.timedelta(hours=1)
    )
    for url in (reverse("events:detail", args=[session.pk]),):
        body = login(client, member).get(url).content.decode()
        table = body[body.index('id="programme-heading"') :]
        assert table.index("Opening") < table.index("Werken in de coalitie") < table.index("Markt")


def test_saving_a_session_lands_on_the_session_page(client, bureau, db):
    session = make_session()
    response = login(client, bureau).post(
        reverse("events:edit", args=[session.pk]),
        {
            "title": "Nieuwe titel",
            "kind": session.kind,
            "form": "fysiek",
            "start": timezone.localtime(session.start).strftime("%Y-%m-%dT%H:%M"),
            "end": timezone.localtime(session.end).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("events:detail", args=[session.pk])
