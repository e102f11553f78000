"""Journeys on the rings: the lead moves and accepts in place; a member asks to join a core."""

import pytest
from playwright.sync_api import expect

from coalitions.models import Coalition, RingMembership
from tests.browser import assert_accessible, log_in

pytestmark = pytest.mark.browser


def test_the_lead_moves_a_member_into_the_core_and_accepts_a_request(
    page, live_server, demo_network
):
    coalition = Coalition.objects.get(name="Peer review in teams")
    requester = RingMembership.objects.get(coalition=coalition, status="aangevraagd").person
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    log_in(page, live_server, "trekker@deltion.example")
    page.get_by_role("navigation", name="Hoofdnavigatie").get_by_role(
        "link", name="Mijn coalities"
    ).click()
    page.get_by_role("link", name="Peer review in teams").click()
    page.get_by_role("link", name="Ringen beheren").click()
    expect(page.get_by_role("heading", name="Ringen van Peer review in teams")).to_be_visible()
    assert_accessible(page)

    kern = page.get_by_role("region", name="Kern")
    flex = page.get_by_role("region", name="Flexibele ring")
    before = kern.get_by_text("plaatsen bezet").inner_text()

    # Move Lieke Albers (the demo member) from the Flexibele ring to the Kern, by keyboard-usable controls.
    flex.get_by_label("Lieke Albers verplaatsen naar").select_option(label="Kern")
    flex.get_by_role("button", name="Verplaatsen Lieke Albers").click()
    expect(page.get_by_text("Lieke Albers is verplaatst naar Kern.")).to_be_visible()
    expect(
        page.get_by_role("region", name="Kern").locator(".person-name", has_text="Lieke Albers")
    ).to_be_visible()
    assert (
        page.get_by_role("region", name="Kern").get_by_text("plaatsen bezet").inner_text() != before
    )

    # Accept the pending request, in place.
    page.get_by_role("button", name=f"Accepteren {requester.full_name}").click()
    expect(page.get_by_text(f"{requester.full_name} zit nu in Kern.")).to_be_visible()
    assert (
        RingMembership.objects.get(person=requester, coalition=coalition, status="actief").ring.name
        == "Kern"
    )
    assert_accessible(page)
    # The swaps break no rule of the Content Security Policy (no inline styles or scripts).
    assert console_errors == []


def test_the_member_asks_to_join_a_core_and_sees_the_request_pending(
    page, live_server, demo_network
):
    log_in(page, live_server, "lid@albeda.example")
    page.get_by_role("navigation", name="Hoofdnavigatie").get_by_role(
        "link", name="Coalities", exact=True
    ).click()
    page.get_by_label("Zoeken").fill("Kansengelijkheid")
    page.get_by_role("link", name="Kansengelijkheid").click()
    expect(page.get_by_role("heading", name="Spelregels en afspraken").first).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Waarom wil je aansluiten? (optioneel)").first.fill(
        "Wij werken hier al aan in Rotterdam."
    )
    page.get_by_role("button", name="Vragen om aan te sluiten bij Kern").click()
    expect(
        page.get_by_text(
            "Je verzoek om aan te sluiten bij Kern ligt bij de trekkers: zij beslissen."
        )
    ).to_be_visible()
    expect(page.get_by_role("button", name="Verzoek intrekken")).to_be_visible()
    assert_accessible(page)
