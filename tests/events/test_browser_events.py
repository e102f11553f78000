"""Journeys: sign up, cancel, waiting list and moving up; check-in at the door on a phone."""

import re

import pytest
from playwright.sync_api import expect

from events.models import Registration
from tests.browser import assert_accessible, log_in
from tests.events.conftest import make_session

pytestmark = pytest.mark.browser


@pytest.fixture
def small_session(demo_network):
    return make_session(
        capacity=1, title="Themabijeenkomst kwaliteitscultuur", kind="themabijeenkomst"
    )


def test_sign_up_cancel_and_the_waiting_list_moving_up(page, browser, live_server, small_session):
    url = f"{live_server.url}/bijeenkomsten/{small_session.pk}/"
    log_in(page, live_server, "lid@albeda.example")
    page.goto(url)
    expect(page.get_by_role("heading", name="Themabijeenkomst kwaliteitscultuur")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Opmerkingen (dieet, toegankelijkheid)").fill("Glutenvrij")
    expect(page.locator("#places")).to_have_text("0 van 1 plaatsen bezet")
    page.get_by_role("button", name="Aanmelden voor bijeenkomst").click()
    expect(page.get_by_text("Je bent aangemeld voor deze bijeenkomst.")).to_be_visible()
    expect(page.get_by_text("Je bent aangemeld. Een bevestiging is onderweg")).to_be_visible()
    # The count of places changes with the swap that changed it, without a reload.
    expect(page.locator("#places")).to_have_text("1 van 1 plaatsen bezet")
    assert_accessible(page)

    # The only place of a full session: giving it up is asked first.
    page.get_by_role("button", name="Afmelden voor bijeenkomst").click()
    expect(page.get_by_role("heading", name="Je plek opgeven?")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Ja, plek opgeven").click()
    expect(page.get_by_text("Je bent afgemeld.")).to_be_visible()
    expect(page.get_by_role("button", name="Aanmelden voor bijeenkomst")).to_be_visible()

    # The member takes the only place again; the next person lands on the waiting list.
    page.get_by_role("button", name="Aanmelden voor bijeenkomst").click()
    expect(page.get_by_text("Je bent aangemeld voor deze bijeenkomst.")).to_be_visible()

    other_context = browser.new_context(locale="nl-NL")
    other = other_context.new_page()
    log_in(other, live_server, "trekker@deltion.example")
    other.goto(url)
    expect(
        other.get_by_text("Deze bijeenkomst zit vol: als je je aanmeldt, kom je op de wachtlijst.")
    ).to_be_visible()
    other.get_by_role("button", name="Aanmelden voor bijeenkomst").click()
    expect(
        other.get_by_text("De bijeenkomst zit vol: je staat op de wachtlijst, plek 1.")
    ).to_be_visible()
    assert_accessible(other)

    page.get_by_role("button", name="Afmelden voor bijeenkomst").click()
    page.get_by_role("button", name="Ja, plek opgeven").click()
    expect(page.get_by_text("Je bent afgemeld.")).to_be_visible()
    other.reload()
    expect(other.get_by_text("Je bent aangemeld voor deze bijeenkomst.")).to_be_visible()
    assert (
        Registration.objects.get(
            session=small_session, person__email="trekker@deltion.example"
        ).promoted_at
        is not None
    )


def test_check_in_at_the_door_on_a_phone(page, live_server, small_session):
    from events import services
    from members.models import Person

    member = Person.objects.get(email="lid@albeda.example")
    services.register(member, small_session)
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    page.goto(f"{live_server.url}/bijeenkomsten/{small_session.pk}/inchecken/")
    expect(page.get_by_role("heading", name="Inchecken")).to_be_visible()
    expect(page.locator("#present-count")).to_have_text("0 van 1 aanwezig")
    # One search field at the top finds the signed-up people...
    page.get_by_label("Naam of e-mailadres").fill("Albers")
    row = page.locator(".checkin-row", has_text="Lieke Albers")
    expect(row).to_be_visible()
    row.get_by_role("button", name="Aanwezig Lieke Albers").click()
    expect(
        page.locator(".checkin-row", has_text="Lieke Albers").get_by_text("aanwezig", exact=True)
    ).to_be_visible()
    expect(page.locator("#present-count")).to_have_text("1 van 1 aanwezig")
    # ...and the people who did not sign up, to mark present at the door.
    page.get_by_label("Naam of e-mailadres").fill("Jansen")
    other = (
        page.locator(".checkin-row", has_text="Jansen")
        .filter(has=page.get_by_role("button", name=re.compile("^Aanwezig melden")))
        .first
    )
    expect(other).to_be_visible()
    other.get_by_role("button", name=re.compile("^Aanwezig melden")).click()
    expect(page.locator("#present-count")).to_have_text("2 van 2 aanwezig")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert_accessible(page)
    assert Registration.objects.get(session=small_session, person=member).attended is True
    assert (
        Registration.objects.filter(session=small_session, walk_in=True, attended=True).count() == 1
    )

    # Someone who is not in the system at all: added as a guest, present.
    page.get_by_text("Iemand toevoegen die nog niet in het systeem staat").click()
    page.get_by_label("Voornaam").fill("Gerda")
    page.get_by_label("Achternaam").fill("Gast")
    page.locator("#id_email").fill("gerda.gast@extern.example")
    page.get_by_role("button", name="Toevoegen en aanwezig melden").click()
    expect(page.get_by_text("Gerda Gast is toegevoegd en als aanwezig gemeld.")).to_be_visible()
    expect(page.locator("#present-count")).to_have_text("3 van 3 aanwezig")
    assert_accessible(page)


def test_the_places_change_on_every_open_page_without_a_reload(
    page, browser, live_server, demo_network, settings
):
    """Two people look at one session; when one signs up, the other's page shows the new
    count within the poll's interval (shortened here), and says so politely."""
    settings.PLACES_POLL_SECONDS = 1
    session = make_session(capacity=5, title="Open middag voor iedereen")
    try:
        url = f"{live_server.url}/bijeenkomsten/{session.pk}/"
        log_in(page, live_server, "lid@albeda.example")
        page.goto(url)
        places = page.locator("#places")
        expect(places).to_have_text("0 van 5 plaatsen bezet")
        expect(places).to_have_attribute("aria-live", "polite")

        other = browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam").new_page()
        log_in(other, live_server, "trekker@deltion.example")
        other.goto(url)
        other.get_by_role("button", name="Aanmelden voor bijeenkomst").click()
        expect(other.get_by_text("Je bent aangemeld voor deze bijeenkomst.")).to_be_visible()

        expect(places).to_have_text("1 van 5 plaatsen bezet", timeout=5000)
        expect(page).to_have_url(url)  # no reload
        assert_accessible(page)
        other.context.close()
    finally:
        session.delete()
