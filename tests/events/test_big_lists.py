"""Big sessions: the organiser's lists are searched and paged on the server, one list at a time,
so a session of hundreds answers as fast as one of ten (issue 14)."""

import datetime as dt
import re

from django import forms
from django.forms.renderers import DjangoTemplates
from django.urls import reverse

from events import services
from events.models import PartChoice, Registration, SessionPart
from events.views import CHECKIN_MATCHES, CHECKIN_ROWS, REGISTRATIONS_PAGE
from members.models import Institution
from tests.conftest import login
from tests.events.conftest import make_session, people


def names(body: str, prefix: str) -> list[str]:
    return re.findall(rf"\b{prefix}\d{{3}}\b", body)


class TestRegistrationsPage:
    def test_the_confirmed_are_paged_in_the_order_they_signed_up(self, client, bureau, institution):
        session = make_session(capacity=REGISTRATIONS_PAGE + 5)
        crowd = people(institution, REGISTRATIONS_PAGE + 8, prefix="Q")
        for person in crowd:
            services.register(person, session)
        url = reverse("events:registrations", args=[session.pk])
        first = login(client, bureau).get(url).content.decode()
        shown = sorted(set(names(first, "Q")))
        assert shown == [f"Q{i:03d}" for i in range(REGISTRATIONS_PAGE)]
        assert f"{REGISTRATIONS_PAGE + 5} bevestigd" in first
        assert '>Wachtlijst <span class="count">3</span>' in first
        second = client.get(url, {"page": 2}).content.decode()
        assert sorted(set(names(second, "Q"))) == [
            f"Q{i:03d}" for i in range(REGISTRATIONS_PAGE, REGISTRATIONS_PAGE + 5)
        ]
        waiting = client.get(url, {"lijst": "wachtlijst"}).content.decode()
        assert sorted(set(names(waiting, "Q"))) == [
            f"Q{i:03d}" for i in range(REGISTRATIONS_PAGE + 5, REGISTRATIONS_PAGE + 8)
        ]
        # Their place on the waiting list, numbered as the session counts it.
        assert re.findall(r"<tr>\s*<td>(\d+)</td>", waiting) == ["1", "2", "3"]

    def test_a_search_finds_one_person_among_many(self, client, bureau, institution):
        session = make_session()
        for person in people(institution, 30, prefix="Z"):
            services.register(person, session)
        body = (
            login(client, bureau)
            .get(reverse("events:registrations", args=[session.pk]), {"q": "Z017"})
            .content.decode()
        )
        assert set(names(body, "Z")) == {"Z017"}
        assert "1 gevonden" in body

    def test_a_part_shows_only_who_chose_it(self, client, bureau, institution):
        session = make_session()
        start = session.start
        one, two = (
            SessionPart.objects.create(
                session=session,
                kind="plenair",
                title=title,
                start=start,
                end=start + dt.timedelta(hours=1),
            )
            for title in ("Ochtend A", "Ochtend B")
        )
        crowd = people(institution, 4, prefix="K")
        for i, person in enumerate(crowd):
            services.register(person, session, parts=[one if i % 2 else two])
        body = (
            login(client, bureau)
            .get(reverse("events:registrations", args=[session.pk]), {"onderdeel": one.pk})
            .content.decode()
        )
        assert sorted(set(names(body, "K"))) == ["K001", "K003"]
        # A choice given up in another part does not hide who still chose this one.
        PartChoice.objects.create(
            registration=Registration.objects.get(person=crowd[1]),
            part=two,
            status=Registration.Status.CANCELLED,
            queued_at=session.start - dt.timedelta(days=3),
        )
        body = client.get(
            reverse("events:registrations", args=[session.pk]), {"onderdeel": one.pk}
        ).content.decode()
        assert sorted(set(names(body, "K"))) == ["K001", "K003"]


class TestCheckIn:
    def test_the_door_list_shows_the_first_rows_and_says_more_match(
        self, client, bureau, institution
    ):
        session = make_session()
        for person in people(institution, CHECKIN_ROWS + 3, prefix="D"):
            services.register(person, session)
        url = reverse("events:checkin", args=[session.pk])
        body = login(client, bureau).get(url).content.decode()
        assert len(set(names(body, "D"))) == CHECKIN_ROWS
        assert "typ (meer van) een naam" in body
        found = client.get(url, {"q": "D03"}, HTTP_HX_REQUEST="true").content.decode()
        assert sorted(set(names(found, "D"))) == [f"D{i:03d}" for i in range(30, 33)]
        assert "typ (meer van) een naam" not in found
        many = client.get(url, {"q": "D0"}, HTTP_HX_REQUEST="true").content.decode()
        assert len(set(names(many, "D"))) == CHECKIN_MATCHES

    def test_the_walk_ins_are_the_people_the_database_finds_not_signed_up(
        self, client, bureau, institution
    ):
        """The door shows exactly the first CHECKIN_MATCHES people not signed up, also when
        most of the people matching are signed up, and a sign-up or a new person shows at once."""
        from tests.factories import make_person

        WALK_IN_SEARCH = 3 * CHECKIN_MATCHES  # more people matching than the door shows

        def shown(html):  # each name, once, in the order shown
            return list(dict.fromkeys(names(html, "W")))

        session = make_session(capacity=None)
        crowd = people(institution, WALK_IN_SEARCH + 5, prefix="W")
        url = reverse("events:checkin", args=[session.pk])
        first = login(client, bureau).get(url, {"q": "W0"}, HTTP_HX_REQUEST="true")
        walk_ins = first.content.decode().split('aria-label="Niet aangemeld"')[1]
        assert shown(walk_ins) == [f"W{i:03d}" for i in range(CHECKIN_MATCHES)]
        # All but the last three of the first thirty sign up: the door shows the people
        # after them.
        for person in crowd[: WALK_IN_SEARCH - 3]:
            services.register(person, session)
        body = client.get(url, {"q": "W0"}, HTTP_HX_REQUEST="true").content.decode()
        walk_ins = body.split('aria-label="Niet aangemeld"')[1]
        assert shown(walk_ins) == [
            f"W{i:03d}" for i in range(WALK_IN_SEARCH - 3, WALK_IN_SEARCH + 5)
        ]
        assert "W000" not in walk_ins
        # Someone new in the network is found at once.
        make_person("W000a", "Nieuw", institution)
        body = client.get(url, {"q": "W000a"}, HTTP_HX_REQUEST="true").content.decode()
        assert "W000a" in body.split('aria-label="Niet aangemeld"')[1]

    def test_the_door_list_shows_a_mark_at_once(self, client, bureau, institution):
        session = make_session()
        person = people(institution, 1, prefix="M")[0]
        registration = services.register(person, session)
        url = reverse("events:checkin", args=[session.pk])
        assert "0 van 1 aanwezig" in login(client, bureau).get(url).content.decode()
        services.mark_attendance(registration, attended=True, by=bureau)
        body = client.get(url).content.decode()
        assert "1 van 1 aanwezig" in body
        assert 'aria-pressed="true"' in body


def test_the_quicker_select_writes_what_djangos_own_writes(db, institution):
    """templates/django/forms/widgets/select.html writes options inline; the HTML must stay
    Django's (value, selected, disabled attributes, option groups)."""

    class Form(forms.Form):
        institution = forms.ModelChoiceField(Institution.objects.order_by("pk"))
        kind = forms.ChoiceField(
            choices=[("Groep", [("a", "A & co"), ("b", "B")]), ("c", "C")],
            widget=forms.Select(attrs={"aria-describedby": "help"}),
        )

    form = Form(initial={"institution": institution.pk, "kind": "b"})
    ours = str(form["institution"]) + str(form["kind"])
    form.renderer = DjangoTemplates()
    django_own = str(form["institution"]) + str(form["kind"])
    squash = lambda html: re.sub(r"\s+", " ", html).replace("> <", "><")  # noqa: E731
    assert squash(ours) == squash(django_own)
    assert f'<option value="{institution.pk}" selected>' in ours
    assert "A &amp; co" in ours


class TestKeptProgramme:
    """The session's programme is cached (by the session's versions): a sign-up shows in its
    places at once."""

    def test_the_programme_shows_a_new_sign_up(self, client, member, joint_session, institution):
        from events import services
        from tests.conftest import login
        from tests.factories import make_person

        login(client, member)
        url = f"/bijeenkomsten/{joint_session.pk}/"
        part = joint_session.parts.get(kind="plenair")
        part.capacity = 50
        part.save()

        def plenary_row():
            body = client.get(url).content.decode()
            programme = body[body.index('id="programme-heading"') :]
            row = programme[programme.index(part.title) :]
            return row[: row.index("</tr>")]

        assert "0 van 50 plaatsen bezet" in plenary_row()
        services.register(make_person("Nieuw", "Lid", institution), joint_session, parts=[part])
        assert "1 van 50 plaatsen bezet" in plenary_row()
