"""User journey in a real Chromium: the demo member logs in; axe-core checks the pages."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page):
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    assert results.violations_count == 0, results.generate_report()


@pytest.fixture
def demo_network(transactional_db, settings):
    settings.DEBUG = True  # the demo accounts exist only with DEBUG on
    call_command("seed_demo", verbosity=0)
    settings.DEBUG = False


def log_in(page, live_server, email):
    page.goto(live_server.url + "/account/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Wachtwoord").fill("demo-wachtwoord")
    page.get_by_role("button", name="Inloggen").click()


def test_the_demo_member_logs_in_and_pages_pass_axe(page, live_server, demo_network):
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/account/login/?next=/")
    expect(page.get_by_role("heading", name="Inloggen")).to_be_visible()
    assert_accessible(page)

    log_in(page, live_server, "lid@albeda.example")
    expect(page.get_by_role("heading", name="Welkom, Lieke")).to_be_visible()
    nav = page.get_by_role("navigation", name="Hoofdnavigatie")
    expect(nav.get_by_role("link", name="Coalities")).to_be_visible()
    expect(nav.get_by_role("link", name="Beheer")).to_have_count(0)
    assert_accessible(page)


def test_the_landing_page_works_on_a_phone(page, live_server, demo_network):
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    nav = page.get_by_role("navigation", name="Hoofdnavigatie")
    expect(nav.get_by_role("link", name="Beheer")).to_be_visible()
    # No sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # The skip link is the first stop for keyboard users and leads to the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Naar de inhoud")).to_be_focused()
    assert_accessible(page)
