"""Messages that tell the truth: each says what happened, and nothing that did not."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from coalitions import services as coalition_services
from events import services
from events.models import Session, SessionPart
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import make_membership, make_person


def test_the_first_calendar_address_is_made_not_renewed(client, member):
    login(client, member)
    first = client.post(reverse("events:renew_feed"), follow=True).content.decode()
    assert "Je agenda-adres is gemaakt" in first
    assert "het oude werkt niet meer" not in first
    again = client.post(reverse("events:renew_feed"), follow=True).content.decode()
    assert "het oude werkt niet meer" in again


def test_the_overview_offers_no_sign_up_once_the_deadline_has_passed(client, member, db):
    start = timezone.now() + dt.timedelta(days=3)
    closed = make_session(
        title="Te laat", start=start, signup_deadline=start - dt.timedelta(days=5)
    )
    SessionPart.objects.create(
        session=closed, kind="plenair", title="Plenair", start=closed.start, end=closed.end
    )
    body = login(client, member).get(reverse("home")).content.decode()
    row = body[body.index(f'id="overview-session-{closed.pk}"') :]
    row = row[: row.index("</li>")]
    assert "Aanmelden is gesloten." in row
    assert "Kies je onderdelen en meld je aan" not in row
    assert "Aanmelden voor bijeenkomst" not in row


def test_publishing_says_why_ring_members_without_an_account_get_no_mail(
    client, bureau, lead, institution
):
    coalition = lead.led_coalitions.get()
    kern = coalition.rings.get(order=1)
    for i in range(3):
        make_membership(make_person("Zonder", f"Account{i}", institution), kern)
    make_membership(make_person("Met", "Account", institution, account=True), kern)
    session = make_session(status=Session.Status.DRAFT)
    services.add_coalitions(session, [coalition], by=None)
    body = login(client, bureau).get(reverse("events:publish", args=[session.pk])).content
    body = body.decode()
    assert "3 andere genodigden hebben nog geen account" in body


@pytest.mark.django_db
def test_a_closed_round_no_longer_invites_to_bring_in_a_theme(client, bureau):
    now = timezone.now()
    theme_round = coalition_services.open_round(
        by=bureau,
        school_year="2030-2031",
        opens_at=now - dt.timedelta(days=5),
        closes_at=now + dt.timedelta(days=30),
        votes_per_person=2,
        introduction="Breng het in, steun andere thema's.",
    )
    url = reverse("coalitions:round", args=[theme_round.pk])
    assert "Breng het in" in login(client, bureau).get(url).content.decode()
    coalition_services.close_round(theme_round, by=bureau)
    body = client.get(url).content.decode()
    assert "Breng het in" not in body
    assert "Gesloten op" in body


def test_the_log_filter_names_each_kind_without_placeholders(client, bureau):
    body = login(client, bureau).get(reverse("activity_log")).content.decode()
    select = body[body.index('name="wat"') :]
    select = select[: select.index("</select>")]
    assert "verplaatst van … naar …" in select
    for placeholder in ("{count}", "{ring}", "{from}", "%("):
        assert placeholder not in select
