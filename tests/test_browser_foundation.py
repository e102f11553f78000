"""User journey in a real Chromium: the demo member logs in; axe-core checks the pages."""

import pytest
from playwright.sync_api import expect

from tests.browser import assert_accessible, log_in

pytestmark = pytest.mark.browser


def test_the_demo_member_logs_in_and_pages_pass_axe(page, live_server, demo_network):
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/account/login/?next=/")
    expect(page.get_by_role("heading", name="Inloggen")).to_be_visible()
    assert_accessible(page)

    log_in(page, live_server, "lid@albeda.example")
    expect(page.get_by_role("heading", name="Welkom, Lieke")).to_be_visible()
    nav = page.get_by_role("navigation", name="Hoofdnavigatie")
    expect(nav.get_by_role("link", name="Coalities", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Beheer")).to_have_count(0)
    assert_accessible(page)


def test_the_landing_page_works_on_a_phone(page, live_server, demo_network):
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    nav = page.get_by_role("navigation", name="Hoofdnavigatie")
    # No sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # The skip link is the first stop for keyboard users and leads to the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Naar de inhoud")).to_be_focused()
    # On a phone the links fold behind the menu button.
    expect(nav.get_by_role("link", name="Beheer")).to_be_hidden()
    nav.get_by_role("button", name="Menu").click()
    expect(nav.get_by_role("link", name="Beheer")).to_be_visible()
    assert_accessible(page)


def test_the_html_check_can_fail(page):
    """The Nu HTML checker behind assert_accessible really refuses invalid HTML."""
    from tests.browser import assert_valid_html

    page.set_content(
        '<!DOCTYPE html><html lang="nl"><head><title>x</title></head>'
        '<body><span><form action="/"></form></span><div hx-get="/x"></div></body></html>'
    )
    with pytest.raises(AssertionError, match="not allowed"):
        assert_valid_html(page)
