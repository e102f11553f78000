"""The network at a glance: each bureau signal appears when its condition holds and disappears
when it is solved; the participation matrix counts the memberships; the figures, the network
picture and the exports; members get 403 (tests/test_authorization_matrix.py)."""

import datetime as dt
import io
import zoneinfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from coalitions import services as coalition_services
from coalitions.models import Output
from events import services
from events.models import Session
from kwaliteitsnetwerk import glance
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import (
    in_school_year,
    make_coalition,
    make_institution,
    make_membership,
    make_person,
    school_year,
)

AMS = zoneinfo.ZoneInfo("Europe/Amsterdam")


def items(key):
    [signal] = [s for s in glance.signals() if s.key == key]
    return [label for label, _url, _detail in signal.items]


@pytest.fixture
def coalition(lead):
    return lead.led_coalitions.get()


class TestSignals:
    def test_a_coalition_near_its_end_until_it_is_extended(self, coalition, bureau):
        today = timezone.localdate()
        coalition_services.update_coalition(
            coalition, by=bureau, planned_end=today + dt.timedelta(days=20)
        )
        assert "Peer review in teams" in items("ending")
        coalition_services.update_coalition(
            coalition,
            by=bureau,
            planned_end=today + dt.timedelta(days=200),
            extension_reason="Meer tijd",
        )
        assert "Peer review in teams" not in items("ending")

    def test_a_thin_core_until_it_has_its_minimum(self, coalition, institution):
        assert "Peer review in teams" in items("rings")
        for i in range(5):
            make_membership(
                make_person("Kern", f"Lid{i}", institution), coalition.rings.get(order=1)
            )
        assert "Peer review in teams" not in items("rings")

    def test_the_start_page_shows_a_change_at_once(self, client, bureau, coalition):
        """Nothing on the start page is kept: a change through a service, and one made
        without it (a raw update, as an admin edit), show on the next request."""
        login(client, bureau)
        url = reverse("bureau_dashboard")

        def ending_section():
            body = client.get(url).content.decode()
            return body[body.index('id="signaal-ending"') :].split("</section>")[0]

        assert "Peer review in teams" not in ending_section()
        coalition_services.update_coalition(
            coalition, by=bureau, planned_end=timezone.localdate() + dt.timedelta(days=20)
        )
        assert "Peer review in teams" in ending_section()
        type(coalition).objects.filter(pk=coalition.pk).update(
            planned_end=timezone.localdate() + dt.timedelta(days=300)
        )
        assert "Peer review in teams" not in ending_section()

    def test_a_long_signal_lists_fifteen_and_counts_the_rest(
        self, client, bureau, coalition, institution
    ):
        for i in range(17):
            make_institution(f"Zonder coalitie {i:02d}")
        [nowhere] = [s for s in glance.signals() if s.key == "nowhere"]
        assert len(nowhere.items) == glance.SHOWN == 15
        assert nowhere.count == 17
        body = login(client, bureau).get(reverse("bureau_dashboard")).content.decode()
        section = body[body.index('id="signaal-nowhere"') :].split("</section>")[0]
        assert '<span class="badge badge-warn">17</span>' in section
        assert "en nog 2" in section
        assert section.count("<li>") == 15
        # "and 2 more" leads to the signal's own page, which lists all seventeen.
        page = reverse("bureau_signal", args=["nowhere"])
        assert f'<a href="{page}">en nog 2</a>' in section
        full = client.get(page).content.decode()
        listed = full[full.index("<h1>") :]
        assert listed.count("<li>") == 17
        assert "Zonder coalitie 16" in listed
        assert "Zonder coalitie 00" in listed
        assert "en nog" not in listed

    def test_each_signal_has_its_own_page_and_no_other_key_does(self, client, bureau):
        login(client, bureau)
        for key in glance.SIGNALS:
            assert client.get(reverse("bureau_signal", args=[key])).status_code == 200
        assert client.get(reverse("bureau_signal", args=["nothing"])).status_code == 404

    def test_a_signals_page_asks_a_fixed_number_of_queries(
        self, client, bureau, coalition, institution, django_assert_max_num_queries
    ):
        login(client, bureau)
        page = reverse("bureau_signal", args=["nowhere"])
        client.get(page)
        with django_assert_max_num_queries(8) as few:
            client.get(page)
        for i in range(30):
            make_institution(f"Nergens {i:02d}")
        with django_assert_max_num_queries(len(few)):
            assert client.get(page).content.decode().count("Nergens") == 30

    def test_a_full_core_with_people_waiting(self, coalition, institution, lead):
        kern = coalition.rings.get(order=1)
        for i in range(kern.capacity):
            make_membership(make_person("Kern", f"Vol{i}", institution), kern)
        assert "Peer review in teams" not in items("rings")
        request = coalition_services.join_ring(
            make_person("Wil", "Erin", institution), kern, motivation="Graag"
        )
        assert "Peer review in teams" in items("rings")
        coalition_services.decline_request(request, by=lead, message="Vol")
        assert "Peer review in teams" not in items("rings")

    def test_a_request_waiting_more_than_a_week(self, coalition, institution, lead):
        with time_machine.travel(timezone.now() - dt.timedelta(days=8)):
            request = coalition_services.join_ring(
                make_person("Lang", "Wachten", institution), coalition.rings.get(order=1)
            )
        assert any("Lang Wachten" in label for label in items("requests"))
        coalition_services.accept_request(request, by=lead)
        assert not any("Lang Wachten" in label for label in items("requests"))

    def test_a_session_filling_up_until_places_are_added(self, institution, bureau):
        session = make_session(title="Drukke dag", capacity=5)
        for i in range(4):
            services.register(make_person("Veel", f"Animo{i}", institution), session)
        assert "Drukke dag" in items("filling")
        services.change_session(session, by=bureau, capacity=20)
        assert "Drukke dag" not in items("filling")

    def test_few_answers_close_to_the_deadline(self, institution, member):
        others = [make_person("Stil", f"Lid{i}", institution, account=True) for i in range(5)]
        session = make_session(
            title="Stille dag", signup_deadline=timezone.now() + dt.timedelta(days=3)
        )
        assert "Stille dag" in items("answers")
        for person in [member, *others]:
            services.register(person, session)
        assert "Stille dag" not in items("answers")

    def test_an_institution_in_no_coalition_this_year(self, coalition, other_institution):
        assert "Albeda" in items("nowhere")
        make_membership(make_person("Al", "Beda", other_institution), coalition.rings.get(order=2))
        assert "Albeda" not in items("nowhere")

    def test_someone_who_keeps_missing_until_they_come(self, coalition, lead, institution):
        kern = coalition.rings.get(order=1)
        with time_machine.travel(in_school_year(9, 2, 9, 0)):
            away = make_person("Vaak", "Weg", institution)
            make_membership(away, kern)
            registrations = []
            for day in (10, 24):
                meeting = make_session(
                    start=in_school_year(9, day, 13, 0),
                    kind=Session.Kind.COALITION,
                    organiser_coalition=coalition,
                    signup_deadline=None,
                )
                meeting.coalitions.add(coalition)
                registrations.append(services.register(away, meeting))
        with time_machine.travel(in_school_year(10, 1, 9, 0)):
            assert any("Vaak Weg" in label for label in items("missing"))
            services.mark_attendance(registrations[-1], attended=True, by=lead)
            assert not any("Vaak Weg" in label for label in items("missing"))

    def test_the_missed_sessions_are_counted_since_the_last_one_they_came_to(
        self, coalition, lead, institution
    ):
        kern = coalition.rings.get(order=1)
        with time_machine.travel(in_school_year(9, 2, 9, 0)):
            away = make_person("Vaak", "Weg", institution)
            make_membership(away, kern)
            registrations = []
            for day in (8, 15, 22, 29):
                meeting = make_session(
                    start=in_school_year(9, day, 13, 0),
                    kind=Session.Kind.COALITION,
                    organiser_coalition=coalition,
                    signup_deadline=None,
                )
                meeting.coalitions.add(coalition)
                registrations.append(services.register(away, meeting))
        with time_machine.travel(in_school_year(10, 6, 9, 0)):
            services.mark_attendance(registrations[0], attended=True, by=lead)
            [missing] = [s for s in glance.signals() if s.key == "missing"]
            assert [detail for label, _url, detail in missing.items if "Vaak Weg" in label] == [
                "miste de laatste 3"
            ]

    def test_the_dashboard_links_each_item_where_it_is_solved(self, client, bureau, coalition):
        body = login(client, bureau).get(reverse("bureau_dashboard")).content.decode()
        rings = body[body.index('id="signaal-rings"') :]
        rings = rings[: rings.index("</section>")]
        assert reverse("coalitions:board", args=[coalition.pk]) in rings
        assert "Op te lossen via: het ringenbord" in rings


class TestMatrix:
    @pytest.fixture
    def year(self, coalition, institution, other_institution, lead):
        other = make_coalition("Kansengelijkheid")
        make_membership(make_person("A", "Kern1", institution), coalition.rings.get(order=1))
        make_membership(make_person("B", "Kern2", institution), coalition.rings.get(order=1))
        make_membership(make_person("C", "Flex", institution), coalition.rings.get(order=2))
        make_membership(make_person("D", "Albeda", other_institution), other.rings.get(order=2))
        ended = make_membership(
            make_person("E", "Weg", other_institution), other.rings.get(order=1)
        )
        coalition_services.leave(ended, person=ended.person)
        return school_year()

    def test_the_cells_and_totals_match_the_memberships(self, year, coalition, institution):
        table = glance.matrix(year)
        names = [c.name for c in table.coalitions]
        rows = {institution.name: (cells, total) for institution, cells, total in table.rows}
        cells, total = rows["Deltion College"]
        peer = cells[names.index("Peer review in teams")]
        assert dict(peer) == {"Kern": 2, "Flexibele ring": 1, "Trekker": 1}
        assert cells[names.index("Kansengelijkheid")] == []
        assert total == 4  # three in rings and the lead
        albeda, albeda_total = rows["Albeda"]
        assert albeda[names.index("Kansengelijkheid")] == [("Flexibele ring", 1)]  # not who left
        assert albeda_total == 1
        assert table.column_totals[names.index("Peer review in teams")] == 4
        assert table.total == 5

    def test_filters_csv_and_the_page(self, year, client, bureau, coalition):
        assert [c.name for c in glance.matrix(year, kind="aoc").coalitions] == [
            c.name for c in glance.matrix(year).coalitions
        ]
        assert glance.matrix(year, kind="aoc").rows == []
        login(client, bureau)
        page = client.get(reverse("participation"), {"jaar": year}).content.decode()
        assert '<th scope="row"><a href="' in page
        assert "Kern: 2<br>" in page
        csv = b"".join(
            client.get(reverse("participation"), {"jaar": year, "formaat": "csv"}).streaming_content
        ).decode("utf-8-sig")
        assert "Deltion College;" in csv
        assert "Flexibele ring: 1, Kern: 2, Trekker: 1" in csv

    def test_the_page_shows_institutions_a_page_at_a_time_the_csv_all(
        self, year, client, bureau, coalition
    ):
        from kwaliteitsnetwerk.views import MATRIX_PAGE

        kern = coalition.rings.get(order=1)
        for i in range(MATRIX_PAGE + 2):
            make_membership(
                make_person("M", f"Mee{i}", make_institution(f"Zz Instelling {i:02d}")), kern
            )
        login(client, bureau)
        first = client.get(reverse("participation"), {"jaar": year}).content.decode()
        second = client.get(reverse("participation"), {"jaar": year, "page": 2}).content.decode()
        rows = first.count('<th scope="row"><a href=') + second.count('<th scope="row"><a href=')
        assert first.count('<th scope="row"><a href=') == MATRIX_PAGE
        assert rows == len(glance.matrix(year).rows) == MATRIX_PAGE + 4
        assert "Zz Instelling 26" in second
        assert "Zz Instelling 26" not in first
        csv = b"".join(
            client.get(reverse("participation"), {"jaar": year, "formaat": "csv"}).streaming_content
        ).decode("utf-8-sig")
        assert "Zz Instelling 00;" in csv
        assert "Zz Instelling 26;" in csv


class TestFiguresNetworkAndReport:
    def test_the_figures_of_a_year_against_the_year_before(self, coalition, institution, lead):
        make_membership(make_person("A", "Kern1", institution), coalition.rings.get(order=1))
        with time_machine.travel(in_school_year(9, 20, 9, 0)):
            held = make_session(start=in_school_year(10, 1, 13, 0), signup_deadline=None)
            came = services.register(make_person("B", "Kwam", institution), held)
            services.register(make_person("C", "Niet", institution), held)
        with time_machine.travel(in_school_year(10, 20, 9, 0)):
            services.mark_attendance(came, attended=True, by=lead)
            Output.objects.create(coalition=coalition, title="Handreiking", url="https://x.org/")
            data = glance.compared(school_year())
        rows = {str(label): (now, before) for label, now, before in data["rows"]}
        assert rows["Personen in een kern"] == (1, 0)
        assert rows["Gehouden bijeenkomsten"] == (1, 0)
        assert rows["Aanmeldingen"] == (2, 0)
        assert rows["Opkomst (%)"] == (100, 0)  # one marked, present
        assert rows["Gepubliceerde opbrengsten"] == (1, 0)
        statuses = {str(label): (now, before) for label, now, before in data["status_rows"]}
        assert statuses["Actief"] == (1, 0)

    def test_outputs_count_in_the_school_year_of_their_coalition(self, coalition, lead):
        last_year = make_coalition("Vorig jaar", leads=[lead], school_year=school_year(-1))
        with time_machine.travel(in_school_year(10, 20, 9, 0)):
            # Posted after the summer, for the coalition of the year before.
            Output.objects.create(coalition=last_year, title="Eindproduct", url="https://x.org/")
        rows = {
            str(label): (now, before)
            for label, now, before in glance.compared(school_year())["rows"]
        }
        assert rows["Gepubliceerde opbrengsten"] == (0, 1)

    def test_the_pages_draw_svg_with_a_text_alternative(
        self, client, bureau, coalition, institution
    ):
        make_membership(make_person("A", "Kern1", institution), coalition.rings.get(order=1))
        login(client, bureau)
        figures = client.get(reverse("figures"), {"jaar": school_year()}).content.decode()
        assert figures.count('<svg class="chart"') == 2
        assert f'<th scope="row">Actief</th><td data-label="{school_year()}">1</td>' in figures
        picture = client.get(reverse("network_picture"), {"jaar": school_year()}).content.decode()
        assert "<circle" in picture
        assert "<line" in picture
        assert reverse("members:institution_detail", args=[institution.pk]) in picture
        connections = picture[picture.index("Dezelfde verbindingen als tabel") :]
        assert "Peer review in teams</a></th><td" in connections
        assert "Deltion College</td>" in connections
        # Each tie is named, for a pointer (title) and for the keyboard (a link with a name).
        assert 'aria-label="Deltion College doet mee aan Peer review in teams"' in picture
        assert "<title>Deltion College doet mee aan Peer review in teams</title>" in picture

    def test_the_layout_is_the_same_every_time(self, coalition, institution):
        make_membership(make_person("A", "Kern1", institution), coalition.rings.get(order=1))
        assert glance.network(school_year()) == glance.network(school_year())

    def test_the_annual_report_opens_as_a_workbook(self, client, bureau, coalition, institution):
        from openpyxl import load_workbook

        make_membership(make_person("A", "Kern1", institution), coalition.rings.get(order=1))
        response = login(client, bureau).get(reverse("annual_report"), {"jaar": school_year()})
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
        workbook = load_workbook(io.BytesIO(response.content))
        assert workbook.sheetnames == ["Cijfers", "Deelname"]
        values = list(workbook["Cijfers"].iter_rows(values_only=True))
        assert ("Personen in een kern", 1, 0) in values
        matrix = list(workbook["Deelname"].iter_rows(values_only=True))
        assert matrix[1][0] == "Deltion College"

    def test_the_annual_report_has_its_charts(self, client, bureau, coalition, institution):
        """Two bar charts (by status; people, sessions and outputs), this year beside the year
        before, drawn from the figures' own cells."""
        import zipfile

        from openpyxl import load_workbook

        make_membership(make_person("A", "Kern1", institution), coalition.rings.get(order=1))
        response = login(client, bureau).get(reverse("annual_report"), {"jaar": "2026-2027"})
        names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
        assert sorted(n for n in names if n.startswith("xl/charts/chart")) == [
            "xl/charts/chart1.xml",
            "xl/charts/chart2.xml",
        ]
        charts = load_workbook(io.BytesIO(response.content))["Cijfers"]._charts
        assert len(charts) == 2
        titles = [
            "".join(r.t for p in chart.title.tx.rich.p for r in (p.r or [])) for chart in charts
        ]
        assert titles == ["Coalities per status", "Mensen, bijeenkomsten en opbrengsten"]
        assert all(len(chart.series) == 2 for chart in charts)  # this year and the one before


@pytest.mark.parametrize(
    "name", ["participation", "figures", "network_picture", "bureau_dashboard"]
)
def test_each_page_runs_a_fixed_number_of_queries(
    name, client, bureau, coalition, django_assert_max_num_queries
):
    def grow(n):
        for _ in range(n):
            institution = make_institution()
            other = make_coalition()
            make_membership(make_person("G", None, institution), other.rings.get(order=1))
            make_membership(make_person("H", None, institution), coalition.rings.get(order=2))
            services.register(make_person("S", None, institution), make_session())

    login(client, bureau).get(reverse("home"))
    grow(2)
    with django_assert_max_num_queries(40) as small:
        assert client.get(reverse(name)).status_code == 200
    grow(8)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse(name))


def test_the_bureau_lands_on_its_overview_and_a_member_on_theirs(client, bureau, member):
    from tests.factories import PASSWORD

    response = client.post(reverse("account_login"), {"login": bureau.email, "password": PASSWORD})
    assert response["Location"] == reverse("bureau_dashboard")
    client.logout()
    response = client.post(reverse("account_login"), {"login": member.email, "password": PASSWORD})
    assert response["Location"] == reverse("home")


def test_a_bad_theme_filter_is_ignored(client, bureau):
    response = login(client, bureau).get(reverse("participation"), {"thema": "abc"})
    assert response.status_code == 200


def test_names_in_the_workbook_are_never_formulas(client, bureau, coalition, institution):
    from openpyxl import load_workbook

    kern = coalition.rings.get(order=1)
    kern.name = '=HYPERLINK("https://evil.example","Kern")'
    kern.save()
    make_membership(make_person("A", "Kern1", institution), kern)
    response = login(client, bureau).get(reverse("annual_report"), {"jaar": school_year()})
    sheet = load_workbook(io.BytesIO(response.content))["Deelname"]
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value]
    assert all(cell.data_type != "f" for cell in cells)
    assert any(str(cell.value).startswith("'=HYPERLINK") for cell in cells)


def test_guests_do_not_count_as_answers_to_an_invitation(institution, lead, member):
    invited = [make_person("Stil", f"Lid{i}", institution, account=True) for i in range(6)]
    session = make_session(
        title="Stille dag", signup_deadline=timezone.now() + dt.timedelta(days=3)
    )
    for i in range(5):
        services.register(make_person("Gast", f"G{i}"), session, by=lead)
    assert "Stille dag" in items("answers")
    for person in [member, *invited]:
        services.register(person, session)
    assert "Stille dag" not in items("answers")


def test_a_recruiting_coalition_with_a_full_core_and_a_move_request(coalition, institution, lead):
    from coalitions.models import Coalition

    Coalition.objects.filter(pk=coalition.pk).update(status="werving")
    kern = coalition.rings.get(order=1)
    for i in range(kern.capacity):
        make_membership(make_person("Kern", f"Vol{i}", institution), kern)
    assert "Peer review in teams" not in items("rings")
    mover = make_person("Wil", "Verhuizen", institution)
    coalition_services.request_move(
        make_membership(mover, coalition.rings.get(order=2)), kern, person=mover
    )
    assert "Peer review in teams" in items("rings")


def test_requests_in_closed_coalitions_are_no_signal(coalition, institution):
    from coalitions.models import Coalition

    with time_machine.travel(timezone.now() - dt.timedelta(days=8)):
        coalition_services.join_ring(
            make_person("Lang", "Wachten", institution), coalition.rings.get(order=1)
        )
    assert any("Lang Wachten" in label for label in items("requests"))
    Coalition.objects.filter(pk=coalition.pk).update(status="afgerond")
    assert not any("Lang Wachten" in label for label in items("requests"))


def test_people_in_two_outer_rings_count_once_and_cancelled_sessions_not(
    coalition, institution, lead
):
    from coalitions.models import Ring

    other = make_coalition("Ander")
    third = Ring.objects.create(coalition=other, name="Volgers", order=3)
    person = make_person("Twee", "Ringen", institution)
    make_membership(person, coalition.rings.get(order=2))
    make_membership(person, third)
    session = make_session(start=in_school_year(12, 1, 13, 0), signup_deadline=None)
    with time_machine.travel(in_school_year(11, 1, 9, 0)):
        services.register(person, session)
        services.cancel_session(session, by=None)
    rows = {str(label): now for label, now, _before in glance.compared(school_year())["rows"]}
    assert rows["Personen in andere ringen"] == 1
    assert rows["Instellingen in andere ringen"] == 1
    assert rows["Aanmeldingen"] == 0
