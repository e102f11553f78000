import pytest
from django.urls import reverse

from coalitions import services
from coalitions.models import Coalition, Input, RingMembership
from tests.conftest import login
from tests.factories import (
    make_coalition,
    make_institution,
    make_membership,
    make_person,
    theme_named,
)
from tests.state import nothing_changes


class TestLifecycle:
    def test_bureau_moves_a_coalition_one_step_forward(self, client, bureau, coalition):
        Coalition.objects.filter(pk=coalition.pk).update(status=Coalition.Status.PREPARING)
        url = reverse("coalitions:transition", args=[coalition.pk])
        asked = login(client, bureau).get(url, {"status": "werving"}).content.decode()
        assert "kan niet ongedaan worden gemaakt" in asked
        client.post(url, {"status": "werving"})  # without confirming: nothing happens
        coalition.refresh_from_db()
        assert coalition.status == "voorbereiding"
        client.post(url, {"status": "werving", "confirm": "1"})
        coalition.refresh_from_db()
        assert coalition.status == "werving"

    def test_a_disallowed_transition_is_refused_with_a_message(self, client, bureau, coalition):
        Coalition.objects.filter(pk=coalition.pk).update(status=Coalition.Status.PREPARING)
        response = login(client, bureau).post(
            reverse("coalitions:transition", args=[coalition.pk]),
            {"status": "afgerond", "confirm": "1"},
            follow=True,
        )
        assert (
            "Een coalitie die in voorbereiding is, kan niet afgerond worden."
            in response.content.decode()
        )
        coalition.refresh_from_db()
        assert coalition.status == "voorbereiding"

    def test_a_coalition_needs_a_lead_to_become_active(self, bureau):
        coalition = make_coalition("Zonder trekker", status=Coalition.Status.RECRUITING)
        with pytest.raises(services.TransitionError):
            services.transition(coalition, Coalition.Status.ACTIVE, by=bureau)

    def test_every_transition_follows_the_lifecycle(self, lead):
        coalition = make_coalition("Levensloop", leads=[lead], status=Coalition.Status.PREPARING)
        # "actief" goes through the launch, whose Kern rule tests/coalitions/test_cycle.py tests.
        coalition.rings.core().update(minimum_size=None)
        for status in ["werving", "actief", "evaluatie", "afgerond"]:
            services.transition(coalition, status, by=None)
            coalition.refresh_from_db()
            assert coalition.status == status
        with pytest.raises(services.TransitionError):
            services.transition(coalition, "actief", by=None)

    def test_a_lead_cannot_change_the_status(self, client, lead, coalition):
        login(client, lead)
        with nothing_changes():
            response = client.post(
                reverse("coalitions:transition", args=[coalition.pk]),
                {"status": "evaluatie", "confirm": "1"},
            )
        assert response.status_code == 403


class TestCreateAndEdit:
    def data(self, **extra):
        return {
            "name": "Burgerschap",
            "theme": theme_named("Burgerschap").pk,
            "school_year": "2026-2027",
            "assignment": "Maak zichtbaar hoe teams burgerschap volgen.",
            "start": "2026-09-01",
            "planned_end": "2027-06-30",
            **extra,
        }

    def test_bureau_creates_a_coalition_with_the_default_rings(self, client, bureau, lead):
        response = login(client, bureau).post(
            reverse("coalitions:create"), self.data(leads=lead.email.upper())
        )
        coalition = Coalition.objects.get(name="Burgerschap")
        assert response.status_code == 302
        assert list(coalition.rings.values_list("name", "join_policy", "capacity")) == [
            ("Kern", "verzoek", 8),
            ("Flexibele ring", "open", None),
        ]
        assert list(coalition.leads.all()) == [lead]

    def test_more_than_a_school_year_needs_a_reason(self, client, bureau):
        login(client, bureau)
        response = client.post(reverse("coalitions:create"), self.data(planned_end="2027-12-31"))
        assert 'id="id_extension_reason_error"' in response.content.decode()
        assert not Coalition.objects.filter(name="Burgerschap").exists()
        client.post(
            reverse("coalitions:create"),
            self.data(planned_end="2027-12-31", extension_reason="Uitloop door de conferentie"),
        )
        assert Coalition.objects.get(name="Burgerschap").exceeds_term()

    def test_an_unknown_lead_address_is_refused_next_to_the_field(self, client, bureau):
        response = login(client, bureau).post(
            reverse("coalitions:create"), self.data(leads="niemand@nergens.example")
        )
        assert 'id="id_leads_error"' in response.content.decode()
        assert "niemand@nergens.example" in response.content.decode()

    def test_a_lead_edits_the_content_but_not_the_dates(self, client, lead, coalition):
        login(client, lead).post(
            reverse("coalitions:edit", args=[coalition.pk]),
            {
                "theme": theme_named("Data").pk,
                "assignment": "Nieuwe opdracht",
                "planned_end": "2030-01-01",
            },
        )
        before = coalition.planned_end
        coalition.refresh_from_db()
        assert coalition.assignment == "Nieuwe opdracht"
        assert coalition.planned_end == before


class TestInput:
    def test_a_ring_member_brings_in_input_and_the_lead_answers(
        self, client, flex_member, lead, coalition
    ):
        login(client, flex_member).post(
            reverse("coalitions:input_create", args=[coalition.pk]),
            {"kind": "idee", "title": "Studenten", "body": "Betrek ze"},
        )
        item = Input.objects.get()
        assert item.author == flex_member
        assert item.status == "nieuw"
        login(client, lead).post(
            reverse("coalitions:input_reply", args=[item.pk]),
            {"status": "opgepakt", "reply": "Doen we"},
        )
        item.refresh_from_db()
        assert (item.status, item.reply, item.replied_by) == ("opgepakt", "Doen we", lead)

    def test_an_outsider_cannot_bring_in_input(self, client, outsider, coalition):
        login(client, outsider)
        with nothing_changes():
            response = client.post(
                reverse("coalitions:input_create", args=[coalition.pk]),
                {"kind": "idee", "title": "X", "body": "Y"},
            )
        assert response.status_code == 403
        assert not Input.objects.exists()

    def test_a_ring_without_the_right_cannot(self, client, flex_member, flex, coalition):
        flex.can_post_input = False
        flex.save()
        login(client, flex_member)
        with nothing_changes():
            response = client.post(
                reverse("coalitions:input_create", args=[coalition.pk]),
                {"kind": "idee", "title": "X", "body": "Y"},
            )
        assert response.status_code == 403


class TestPages:
    def test_the_member_sees_their_own_ring_stated_plainly(self, client, flex_member, coalition):
        body = (
            login(client, flex_member)
            .get(reverse("coalitions:detail", args=[coalition.pk]))
            .content.decode()
        )
        assert "Je bent lid van de ring <strong>Flexibele ring</strong>." in body
        assert "Spelregels en afspraken" in body

    def test_an_outsider_sees_the_rules_but_not_who_is_in(
        self, client, outsider, flex_member, coalition
    ):
        body = (
            login(client, outsider)
            .get(reverse("coalitions:detail", args=[coalition.pk]))
            .content.decode()
        )
        assert "Spelregels en afspraken" in body
        assert flex_member.last_name not in body
        assert flex_member.email not in body

    def test_members_see_names_but_no_email_addresses(
        self, client, flex_member, coalition, institution
    ):
        other = make_person("Oda", "Collega", institution)
        make_membership(other, coalition.rings.get(order=2))
        body = (
            login(client, flex_member)
            .get(reverse("coalitions:detail", args=[coalition.pk]))
            .content.decode()
        )
        assert "Oda Collega" in body
        assert other.email not in body

    def test_the_directory_filters_by_year_status_and_institution(
        self, client, member, institution, other_institution
    ):
        make_coalition("Oud", school_year="2021-2022", status=Coalition.Status.CLOSED)
        nieuw = make_coalition("Nieuw")
        make_membership(make_person("Ina", "Albeda", other_institution), nieuw.rings.get(order=2))
        login(client, member)
        body = client.get(reverse("coalitions:list"), {"school_year": "2021-2022"}).content.decode()
        assert "Oud" in body
        assert ">Nieuw<" not in body
        body = client.get(reverse("coalitions:list"), {"status": "afgerond"}).content.decode()
        assert "Oud" in body  # closed coalitions stay findable
        body = client.get(
            reverse("coalitions:list"), {"institution": other_institution.pk}
        ).content.decode()
        assert ">Nieuw<" in body
        assert ">Oud<" not in body


class TestQueryBudget:
    def grow(self, lead, n):
        for _ in range(n):
            institution = make_institution()
            coalition = make_coalition(leads=[lead])
            for ring in coalition.rings.all():
                for _ in range(3):
                    make_membership(make_person("R", None, institution), ring)
            Input.objects.create(coalition=coalition, title="Vraag", body="?", author=lead)
            services.join_ring(make_person("V", None, institution), coalition.rings.get(order=1))

    def grow_one(self, coalition, n):
        for _ in range(n):
            institution = make_institution()
            for ring in coalition.rings.all():
                make_membership(make_person("R", None, institution), ring)
            services.join_ring(make_person("V", None, institution), coalition.rings.get(order=1))
            Input.objects.create(coalition=coalition, title="Vraag", body="?")

    def count(self, client, url, django_assert_max_num_queries, limit=20):
        with django_assert_max_num_queries(limit) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    def test_the_directory_runs_a_fixed_number_of_queries(
        self, client, lead, django_assert_max_num_queries
    ):
        login(client, lead).get(reverse("home"))
        self.grow(lead, 2)
        small = self.count(client, reverse("coalitions:list"), django_assert_max_num_queries)
        self.grow(lead, 12)
        assert (
            self.count(client, reverse("coalitions:list"), django_assert_max_num_queries) == small
        )

    @pytest.mark.parametrize("name", ["coalitions:detail", "coalitions:board"])
    def test_coalition_page_and_ring_board_run_a_fixed_number_of_queries(
        self, client, lead, coalition, name, django_assert_max_num_queries
    ):
        login(client, lead).get(reverse("home"))
        url = reverse(name, args=[coalition.pk])
        self.grow_one(coalition, 2)
        small = self.count(client, url, django_assert_max_num_queries, limit=25)
        self.grow_one(coalition, 15)
        coalition.rings.create(name="Volgers", order=3)
        assert self.count(client, url, django_assert_max_num_queries, limit=25) == small
        assert RingMembership.objects.filter(coalition=coalition).count() > 30


class TestThemes:
    """Themes are a list the bureau keeps: "data" and "Data" are one theme."""

    def test_the_filter_shows_each_theme_once(self, client, member, lead):
        make_coalition("Eerste", theme="Data")
        make_coalition("Tweede", theme="data")
        body = login(client, member).get(reverse("coalitions:list")).content.decode()
        options = body.split('id="theme"')[1].split("</select>")[0]
        assert options.count(">Data<") == 1
        assert ">data<" not in options

    def test_the_bureau_adds_renames_and_merges_themes(self, client, bureau):
        from coalitions.models import Theme

        login(client, bureau)
        client.post(reverse("coalitions:themes"), {"name": "Burgerschap"})
        client.post(reverse("coalitions:themes"), {"name": "burgerschap"})  # refused
        assert Theme.objects.filter(name__iexact="burgerschap").count() == 1
        typo = Theme.objects.create(name="Burgerschp")
        coalition = make_coalition("Met typfout", theme="Burgerschp")
        right = Theme.objects.get(name="Burgerschap")
        client.post(reverse("coalitions:themes"), {"theme": typo.pk, "into": right.pk})
        coalition.refresh_from_db()
        assert coalition.theme == right
        assert not Theme.objects.filter(pk=typo.pk).exists()
        client.post(reverse("coalitions:themes"), {"theme": right.pk, "name": "Burgerschap mbo"})
        right.refresh_from_db()
        assert right.name == "Burgerschap mbo"
