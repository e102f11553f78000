"""One address rule at every door (members.addresses): a look-alike never takes over a person.

The attack (issue 24): signing up as ilse.koster.89@horızon.example (a dotless ı) and confirming
from that mailbox linked the account to the account-less person ilse.koster.89@horizon.example,
because PostgreSQL's upper('ı') is 'I' and the doors compared with iexact. The same with a long
s (ſ, upper 'S').
"""

import re

import pytest
from django.core import mail
from django.urls import reverse

from members import services as member_services
from members.adapter import institution_for_email
from members.addresses import AddressError, normalise_domain, normalise_email
from members.forms import link_person_on_verification
from members.models import EmailDomain, Institution, Person, User
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import PASSWORD, make_coalition, make_institution, make_person
from tests.members.test_imports import confirm, upload

REAL = "ilse.koster.89@horizon.example"


@pytest.fixture
def horizon(db):
    return make_institution("Horizon College", domain="horizon.example")


@pytest.fixture
def scalda(db):
    return make_institution("Scalda", domain="scalda.example")


@pytest.fixture
def ilse(horizon):
    """A coalition lead without an account yet, as most people of the network are."""
    person = make_person("Ilse", "Koster", horizon, email=REAL)
    make_coalition("Data in de klas", leads=[person])
    return person


def sign_up(client, email):
    return client.post(
        reverse("account_signup"),
        {
            "email": email,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "first_name": "Aanvaller",
            "last_name": "Anders",
        },
    )


def confirm_from(client, address):
    """Follow the verification link mailed to `address`, as whoever reads that mailbox does."""
    for message in mail.outbox:
        if address in message.to:
            url = re.search(r"https?://[^/\s]+(/account/confirm-email/\S+)", message.body)[1]
            return client.post(url)
    return None


class TestTheRule:
    @pytest.mark.parametrize(
        ("typed", "stored"),
        [
            ("Ilse.Koster@Horizon.Example", "ilse.koster@horizon.example"),
            ("  ilse@horizon.example ", "ilse@horizon.example"),
            ("ilſe@horizon.example", "ilse@horizon.example"),  # NFKC: long s is an s
            ("ｉｌｓｅ@ｈｏｒｉｚｏｎ.example", "ilse@horizon.example"),  # full width
            ("ilse@horızon.example", "ilse@xn--horzon-r9a.example"),  # dotless ı: another name
            ("ilse@hörizon.example", "ilse@xn--hrizon-wxa.example"),
            ("ilse@horizon.example.", "ilse@horizon.example"),
        ],
    )
    def test_it_stores_one_form_of_an_address(self, typed, stored):
        assert normalise_email(typed) == stored

    def test_it_lowercases_only_ascii_in_the_local_part(self):
        # A non-ASCII capital is no ASCII letter: it does not become one by lowercasing.
        assert normalise_email("İlse@horizon.example").startswith("İlse@")

    def test_a_domain_idna_cannot_encode_is_refused(self):
        with pytest.raises(AddressError):
            normalise_email("ilse@" + "a" * 64 + ".example")
        with pytest.raises(AddressError):
            normalise_email("zonder-apenstaartje")

    def test_it_normalises_a_domain_the_same_way(self):
        assert normalise_domain("@Horizon.EXAMPLE") == "horizon.example"
        assert normalise_domain("horızon.example") == "xn--horzon-r9a.example"

    def test_a_look_alike_domain_never_matches_a_member_domain(self, horizon, scalda):
        assert institution_for_email("x@horızon.example") is None
        assert institution_for_email("x@HORIZON.example") == horizon
        # A long s is an s in DNS too (IDNA maps it): it is the real domain, so it matches.
        assert institution_for_email("x@ſcalda.example") == scalda


class TestSignUpCannotTakeOverAPerson:
    def test_a_dotless_i_look_alike_is_refused_and_claims_nobody(self, client, ilse):
        look_alike = "ilse.koster.89@horızon.example"
        response = sign_up(client, look_alike)
        assert response.status_code == 200
        assert "aangesloten instelling" in response.content.decode()
        confirm_from(client, look_alike)
        ilse.refresh_from_db()
        assert ilse.user is None
        assert not User.objects.exclude(person=ilse).filter(person__isnull=False).exists()
        assert not any(look_alike in m.to for m in mail.outbox)
        assert not User.objects.exists()

    def test_a_long_s_in_the_domain_only_mails_the_real_address(self, client, scalda):
        person = make_person("Sanne", "Smit", scalda, email="sanne@scalda.example")
        look_alike = "sanne@ſcalda.example"
        sign_up(client, look_alike)
        assert confirm_from(client, look_alike) is None  # nothing went to the look-alike
        assert [m.to for m in mail.outbox] == [["sanne@scalda.example"]]
        user = User.objects.get()
        assert user.email == "sanne@scalda.example"
        person.refresh_from_db()
        assert person.user is None  # until the real owner follows the link in their own mail
        confirm_from(client, "sanne@scalda.example")
        person.refresh_from_db()
        assert person.user == user
        assert Person.objects.count() == 1

    def test_a_long_s_in_the_local_part_only_mails_the_real_address(self, client, ilse):
        ilse.email = "sil.koster@horizon.example"
        ilse.save(update_fields=["email"])
        look_alike = "ſil.koster@horizon.example"
        sign_up(client, look_alike)
        assert confirm_from(client, look_alike) is None
        assert [m.to for m in mail.outbox] == [["sil.koster@horizon.example"]]
        ilse.refresh_from_db()
        assert ilse.user is None

    def test_linking_compares_exactly(self, ilse):
        # An account whose stored address is a look-alike (made before this rule) claims nobody.
        user = User.objects.create_user(email="ilse.koster.89@horızon.example", password=PASSWORD)
        User.objects.filter(pk=user.pk).update(email="ılse.koster.89@horizon.example")
        user.refresh_from_db()
        linked = link_person_on_verification(user)
        assert linked != ilse  # a person of its own, at the domain's institution
        assert linked.email == "ılse.koster.89@horizon.example"
        ilse.refresh_from_db()
        assert ilse.user is None


class TestEveryDoorUsesTheRule:
    def test_the_bureau_registers_a_person_with_the_normalised_address(self, client, bureau, ilse):
        login(client, bureau)
        response = client.post(
            reverse("members:person_create"),
            {
                "first_name": "Ilse",
                "last_name": "Dubbel",
                "email": "Ilse.Koster.89@ＨＯＲＩＺＯＮ.example",
                "institution": ilse.institution.pk,
            },
        )
        assert response.status_code == 200
        assert "al iemand geregistreerd met dit e-mailadres" in response.content.decode()
        response = client.post(
            reverse("members:person_create"),
            {
                "first_name": "Ilse",
                "last_name": "Nieuw",
                "email": "Ilse.Nieuw@Horizon.EXAMPLE",
                "institution": ilse.institution.pk,
            },
        )
        assert response.status_code == 302
        assert Person.objects.filter(email="ilse.nieuw@horizon.example").exists()

    def test_the_bureau_cannot_register_an_address_idna_cannot_encode(self, client, bureau, ilse):
        login(client, bureau)
        response = client.post(
            reverse("members:person_create"),
            {
                "first_name": "Ilse",
                "last_name": "Lang",
                "email": "ilse@" + "a" * 64 + ".example",
                "institution": ilse.institution.pk,
            },
        )
        assert response.status_code == 200
        assert not Person.objects.filter(last_name="Lang").exists()

    def test_institution_domains_are_stored_normalised(self, client, bureau):
        login(client, bureau)
        response = client.post(
            reverse("members:institution_create"),
            {"name": "Hörizon", "kind": "roc", "domains": "Hörizon.EXAMPLE, @Horizon.nl"},
        )
        assert response.status_code == 302
        institution = Institution.objects.get(name="Hörizon")
        domains = set(institution.email_domains.values_list("domain", flat=True))
        assert domains == {"xn--hrizon-wxa.example", "horizon.nl"}

    def test_an_institution_domain_matches_another_spelling_of_a_taken_one(
        self, client, bureau, horizon
    ):
        login(client, bureau)
        response = client.post(
            reverse("members:institution_create"),
            {"name": "Dubbel", "kind": "roc", "domains": "HORIZON.example"},
        )
        assert response.status_code == 200
        assert "hoort bij een andere instelling" in response.content.decode()
        assert not Institution.objects.filter(name="Dubbel").exists()

    def test_the_csv_import_matches_and_stores_the_normalised_address(self, client, bureau, ilse):
        login(client, bureau)
        content = (
            "voornaam;tussenvoegsel;achternaam;email;instelling;functie;ambassadeur\r\n"
            "Ilse;;Koster;ILSE.KOSTER.89@Horizon.example;Horizon College;trekker;ja\r\n"
            "Nina;;Nieuw;Nina@HORIZON.example;Horizon College;docent;nee\r\n"
        )
        upload(client, "people", content.encode())
        assert confirm(client, "people").status_code == 302
        assert Person.objects.filter(email=REAL).count() == 1  # matched, not a second Ilse
        ilse.refresh_from_db()
        assert ilse.is_ambassador
        assert Person.objects.filter(email="nina@horizon.example").exists()

    def test_an_invitation_holds_for_the_normalised_address(self, bureau, ilse):
        _invitation, token = member_services.invite(ilse, invited_by=bureau)
        assert member_services.check_invitation(token).email == REAL
        user = member_services.accept_invitation(token, password=PASSWORD)
        assert user.email == REAL
        assert user.emailaddress_set.get().email == REAL

    def test_a_lead_finds_people_by_the_normalised_address(self, ilse):
        assert member_services.find_or_register_contact("ILSE.KOSTER.89@horizon.example") == ilse
        with pytest.raises(member_services.UnknownContact):
            member_services.find_or_register_contact("ilse.koster.89@horızon.example")


class TestGuestsAtTheDoor:
    def test_a_guest_address_is_stored_normalised_and_a_spelling_is_no_new_person(
        self, client, bureau, ilse
    ):
        session = make_session()
        login(client, bureau)
        response = client.post(
            reverse("events:add_guest", args=[session.pk]),
            {
                "first_name": "Ilse",
                "last_name": "Dubbel",
                "email": "ILSE.koster.89@horizon.example",
            },
        )
        assert response.status_code == 400
        assert "zoek op naam" in response.content.decode()
        assert Person.objects.filter(last_name="Dubbel").count() == 0

    def test_a_lead_cannot_make_a_claimable_guest_at_a_member_domain(self, client, lead, horizon):
        from tests.test_security import coalition_meeting

        meeting = coalition_meeting(lead.led_coalitions.get(), by=lead)
        login(client, lead)
        response = client.post(
            reverse("events:add_guest", args=[meeting.pk]),
            {"first_name": "Nep", "last_name": "Collega", "email": "nieuw@horizon.example"},
        )
        assert response.status_code == 400
        body = response.content.decode()
        assert "een adres van een instelling van het netwerk (Horizon College)" in body
        assert not Person.objects.filter(email="nieuw@horizon.example").exists()
        # The real colleague's later account gets their own entry, with their own name.
        client.logout()
        sign_up(client, "nieuw@horizon.example")
        confirm_from(client, "nieuw@horizon.example")
        person = Person.objects.get(email="nieuw@horizon.example")
        assert person.last_name == "Anders"
        assert person.institution == horizon

    def test_a_lead_still_adds_a_guest_from_outside_the_network(self, client, lead):
        from tests.test_security import coalition_meeting

        meeting = coalition_meeting(lead.led_coalitions.get(), by=lead)
        login(client, lead)
        response = client.post(
            reverse("events:add_guest", args=[meeting.pk]),
            {"first_name": "Gast", "last_name": "Spreker", "email": "Gast@Extern.example"},
        )
        assert response.status_code == 302
        assert Person.objects.filter(email="gast@extern.example").exists()


def test_the_migration_normalises_existing_rows_and_leaves_clashes(db, horizon):
    from django.apps import apps
    from django.db import connection

    from members.addresses import normalise_existing_rows

    person = make_person("Oud", "Adres", horizon, email="oud@horizon.example")
    one = make_person("Een", "Van", horizon, email="een@horizon.example")
    two = make_person("Twee", "Van", horizon, email="twee@horizon.example")
    with connection.cursor() as cursor:  # raw: the model's field would normalise the update
        cursor.execute(
            "UPDATE members_person SET email = %s WHERE id = %s",
            ["Oud.Adres@Horizon.EXAMPLE", person.pk],
        )
        cursor.execute(
            "UPDATE members_person SET email = %s WHERE id = %s", ["ilse@h.example", one.pk]
        )
        cursor.execute(
            "UPDATE members_person SET email = %s WHERE id = %s", ["ilſe@h.example", two.pk]
        )
        cursor.execute("UPDATE members_emaildomain SET domain = %s", ["Horizon.Example"])
    left = normalise_existing_rows(apps)
    emails = dict(Person.objects.values_list("pk", "email"))
    assert emails[person.pk] == "oud.adres@horizon.example"
    assert (emails[one.pk], emails[two.pk]) == ("ilse@h.example", "ilſe@h.example")
    assert len(left) == 1
    assert list(EmailDomain.objects.values_list("domain", flat=True)) == ["horizon.example"]
