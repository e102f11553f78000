"""The places of a session update for everyone looking at it: the session page polls a small
fragment (the places taken and waiting, the session's and each part's), read politely by a
screen reader. The fragment is cheap, so a thousand open pages do not cost the sign-up burst."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from events import services
from events.models import SessionPart
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import make_person


def places_url(session):
    return reverse("events:places", args=[session.pk])


@pytest.fixture
def full_ish(institution):
    session = make_session(capacity=2)
    part = SessionPart.objects.create(
        session=session,
        title="Plenair",
        start=session.start,
        end=session.start + dt.timedelta(hours=1),
        capacity=1,
    )
    for n in range(3):
        services.register(make_person("Veel", f"Mensen{n}", institution), session, parts=[part])
    return session, part


def test_it_shows_the_places_taken_and_waiting_of_the_session_and_its_parts(
    client, member, full_ish
):
    session, part = full_ish
    login(client, member)
    response = client.get(places_url(session), headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert "2 van 2 plaatsen bezet, 1 op de wachtlijst" in body
    # Each part's cell is swapped out of band.
    assert re.search(rf'id="part-places-{part.pk}"[^>]*data-hx-swap-oob="true"', body)
    assert "1 van 1 plaatsen bezet (+2 wachtend)" in body


def test_the_session_page_polls_the_places_politely(client, member, full_ish):
    session, part = full_ish
    login(client, member)
    body = client.get(reverse("events:detail", args=[session.pk])).content.decode()
    # The live region stays; what polls (and is swapped) is inside it.
    assert '<span id="places" aria-live="polite"><span id="places-now"' in body
    span = re.search(r'<span id="places-now"[^>]*>', body).group(0)
    assert f'data-hx-get="{places_url(session)}"' in span
    assert 'data-hx-trigger="every 15s"' in span
    assert 'data-hx-swap="outerHTML"' in span
    assert """data-hx-vals='{"seen": "2-1"}'""" in span  # what the page shows
    assert f'id="part-places-{part.pk}"' in body


def test_nothing_is_swapped_while_the_counts_the_page_saw_still_hold(
    client, member, institution, full_ish
):
    session, part = full_ish
    login(client, member)
    unchanged = client.get(places_url(session), {"seen": "2-1"})
    assert unchanged.status_code == 204
    assert unchanged.content == b""
    services.register(make_person("Nog", "Iemand", institution), session)
    changed = client.get(places_url(session), {"seen": "2-1"})
    assert changed.status_code == 200
    body = changed.content.decode()
    assert "2 van 2 plaatsen bezet, 2 op de wachtlijst" in body
    assert """data-hx-vals='{"seen": "2-2"}'""" in body  # the next poll asks from here


def test_a_past_session_does_not_poll(client, member):
    session = make_session(days=-3)
    login(client, member)
    body = client.get(reverse("events:detail", args=[session.pk])).content.decode()
    span = re.search(r'<span id="places-now"[^>]*>', body).group(0)
    assert "data-hx-trigger" not in span


def test_the_fragment_costs_the_same_few_queries_however_full_the_session(
    client, member, institution, django_assert_max_num_queries
):
    small = make_session(capacity=10)
    login(client, member)
    client.get(places_url(small))  # the session and the login, loaded once
    with django_assert_max_num_queries(5) as first:
        assert client.get(places_url(small)).status_code == 200
    big = make_session(capacity=300)
    for n in range(4):
        SessionPart.objects.create(
            session=big,
            title=f"Deel {n}",
            start=big.start,
            end=big.start + dt.timedelta(hours=1),
            capacity=20,
        )
    parts = list(big.parts.all())
    for n in range(30):
        services.register(make_person("Veel", f"Mensen{n}", institution), big, parts=parts[:1])
    with django_assert_max_num_queries(len(first.captured_queries)):
        assert client.get(places_url(big)).status_code == 200


def test_a_draft_is_not_shown_to_a_member_and_a_visitor_must_log_in(client, member):
    draft = make_session(status="concept")
    assert client.get(places_url(draft)).status_code == 302
    login(client, member)
    assert client.get(places_url(draft)).status_code == 404
