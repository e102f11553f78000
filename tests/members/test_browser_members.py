"""Journey: the bureau adds an institution, invites a person; the person follows the link."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.browser import assert_accessible, log_in

pytestmark = pytest.mark.browser


def test_bureau_adds_an_institution_and_invites_a_person_who_lands_logged_in(
    page, live_server, demo_network, browser
):
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    page.get_by_role("navigation", name="Hoofdnavigatie").get_by_role(
        "link", name="Instellingen"
    ).click()
    expect(page.get_by_role("heading", name="Instellingen", exact=True)).to_be_visible()
    assert_accessible(page)

    # Live search narrows the list without a page load.
    page.get_by_label("Zoeken").fill("Deltion")
    expect(page.get_by_role("link", name="Deltion College")).to_be_visible()
    expect(page.get_by_role("link", name="Albeda")).to_have_count(0)

    page.get_by_role("link", name="Instelling toevoegen").click()
    page.get_by_label(re.compile(r"^Naam")).fill("Vakschool Wageningen")
    page.get_by_label("Korte naam").fill("Vakschool")
    page.get_by_label("Plaats").fill("Wageningen")
    page.get_by_label("Type").select_option("vakinstelling")
    page.get_by_label("BRIN-code").fill("99xx")
    page.get_by_label("E-maildomeinen").fill("vakschool.example")
    assert_accessible(page)
    page.get_by_role("button", name="Instelling opslaan").click()
    expect(page.get_by_role("heading", name="Vakschool Wageningen")).to_be_visible()
    expect(page.get_by_text("99XX")).to_be_visible()

    page.get_by_role("link", name="Persoon toevoegen").click()
    page.get_by_label("Voornaam").fill("Ilse")
    page.get_by_label("Tussenvoegsel").fill("van")
    page.get_by_label("Achternaam").fill("Houten")
    page.get_by_label("E-mailadres").fill("ilse@vakschool.example")
    page.get_by_label("Functie").fill("kwaliteitsadviseur")
    page.get_by_role("button", name="Persoon opslaan").click()
    expect(page.get_by_role("heading", name="Ilse van Houten")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Persoonlijk bericht (optioneel)").fill("Welkom bij het netwerk!")
    page.get_by_role("button", name="Uitnodiging versturen").click()
    expect(
        page.get_by_text("Er is een uitnodiging onderweg naar ilse@vakschool.example")
    ).to_be_visible()

    invitation = [m for m in mail.outbox if m.to == ["ilse@vakschool.example"]][-1]
    link = re.search(r"https?://\S+/uitnodiging/\S+/", invitation.body).group(0)
    path = "/" + link.split("/", 3)[3]

    # The invited person, in a browser of their own.
    context = browser.new_context(locale="nl-NL")
    invited = context.new_page()
    invited.goto(live_server.url + path)
    expect(invited.get_by_role("heading", name="Maak je account aan")).to_be_visible()
    expect(invited.get_by_text("Welkom bij het netwerk!")).to_be_visible()
    assert_accessible(invited)
    invited.get_by_label("Kies een wachtwoord").fill("wageningen-kwaliteit-2026")
    invited.get_by_label("Herhaal het wachtwoord").fill("wageningen-kwaliteit-2026")
    invited.get_by_role("button", name="Account aanmaken en inloggen").click()
    expect(invited.get_by_role("heading", name="Welkom, Ilse")).to_be_visible()
    expect(invited.get_by_text("Je account is klaar en je bent ingelogd.")).to_be_visible()
    assert_accessible(invited)

    # The link works once.
    invited.goto(live_server.url + path)
    expect(
        invited.get_by_role("heading", name="Deze uitnodigingslink werkt niet meer")
    ).to_be_visible()
    context.close()


def test_one_click_from_a_mail_stops_one_kind_and_my_account_turns_it_back_on(
    page, live_server, demo_network
):
    from django.conf import settings

    from members import notify
    from members.models import Person

    person = Person.objects.get(email="lid@albeda.example")
    url = notify.unsubscribe_url(person.pk, "session_invitation")
    # The link from the mail, opened without logging in.
    page.goto(url.replace(settings.SITE_URL, live_server.url))
    expect(page.get_by_role("heading", name="Uitschrijven")).to_be_visible()
    assert_accessible(page)
    assert notify.wants(person, "session_invitation")  # opening it asks first
    page.get_by_role("button", name="Uitschrijven voor deze berichten").click()
    expect(page.get_by_role("status")).to_contain_text(
        "je krijgt “Uitnodigingen voor bijeenkomsten” niet meer"
    )
    assert_accessible(page)
    assert not notify.wants(person, "session_invitation")
    assert notify.wants(person, "session_reminder")  # the other kinds stay

    log_in(page, live_server, "lid@albeda.example")
    page.goto(live_server.url + "/mijn-account/#berichten")
    choice = page.get_by_label("Uitnodigingen voor bijeenkomsten")
    expect(choice).not_to_be_checked()
    expect(page.get_by_label("Bevestiging van je aanmelding")).to_have_count(0)  # always sent
    choice.focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="E-mailkeuzes opslaan").click()
    expect(page.get_by_text("Je keuzes voor e-mail zijn opgeslagen.")).to_be_visible()
    expect(page.get_by_label("Uitnodigingen voor bijeenkomsten")).to_be_checked()
    assert_accessible(page)
    assert notify.wants(person, "session_invitation")
