"""Journey: log in with your institution's account, through a real OpenID provider on loopback
(tests/oidc.py), and the two refusals: an organisation outside the network, an institution that
left it. Its own data (not the shared demo network)."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from members.models import Person
from tests.browser import assert_accessible
from tests.factories import make_institution, make_person

pytestmark = pytest.mark.browser


def through_the_institution(page, live_server, sub):
    page.goto(live_server.url + "/account/login/")
    page.get_by_role("button", name="Inloggen met je instellingsaccount").click()
    # The provider's own page: the person says who they are there.
    page.get_by_label("Subject").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


def test_a_colleague_logs_in_with_the_institutions_account_and_outsiders_are_refused(
    page, live_server, oidc, browser
):
    deltion = make_institution("Deltion College", domain="deltion.example", city="Zwolle")
    ilse = make_person("Ilse", "Koster", deltion, email="ilse.koster@deltion.example")
    make_institution(
        "Vertrokken College",
        domain="vertrokken.example",
        member_since=dt.date(2015, 8, 1),
        member_until=dt.date(2023, 7, 31),
    )
    oidc.person(
        "ilse-at-deltion",
        email="Ilse.Koster@deltion.example",
        email_verified=True,
        given_name="Ilse",
        family_name="Koster",
        schac_home_organization="deltion.example",
    )
    oidc.person(
        "someone-elsewhere",
        email="iemand@elders.example",
        email_verified=True,
        schac_home_organization="elders.example",
    )
    oidc.person(
        "piet-at-vertrokken",
        email="piet@vertrokken.example",
        email_verified=True,
        schac_home_organization="vertrokken.example",
    )

    page.goto(live_server.url + "/account/login/")
    expect(page.get_by_role("button", name="Inloggen met je instellingsaccount")).to_be_visible()
    assert_accessible(page)

    through_the_institution(page, live_server, "ilse-at-deltion")
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("heading", name="Welkom, Ilse")).to_be_visible()
    expect(page.get_by_text("Deltion College")).to_be_visible()
    assert_accessible(page)
    ilse.refresh_from_db()
    assert ilse.user is not None
    assert Person.objects.filter(email="ilse.koster@deltion.example").count() == 1

    # Someone from outside the network, in a browser of their own.
    context = browser.new_context(locale="nl-NL")
    outsider = context.new_page()
    through_the_institution(outsider, live_server, "someone-elsewhere")
    expect(
        outsider.get_by_role("heading", name="Inloggen met je instellingsaccount lukt niet")
    ).to_be_visible()
    expect(outsider.get_by_text("Je instelling (elders.example) hoort niet bij")).to_be_visible()
    expect(outsider.get_by_role("link", name="Inloggen met je e-mailadres")).to_be_visible()
    assert_accessible(outsider)

    # Someone whose institution left the network.
    through_the_institution(outsider, live_server, "piet-at-vertrokken")
    expect(
        outsider.get_by_text("Vertrokken College is geen lid meer van het Kwaliteitsnetwerk mbo")
    ).to_be_visible()
    outsider.goto(live_server.url + "/")
    expect(outsider).to_have_url(live_server.url + "/account/login/?next=/")
    context.close()
    assert not Person.objects.filter(email__in=["iemand@elders.example", "piet@vertrokken.example"])
