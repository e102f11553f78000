"""Every page of each role, at a phone's 375 px and a laptop's 1280 px: nothing scrolls the page
sideways (a wide table scrolls in its own box or turns into stacked rows), the registrations
keep their Acties column in view at 1280 px, and the navigation folds behind a menu button on a
phone."""

import pytest
from playwright.sync_api import expect

from coalitions.models import Coalition, ThemeRound
from events.models import Session
from members.models import Institution, Person
from tests.browser import assert_accessible, log_in

pytestmark = pytest.mark.browser

WIDTHS = [375, 1280]

# Whatever sticks out of the page (so makes it scroll sideways), for the failure message.
WIDER_THAN_THE_PAGE = """() => {
  const width = window.innerWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.table-scroll') && !el.classList.contains('table-scroll')) continue;
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && box.width > 0) {
      out.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(box.right)}`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, out: out.slice(0, 5)};
}"""


def _too_wide(page, live_server, paths):
    wide = []
    for path in paths:
        page.goto(live_server.url + path)
        expect(page.locator("h1").first).to_be_visible()
        seen = page.evaluate(WIDER_THAN_THE_PAGE)
        if seen["scroll"] > seen["width"]:
            wide.append((path, seen))
    return wide


def _report(wide) -> str:
    return "\n".join(f"{path}: {seen}" for path, seen in wide)


def _ids():
    session = Session.objects.filter(status="gepubliceerd").order_by("-start").first()
    coalition = Coalition.objects.get(name="Peer review in teams")
    return {
        "session": session.pk,
        "coalition": coalition.pk,
        "round": ThemeRound.objects.order_by("-pk").first().pk,
        "institution": Institution.objects.exclude(kind="bureau").order_by("pk").first().pk,
        "person": Person.objects.order_by("pk").first().pk,
    }


VISITOR = [
    "/account/login/",
    "/account/signup/",
    "/account/password/reset/",
    "/coalities/opbrengsten/",
]

MEMBER = [
    "/",
    "/mijn-aanmeldingen/",
    "/mijn-account/",
    "/account/email/",
    "/account/password/change/",
    "/account/2fa/",
    "/account/2fa/totp/activate",
    "/account/sessions/",
    "/coalities/",
    "/coalities/{coalition}/",
    "/coalities/themarondes/",
    "/coalities/themarondes/{round}/",
    "/coalities/opbrengsten/",
    "/bijeenkomsten/",
    "/bijeenkomsten/{session}/",
]

LEAD = [
    "/",
    "/coalities/{coalition}/",
    "/coalities/{coalition}/ringen/",
    "/coalities/{coalition}/kandidaten/",
    "/coalities/{coalition}/bewerken/",
    "/bijeenkomsten/",
    "/bijeenkomsten/{session}/",
    "/bijeenkomsten/{session}/aanmeldingen/",
]

BUREAU = [
    "/beheer/",
    "/beheer/logboek/",
    "/beheer/bewaartermijn/",
    "/beheer/berichten/",
    "/beheer/deelname/",
    "/beheer/cijfers/",
    "/beheer/netwerk/",
    "/instellingen/",
    "/instellingen/{institution}/",
    "/personen/",
    "/personen/{person}/",
    "/personen/nieuw/",
    "/importeren/institutions/",
    "/coalities/",
    "/coalities/nieuw/",
    "/coalities/themas/",
    "/coalities/themarondes/",
    "/coalities/themarondes/{round}/",
    "/coalities/themarondes/{round}/ranglijst/",
    "/coalities/werving/",
    "/coalities/lancering/",
    "/coalities/evaluaties/",
    "/coalities/{coalition}/",
    "/coalities/{coalition}/ringen/",
    "/bijeenkomsten/",
    "/bijeenkomsten/nieuw/",
    "/bijeenkomsten/{session}/",
    "/bijeenkomsten/{session}/programma/",
    "/bijeenkomsten/{session}/programma/onderdeel/",
    "/bijeenkomsten/{session}/aanmeldingen/",
    "/bijeenkomsten/{session}/inchecken/?q=an",
    "/bijeenkomsten/{session}/presentielijst/",
    "/mijn-account/",
    "/account/2fa/",
]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_of_a_visitor_or_member_scrolls_sideways(page, live_server, demo_network, width):
    ids = _ids()
    page.set_viewport_size({"width": width, "height": 800})
    wide = _too_wide(page, live_server, VISITOR)
    log_in(page, live_server, "lid@albeda.example")
    wide += _too_wide(page, live_server, [p.format(**ids) for p in MEMBER])
    assert wide == [], _report(wide)


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_of_a_lead_scrolls_sideways(page, live_server, demo_network, width):
    ids = _ids()
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, live_server, "trekker@deltion.example")
    wide = _too_wide(page, live_server, [p.format(**ids) for p in LEAD])
    assert wide == [], _report(wide)


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_of_the_bureau_scrolls_sideways(page, live_server, demo_network, width):
    ids = _ids()
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    wide = _too_wide(page, live_server, [p.format(**ids) for p in BUREAU])
    assert wide == [], _report(wide)


# The registrations table: the last column (the cancel buttons) in view without scrolling.
ACTIONS_IN_VIEW = """() => {
  const scroller = document.querySelector('.registration-table');
  if (!scroller) return null;
  const frame = scroller.getBoundingClientRect();
  const buttons = [...scroller.querySelectorAll('tbody tr td:last-child button')];
  return {buttons: buttons.length, table: scroller.scrollWidth, room: scroller.clientWidth,
          outside: buttons.filter((b) => b.getBoundingClientRect().right > frame.right + 1).length};
}"""


def test_the_registrations_show_their_actions_column_at_1280(page, live_server, demo_network):
    """The widest list: people signed up by the organiser (a badge), with remarks, each in
    a part with a long title, seen by the bureau (who sees the remarks)."""
    import datetime as dt

    from django.utils import timezone

    from events import services
    from events.models import SessionPart

    bureau = Person.objects.get(email="bureau@kwaliteitsnetwerk.example")
    start = timezone.now() + dt.timedelta(days=20)
    session = Session.objects.create(
        title="Brede lijst", start=start, end=start + dt.timedelta(hours=4), status="gepubliceerd"
    )
    part = SessionPart.objects.create(
        session=session,
        title="Werksessie kwaliteitsborging en onderwijskwaliteit in de beroepspraktijkvorming",
        start=start,
        end=start + dt.timedelta(hours=1),
    )
    try:
        for person in Person.objects.exclude(institution__kind="bureau").order_by("pk")[:3]:
            services.register(
                person,
                session,
                parts=[part],
                remarks="Ik kom iets later binnen, ik rij vanuit Groningen met de trein.",
                by=bureau,
            )
        page.set_viewport_size({"width": 1280, "height": 800})
        log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
        page.goto(live_server.url + f"/bijeenkomsten/{session.pk}/aanmeldingen/")
        seen = page.evaluate(ACTIONS_IN_VIEW)
        assert seen["buttons"] == 3, seen
        assert seen["outside"] == 0, seen
        assert seen["table"] <= seen["room"], seen
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    finally:
        session.delete()


def test_the_navigation_folds_behind_a_menu_button_on_a_phone(page, live_server, demo_network):
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    page.goto(live_server.url + "/beheer/")
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 130, header
    nav = page.get_by_role("navigation", name="Hoofdnavigatie")
    menu = nav.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav.get_by_role("link", name="Coalities", exact=True)).to_be_hidden()
    # With the keyboard: focus the button, press Enter, the links show.
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Coalities", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert_accessible(page)
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav.get_by_role("link", name="Coalities", exact=True)).to_be_hidden()


def test_the_navigation_shows_every_link_at_1280(page, live_server, demo_network):
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    page.goto(live_server.url + "/beheer/")
    nav = page.get_by_role("navigation", name="Hoofdnavigatie")
    expect(nav.get_by_role("link", name="Coalities", exact=True)).to_be_visible()
    expect(nav.get_by_role("button", name="Menu")).to_be_hidden()


# Every table fits the box it is in: nothing to scroll, not even inside the table's own box.
TABLES_FIT = """() => [...document.querySelectorAll('main table')].map((table) => {
  const box = (table.closest('.table-scroll') || table.parentElement);
  return {fits: table.getBoundingClientRect().width <= box.clientWidth + 1
                && box.scrollWidth <= box.clientWidth + 1,
          width: Math.round(table.getBoundingClientRect().width)};
})"""


def test_the_ranking_and_the_programme_fit_a_phone_in_stacked_rows(page, live_server, demo_network):
    ids = _ids()
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    for path in [
        f"/coalities/themarondes/{ids['round']}/ranglijst/",
        f"/bijeenkomsten/{ids['session']}/",
    ]:
        page.goto(live_server.url + path)
        tables = page.evaluate(TABLES_FIT)
        assert tables, path
        assert all(t["fits"] for t in tables), (path, tables)
        # Each cell says which column it is in.
        assert page.locator("main table td[data-label]").count() > 0
        assert_accessible(page)
