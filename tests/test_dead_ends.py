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


def test_kern_candidates_are_chosen_on_the_candidates_page_only(client, lead, member):
    import pytest

    from coalitions import services as coalition_services
    from coalitions.models import Coalition

    coalition = lead.led_coalitions.get()
    Coalition.objects.filter(pk=coalition.pk).update(status=Coalition.Status.RECRUITING)
    kern = coalition.rings.get(order=1)
    request = coalition_services.join_ring(member, kern, motivation="Graag")
    login(client, lead)
    board = client.get(reverse("coalitions:board", args=[coalition.pk])).content.decode()
    assert reverse("coalitions:candidates", args=[coalition.pk]) in board
    assert reverse("coalitions:request_accept", args=[request.pk]) not in board
    candidates = client.get(reverse("coalitions:candidates", args=[coalition.pk]))
    assert member.full_name in candidates.content.decode()
    with pytest.raises(coalition_services.MembershipError):
        coalition_services.accept_request(request, by=lead)
    request.refresh_from_db()
    assert request.status == "aangevraagd"


def test_after_the_launch_requests_are_answered_on_the_ring_board(client, lead, member):
    from coalitions import services as coalition_services

    coalition = lead.led_coalitions.get()
    request = coalition_services.join_ring(member, coalition.rings.get(order=1), motivation="Ja")
    board = login(client, lead).get(reverse("coalitions:board", args=[coalition.pk]))
    assert reverse("coalitions:request_accept", args=[request.pk]) in board.content.decode()
