"""Every main page, for each role, in Chromium: it renders and axe-core finds no WCAG 2.1 A/AA
violation. A broad net under the journeys."""

import re

import pytest
from playwright.sync_api import expect

from coalitions.models import Coalition
from events.models import Session
from tests.browser import (
    assert_accessible,
    assert_no_broken_words_in_tables,
    assert_targets_big_enough,
    log_in,
)

pytestmark = pytest.mark.browser


def test_pages_for_visitors(page, live_server, demo_network):
    for path in [
        "/account/login/",
        "/account/signup/",
        "/account/password/reset/",
        "/coalities/opbrengsten/",
    ]:
        page.goto(live_server.url + path)
        expect(page.locator("h1")).to_be_visible()
        assert_accessible(page)


def test_pages_for_the_member(page, live_server, demo_network):
    session = Session.objects.filter(status="gepubliceerd").order_by("-start").first()
    coalition = Coalition.objects.get(name="Peer review in teams")
    log_in(page, live_server, "lid@albeda.example")
    for path in [
        "/",
        "/mijn-aanmeldingen/",
        "/mijn-account/",
        "/account/email/",
        "/account/password/change/",
        "/account/2fa/",
        "/account/2fa/totp/activate",
        "/account/sessions/",
        "/coalities/",
        f"/coalities/{coalition.pk}/",
        "/bijeenkomsten/",
        f"/bijeenkomsten/{session.pk}/",
    ]:
        page.goto(live_server.url + path)
        expect(page.locator("h1")).to_be_visible()
        assert_accessible(page)


def test_pages_for_the_bureau(page, live_server, demo_network):
    session = Session.objects.filter(status="gepubliceerd").order_by("-start").first()
    coalition = Coalition.objects.get(name="Peer review in teams")
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    for path in [
        "/beheer/",
        "/personen/",
        "/personen/nieuw/",
        "/importeren/institutions/",
        "/coalities/nieuw/",
        f"/coalities/{coalition.pk}/ringen/",
        f"/coalities/{coalition.pk}/ringen/nieuw/",
        f"/coalities/{coalition.pk}/opbrengsten/nieuw/",
        "/bijeenkomsten/nieuw/",
        f"/bijeenkomsten/{session.pk}/programma/",
        f"/bijeenkomsten/{session.pk}/programma/onderdeel/",
        f"/bijeenkomsten/{session.pk}/aanmeldingen/",
        f"/bijeenkomsten/{session.pk}/inchecken/?wie=an",
        f"/bijeenkomsten/{session.pk}/presentielijst/",
        "/beheer/berichten/",
        "/beheer/berichten/?status=failed",
        "/beheer/deelname/",
        "/beheer/cijfers/",
        "/beheer/netwerk/",
    ]:
        page.goto(live_server.url + path)
        expect(page.locator("h1")).to_be_visible()
        assert_accessible(page)


def test_pages_fit_a_phone_screen(page, live_server, demo_network):
    """No sideways scrolling at 375 px: wide tables scroll inside their own box."""
    coalition = Coalition.objects.get(name="Peer review in teams")
    session = Session.objects.filter(status="gepubliceerd").order_by("-start").first()
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, live_server, "trekker@deltion.example")
    for path in [
        "/",
        "/coalities/",
        f"/coalities/{coalition.pk}/",
        f"/coalities/{coalition.pk}/ringen/",
        "/bijeenkomsten/",
        f"/bijeenkomsten/{session.pk}/",
        "/mijn-account/",
        "/coalities/opbrengsten/",
    ]:
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        assert_targets_big_enough(page)
        assert_no_broken_words_in_tables(page)


def test_the_bureaus_pages_fit_a_phone_screen(page, live_server, demo_network):
    session = Session.objects.filter(status="gepubliceerd").order_by("-start").first()
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    for path in [
        "/beheer/",
        "/beheer/logboek/",
        "/beheer/bewaartermijn/",
        "/instellingen/",
        "/personen/",
        "/coalities/themas/",
        f"/bijeenkomsten/{session.pk}/programma/",
        f"/bijeenkomsten/{session.pk}/aanmeldingen/",
        f"/bijeenkomsten/{session.pk}/inchecken/?q=an",
    ]:
        page.goto(live_server.url + path)
        expect(page.locator("h1")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        assert_targets_big_enough(page)
        assert_no_broken_words_in_tables(page)
        assert_accessible(page)


def test_the_member_signs_up_from_the_overview_in_place(page, live_server, demo_network):
    """The overview's button signs up without leaving the page; only the row changes."""
    import datetime as dt

    from django.utils import timezone

    start = timezone.now() + dt.timedelta(days=3)
    session = Session.objects.create(
        title="Inloopmiddag zonder programma",
        start=start,
        end=start + dt.timedelta(hours=2),
        status=Session.Status.PUBLISHED,
    )
    try:
        log_in(page, live_server, "lid@albeda.example")
        page.goto(live_server.url + "/")
        row = page.locator(f"#overview-session-{session.pk}")
        row.get_by_role("button", name=re.compile("^Aanmelden voor bijeenkomst")).click()
        expect(row).to_contain_text("Je bent aangemeld")
        expect(row.get_by_role("button", name=re.compile("^Afmelden"))).to_be_visible()
        expect(page).to_have_url(live_server.url + "/")  # no page load
        assert_accessible(page)
        assert session.registrations.active().filter(person__email="lid@albeda.example").exists()
    finally:
        session.delete()
