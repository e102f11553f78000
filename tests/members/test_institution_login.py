"""Log in with your institution's account (issue 24): OpenID Connect through allauth's own
provider, against a real OpenID provider on loopback (tests/oidc.py). Who comes in, as whom,
and who is refused: members.institution_login."""

import datetime as dt
import time
import urllib.parse
from urllib.error import HTTPError
from urllib.request import Request

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from members.models import Person, User
from tests.factories import make_institution, make_person

pytestmark = pytest.mark.django_db

BUTTON = "Inloggen met je instellingsaccount"


def logged_in_user(client):
    from django.contrib.auth import get_user

    user = get_user(client)
    return user if user.is_authenticated else None


def assert_refused(response, client, *words):
    assert response.status_code == 403
    text = response.content.decode()
    assert "Inloggen met je instellingsaccount lukt niet" in text
    for word in words:
        assert word in text
    assert logged_in_user(client) is None


class TestTheButton:
    def test_without_a_provider_there_is_no_button_and_no_login_address(self, client):
        page = client.get(reverse("account_login"))
        assert page.status_code == 200
        assert BUTTON not in page.content.decode()
        start = client.post("/account/oidc/instelling/login/")
        assert start.status_code == 404

    def test_with_a_provider_the_login_page_offers_it_as_a_form(self, client, oidc):
        page = client.get(reverse("account_login"))
        text = page.content.decode()
        assert BUTTON in text
        assert 'action="/account/oidc/instelling/login/?process=login"' in text
        assert "Via SURFconext (test)." in text

    def test_a_get_does_not_start_a_login(self, client, oidc):
        # Only our own form (a POST with its CSRF token) sends someone to the provider.
        answer = client.get("/account/oidc/instelling/login/")
        assert answer.status_code == 200
        assert not answer.has_header("Location")


class TestWhoComesIn:
    def test_a_new_colleague_gets_an_account_at_the_institution_of_the_organisation(
        self, client, oidc, institution
    ):
        answer = oidc.log_in(
            client,
            "sub-ilse",
            email="Ilse.Koster@Deltion.Example",
            email_verified=True,
            given_name="Ilse",
            family_name="Koster",
            schac_home_organization="deltion.example",
        )
        assert answer.status_code == 302
        assert answer["Location"] == reverse("home")
        user = logged_in_user(client)
        assert user.email == "ilse.koster@deltion.example"
        person = Person.objects.get(user=user)
        assert (person.first_name, person.last_name) == ("Ilse", "Koster")
        assert person.institution == institution
        assert person.email == "ilse.koster@deltion.example"
        assert EmailAddress.objects.get(user=user).verified
        assert not user.has_usable_password()
        assert user.signup_name == {}
        overview = client.get(reverse("home"))
        assert "Ilse" in overview.content.decode()

    def test_the_organisation_claim_decides_over_the_domain_of_the_address(
        self, client, oidc, institution
    ):
        oidc.log_in(
            client,
            "sub-student",
            email="docent@medewerker.deltion.example",
            email_verified=True,
            family_name="Docent",
            schac_home_organization="Deltion.Example",
        )
        person = Person.objects.get(user=logged_in_user(client))
        assert person.institution == institution

    def test_without_the_claim_the_domain_of_the_address_decides(self, client, oidc, institution):
        oidc.log_in(client, "sub-joost", email="joost@deltion.example", email_verified=True)
        assert Person.objects.get(user=logged_in_user(client)).institution == institution

    def test_an_account_less_person_is_linked_not_duplicated(self, client, oidc, institution):
        known = make_person("Ilse", "Koster", institution, email="ilse.koster@deltion.example")
        people = Person.objects.count()
        oidc.log_in(
            client,
            "sub-ilse-2",
            email="ILSE.KOSTER@deltion.example",
            email_verified=True,
            given_name="Ilse-Marie",
            schac_home_organization="deltion.example",
        )
        known.refresh_from_db()
        assert known.user == logged_in_user(client)
        assert Person.objects.count() == people
        assert known.first_name == "Ilse"  # the network's own record stays as it is

    def test_an_existing_account_is_connected_and_used_again_next_time(self, client, oidc, member):
        users = User.objects.count()
        oidc.log_in(
            client,
            "sub-charlie",
            email=member.email.upper(),
            email_verified=True,
            schac_home_organization="deltion.example",
        )
        assert logged_in_user(client) == member.user
        assert SocialAccount.objects.get(uid="sub-charlie").user == member.user
        member.user.refresh_from_db()
        assert member.user.has_usable_password()  # a verified address: the password stays

        client.logout()
        oidc.log_in(client, "sub-charlie", email=member.email, email_verified=True)
        assert logged_in_user(client) == member.user
        assert User.objects.count() == users
        assert SocialAccount.objects.filter(user=member.user).count() == 1

    def test_an_account_someone_made_with_the_address_but_never_confirmed_loses_its_password(
        self, client, oidc, institution
    ):
        # Someone signed up with Ilse's address (and a password of theirs), never confirmed it.
        victim = make_person("Ilse", "Koster", institution, email="ilse@deltion.example")
        squatter = User.objects.create_user("ilse@deltion.example", password="van-een-ander-42")
        EmailAddress.objects.create(
            user=squatter, email="ilse@deltion.example", verified=False, primary=True
        )
        oidc.log_in(
            client,
            "sub-real-ilse",
            email="ilse@deltion.example",
            email_verified=True,
            schac_home_organization="deltion.example",
        )
        squatter.refresh_from_db()
        assert not squatter.has_usable_password()  # allauth's own defence, kept
        assert User.objects.filter(email="ilse@deltion.example").count() == 1
        victim.refresh_from_db()
        assert victim.user is None  # claimed only once the address is confirmed


class TestWhoIsRefused:
    def test_an_unknown_organisation_is_refused_and_nothing_is_made(
        self, client, oidc, institution
    ):
        users, people = User.objects.count(), Person.objects.count()
        answer = oidc.log_in(
            client,
            "sub-outsider",
            email="iemand@deltion.example",
            email_verified=True,
            schac_home_organization="onbekend.example",
        )
        assert_refused(answer, client, "onbekend.example", "hoort niet bij")
        assert (User.objects.count(), Person.objects.count()) == (users, people)
        assert not SocialAccount.objects.exists()

    def test_a_look_alike_organisation_is_no_member(self, client, oidc, institution):
        answer = oidc.log_in(
            client,
            "sub-lookalike",
            email="iemand@deltıon.example",  # dotless ı
            email_verified=True,
            schac_home_organization="deltıon.example",
        )
        assert_refused(answer, client, "hoort niet bij")
        assert not User.objects.filter(email__contains="iemand").exists()

    def test_a_person_whose_institution_left_the_network_is_refused(self, client, oidc):
        left = make_institution(
            "Vertrokken College",
            domain="vertrokken.example",
            member_since=dt.date(2015, 8, 1),
            member_until=dt.date(2023, 7, 31),
        )
        person = make_person("Piet", "Vos", left, account=True, email="piet@vertrokken.example")
        answer = oidc.log_in(
            client,
            "sub-piet",
            email="piet@vertrokken.example",
            email_verified=True,
            schac_home_organization="vertrokken.example",
        )
        assert_refused(answer, client, "Vertrokken College", "geen lid meer")
        assert not SocialAccount.objects.filter(user=person.user).exists()

    def test_an_address_the_provider_does_not_vouch_for_is_refused(
        self, client, oidc, institution, member
    ):
        answer = oidc.log_in(
            client,
            "sub-unverified",
            email=member.email,
            email_verified=False,
            schac_home_organization="deltion.example",
        )
        assert_refused(answer, client, "bevestigd e-mailadres")
        assert not SocialAccount.objects.exists()

    def test_an_institution_vouches_only_for_its_own_people(
        self, client, oidc, institution, outsider
    ):
        # Deltion's provider says this is Dana of Albeda: not Deltion's to say.
        answer = oidc.log_in(
            client,
            "sub-dana",
            email=outsider.email,
            email_verified=True,
            schac_home_organization="deltion.example",
        )
        assert_refused(answer, client, outsider.email, "andere instelling")
        assert not SocialAccount.objects.exists()


class TestTheSecondFactor:
    """An institution's login is a login like any other: no way around the app's own second
    factor for bureau powers."""

    @pytest.fixture
    def bureau_colleague(self, institution):
        return make_person("Bea", "Buro", institution, account=True, is_bureau_staff=True)

    def test_an_account_with_a_second_factor_is_asked_for_it(
        self, client, oidc, bureau_colleague, settings
    ):
        from allauth.mfa.totp.internal.auth import (
            TOTP,
            format_hotp_value,
            generate_totp_secret,
            hotp_value,
        )

        from members.models import ConfirmedFactor

        settings.BUREAU_REQUIRE_MFA = True
        secret = generate_totp_secret()
        authenticator = TOTP.activate(bureau_colleague.user, secret).instance
        # Confirmed from the account's mailbox (members.second_factor), as a bureau factor must be.
        ConfirmedFactor.objects.create(authenticator=authenticator, email=bureau_colleague.email)
        answer = oidc.log_in(
            client,
            "sub-bea",
            email=bureau_colleague.email,
            email_verified=True,
            schac_home_organization="deltion.example",
        )
        assert answer.status_code == 302
        assert answer["Location"] == reverse("mfa_authenticate")
        assert logged_in_user(client) is None
        assert client.get(reverse("bureau_dashboard")).status_code == 302  # to the login

        code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
        done = client.post(reverse("mfa_authenticate"), {"code": code})
        assert done.status_code == 302
        assert logged_in_user(client) == bureau_colleague.user
        assert client.get(reverse("bureau_dashboard")).status_code == 200

    def test_without_a_second_factor_the_bureau_account_has_no_bureau_powers(
        self, client, oidc, bureau_colleague, settings
    ):
        settings.BUREAU_REQUIRE_MFA = True
        oidc.log_in(
            client,
            "sub-bea-2",
            email=bureau_colleague.email,
            email_verified=True,
            schac_home_organization="deltion.example",
        )
        assert logged_in_user(client) == bureau_colleague.user
        dashboard = client.get(reverse("bureau_dashboard"))
        assert dashboard.status_code == 302
        assert dashboard["Location"] == reverse("mfa_activate_totp")
        assert client.get(reverse("members:person_list")).status_code in (302, 403)


class TestWhenThingsGoWrong:
    def test_a_provider_that_cannot_be_reached_gives_a_calm_page(self, client, oidc, settings):
        import socket

        from kwaliteitsnetwerk.settings import institution_login_provider

        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        settings.SOCIALACCOUNT_PROVIDERS = institution_login_provider(
            f"http://127.0.0.1:{port}", "kn", "geheim"
        )
        answer = client.post("/account/oidc/instelling/login/")
        assert answer.status_code == 503
        text = answer.content.decode()
        assert "Inloggen met je instellingsaccount lukt niet" in text
        assert "Probeer het zo opnieuw" in text
        assert logged_in_user(client) is None

    def test_a_person_who_says_no_at_the_provider_is_not_logged_in(self, client, oidc):
        from tests.oidc import _opener

        start = client.post("/account/oidc/instelling/login/")
        try:
            _opener.open(Request(start["Location"], data=b"action=deny", method="POST"), timeout=10)
        except HTTPError as answer:
            back = urllib.parse.urlsplit(answer.headers["Location"])
        page = client.get(f"{back.path}?{back.query}", follow=True)
        assert "Je bent gestopt met inloggen" in page.content.decode()
        assert logged_in_user(client) is None
