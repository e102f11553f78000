import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from members.models import EmailDomain, Institution, Person
from tests.conftest import login
from tests.factories import make_institution, make_person
from tests.state import nothing_changes

BUREAU_PAGES = [
    ("members:institution_list", []),
    ("members:institution_create", []),
    ("members:person_list", []),
    ("members:person_create", []),
    ("members:import", ["institutions"]),
    ("members:import", ["people"]),
    ("members:export", ["institutions"]),
    ("members:export", ["people"]),
]


def detail_pages(institution, person):
    return [
        reverse("members:institution_detail", args=[institution.pk]),
        reverse("members:institution_edit", args=[institution.pk]),
        reverse("members:person_detail", args=[person.pk]),
        reverse("members:person_edit", args=[person.pk]),
    ]


class TestPermissions:
    @pytest.mark.parametrize(("name", "args"), BUREAU_PAGES)
    def test_bureau_staff_open_every_page(self, client, bureau, name, args):
        assert login(client, bureau).get(reverse(name, args=args)).status_code == 200

    @pytest.mark.parametrize(("name", "args"), BUREAU_PAGES)
    def test_a_member_gets_403(self, client, member, name, args):
        assert login(client, member).get(reverse(name, args=args)).status_code == 403

    @pytest.mark.parametrize(("name", "args"), BUREAU_PAGES)
    def test_an_anonymous_visitor_goes_to_login(self, client, db, name, args):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))

    def test_detail_pages_are_bureau_only(self, client, bureau, member, institution):
        login(client, bureau)
        for url in detail_pages(institution, member):
            assert client.get(url).status_code == 200, url
        login(client, member)
        for url in detail_pages(institution, member):
            assert client.get(url).status_code == 403, url

    def test_a_lead_cannot_change_an_institution_or_invite(self, client, lead, member, institution):
        login(client, lead)
        with nothing_changes():
            response = client.post(
                reverse("members:institution_edit", args=[institution.pk]), {"name": "Gekaapt"}
            )
            assert response.status_code == 403
            invite = reverse("members:person_invite", args=[member.pk])
            assert client.post(invite).status_code == 403
            assert (
                client.post(
                    reverse("members:institution_end_membership", args=[institution.pk]),
                    {"member_until": "2026-01-01"},
                ).status_code
                == 403
            )
        institution.refresh_from_db()
        assert institution.name == "Deltion College"
        assert institution.member_until is None


class TestConstraints:
    def test_brin_is_unique_when_set_and_may_stay_empty(self, db):
        make_institution("A", brin="25PZ")
        make_institution("B")
        make_institution("C")  # two empty BRIN codes are fine
        with pytest.raises(IntegrityError), transaction.atomic():
            make_institution("D", brin="25PZ")

    def test_brin_format_is_checked_by_the_database(self, db):
        with pytest.raises(IntegrityError), transaction.atomic():
            Institution.objects.create(name="X", brin="1234")

    def test_person_email_is_unique_whatever_the_case(self, institution):
        make_person("Ann", "Aa", institution, email="ann@deltion.example")
        with pytest.raises(IntegrityError), transaction.atomic():
            make_person("Ann", "Bb", institution, email="ANN@Deltion.example")

    def test_an_email_domain_belongs_to_one_institution(self, institution, other_institution):
        with pytest.raises(IntegrityError), transaction.atomic():
            EmailDomain.objects.create(institution=other_institution, domain="DELTION.example")


class TestInstitutionForms:
    def test_bureau_staff_add_an_institution_with_domains(self, client, bureau):
        response = login(client, bureau).post(
            reverse("members:institution_create"),
            {
                "name": "Cibap",
                "short_name": "Cibap",
                "city": "Zwolle",
                "kind": "vakinstelling",
                "brin": "01ab",
                "domains": "cibap.example, @Cibap.nl",
                "member_since": "2015-08-01",
            },
        )
        institution = Institution.objects.get(name="Cibap")
        assert response.status_code == 302
        assert institution.brin == "01AB"
        assert sorted(institution.email_domains.values_list("domain", flat=True)) == [
            "cibap.example",
            "cibap.nl",
        ]

    def test_a_bad_brin_is_reported_next_to_the_field_and_nothing_is_saved(self, client, bureau):
        response = login(client, bureau).post(
            reverse("members:institution_create"), {"name": "Cibap", "kind": "roc", "brin": "12345"}
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert 'id="id_brin_error"' in body
        assert 'aria-invalid="true"' in body
        assert not Institution.objects.filter(name="Cibap").exists()

    def test_a_duplicate_brin_or_taken_domain_is_refused(
        self, client, bureau, institution, other_institution
    ):
        institution.brin = "25PZ"
        institution.save()
        response = login(client, bureau).post(
            reverse("members:institution_edit", args=[other_institution.pk]),
            {"name": "Albeda", "kind": "roc", "brin": "25pz", "domains": "deltion.example"},
        )
        body = response.content.decode()
        assert "Een andere instelling heeft deze BRIN-code al." in body
        assert "Dit domein hoort bij een andere instelling" in body
        other_institution.refresh_from_db()
        assert other_institution.brin == ""

    def test_ending_membership_keeps_the_institution_and_closes_sign_up(
        self, client, bureau, institution
    ):
        make_person("Eva", "Bos", institution)
        login(client, bureau).post(
            reverse("members:institution_end_membership", args=[institution.pk]),
            {"member_until": "2026-07-31"},
        )
        institution.refresh_from_db()
        assert str(institution.member_until) == "2026-07-31"
        assert institution.people.count() == 1
        assert institution not in Institution.objects.members_on()

    def test_a_person_is_added_and_bureau_flag_needs_the_bureau(self, client, bureau, institution):
        login(client, bureau)
        data = {
            "first_name": "Jan",
            "infix": "de",
            "last_name": "Vries",
            "email": "Jan@Deltion.example",
            "institution": institution.pk,
            "function": "docent",
            "is_bureau_staff": "on",
        }
        response = client.post(reverse("members:person_create"), data)
        assert "Bureaumedewerkers horen bij het bureau." in response.content.decode()
        del data["is_bureau_staff"]
        response = client.post(reverse("members:person_create"), data)
        person = Person.objects.get(email="jan@deltion.example")
        assert response.status_code == 302
        assert person.sort_name == "Vries, Jan de"


class TestLists:
    def test_live_search_returns_only_the_results(
        self, client, bureau, institution, other_institution
    ):
        response = login(client, bureau).get(
            reverse("members:institution_list"), {"q": "delt"}, headers={"HX-Request": "true"}
        )
        body = response.content.decode()
        assert "<html" not in body
        assert "Deltion College" in body
        assert "Albeda" not in body

    def test_people_are_sorted_the_dutch_way(self, client, bureau, institution):
        make_person("Jan", "Vries", institution, infix="de")
        make_person("Piet", "Aalbers", institution)
        make_person("Kees", "Zwart", institution, infix="van")
        body = (
            login(client, bureau)
            .get(reverse("members:person_list"), {"institution": institution.pk})
            .content.decode()
        )
        assert (
            body.index("Aalbers, Piet")
            < body.index("Vries, Jan de")
            < body.index("Zwart, Kees van")
        )

    def test_the_person_list_filters_by_role(self, client, bureau, institution):
        make_person("Amy", "Ambassadeur", institution, is_ambassador=True)
        make_person("Gea", "Gewoon", institution)
        body = (
            login(client, bureau)
            .get(reverse("members:person_list"), {"role": "ambassador"})
            .content.decode()
        )
        assert "Ambassadeur, Amy" in body
        assert "Gewoon" not in body

    def test_the_institution_filter_marks_the_chosen_one_and_escapes_names(
        self, client, bureau, institution
    ):
        odd = make_institution('Hout & "Meubel" <college>')
        body = (
            login(client, bureau)
            .get(reverse("members:person_list"), {"institution": odd.pk})
            .content.decode()
        )
        assert (
            f'<option value="{odd.pk}" selected>Hout &amp; &quot;Meubel&quot; &lt;college&gt;'
            "</option>" in body
        )
        assert f'<option value="{institution.pk}">{institution.name}</option>' in body

    def test_the_lists_link_each_row_to_its_page(self, client, bureau, institution):
        person = make_person("Jan", "Jansen", institution)
        login(client, bureau)
        institutions = client.get(reverse("members:institution_list")).content.decode()
        people = client.get(reverse("members:person_list")).content.decode()
        detail = reverse("members:institution_detail", args=[institution.pk])
        person_link = f'<a href="{reverse("members:person_detail", args=[person.pk])}">Jansen, Jan'
        assert f'<a href="{detail}">{institution.name}</a>' in institutions
        assert person_link in people
        assert person_link in client.get(detail).content.decode()


class TestQueryBudget:
    def grow(self, n, institution):
        for _ in range(n):
            other = make_institution()
            make_person("P", None, other)
            make_person("Q", None, institution)

    @pytest.mark.parametrize("name", ["members:institution_list", "members:person_list"])
    def test_lists_run_a_fixed_number_of_queries(
        self, client, bureau, institution, django_assert_max_num_queries, name
    ):
        login(client, bureau).get(
            reverse("home")
        )  # the first request also records the login session
        self.grow(3, institution)
        with django_assert_max_num_queries(12) as small:
            client.get(reverse(name))
        self.grow(30, institution)
        with django_assert_max_num_queries(len(small.captured_queries)):
            client.get(reverse(name))

    def test_institution_detail_runs_a_fixed_number_of_queries(
        self, client, bureau, institution, django_assert_max_num_queries
    ):
        from tests.factories import make_coalition

        login(client, bureau).get(reverse("home"))
        self.grow(2, institution)
        with django_assert_max_num_queries(12) as small:
            client.get(reverse("members:institution_detail", args=[institution.pk]))
        self.grow(25, institution)
        for person in institution.people.all()[:10]:
            make_coalition(leads=[person])
        with django_assert_max_num_queries(len(small.captured_queries)):
            response = client.get(reverse("members:institution_detail", args=[institution.pk]))
        assert response.status_code == 200


def test_the_institution_page_shows_where_its_people_take_part(client, bureau, institution):
    import datetime as dt

    from django.utils import timezone

    from events.models import Registration, Session
    from tests.factories import make_coalition, make_membership, school_year

    person = make_person("Dirk", "Deelnemer", institution)
    coalition = make_coalition("Data 5.0")
    make_membership(person, coalition.rings.get(order=2))
    start = timezone.now() - dt.timedelta(days=7)
    session = Session.objects.create(
        title="Terugblik", start=start, end=start + dt.timedelta(hours=2), status="gepubliceerd"
    )
    Registration.objects.create(person=person, session=session, status="bevestigd", attended=True)
    body = (
        login(client, bureau)
        .get(reverse("members:institution_detail", args=[institution.pk]))
        .content.decode()
    )
    assert f"Data 5.0</a> (Flexibele ring, {school_year()})" in body
    row = body[body.index("Deelnemer, Dirk") :]
    assert "<td>1</td>" in row[: row.index("</tr>")]
    body = client.get(reverse("members:person_detail", args=[person.pk])).content.decode()
    assert "1 bijeenkomst bijgewoond." in body
