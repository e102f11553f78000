import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from coalitions.models import RingMembership
from events import services
from events.models import CalendarFeed, Registration, Session, SessionPart
from members.models import Person
from tests.conftest import login
from tests.events.conftest import make_session, people
from tests.factories import make_coalition, make_institution, make_membership, make_person
from tests.state import nothing_changes

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class TestProgramme:
    def test_adding_coalitions_makes_a_work_part_each_for_their_core(
        self, client, bureau, lead, other_lead
    ):
        session = make_session(status=Session.Status.DRAFT)
        ours, theirs = lead.led_coalitions.get(), other_lead.led_coalitions.get()
        login(client, bureau).post(
            reverse("events:programme_coalitions", args=[session.pk]),
            {"coalitions": [ours.pk, theirs.pk]},
        )
        parts = session.parts.filter(kind="werken").order_by("coalition__name")
        assert [p.coalition for p in parts] == [theirs, ours]
        for part in parts:
            assert [r.name for r in part.invited_rings.all()] == ["Kern"]
        assert set(session.coalitions.all()) == {ours, theirs}

    def test_the_organiser_invites_the_flexible_ring_too(
        self, client, bureau, joint_session, coalition
    ):
        work = joint_session.parts.get(kind="werken")
        rings = coalition.rings.order_by("order")
        login(client, bureau).post(
            reverse("events:part_edit", args=[joint_session.pk, work.pk]),
            {
                "kind": "werken",
                "title": work.title,
                "coalition": coalition.pk,
                "start": timezone.localtime(work.start).strftime("%Y-%m-%dT%H:%M"),
                "end": timezone.localtime(work.end).strftime("%Y-%m-%dT%H:%M"),
                "invited_rings": [r.pk for r in rings],
            },
        )
        assert set(work.invited_rings.all()) == set(rings)

    def test_a_lead_creates_a_meeting_of_their_coalition(self, client, lead, coalition):
        response = login(client, lead).post(
            reverse("events:create"),
            {
                "title": "Werksessie",
                "kind": "coalitiebijeenkomst",
                "organiser_coalition": coalition.pk,
                "form": "fysiek",
                "start": "2027-01-10T13:00",
                "end": "2027-01-10T15:00",
            },
        )
        session = Session.objects.get(title="Werksessie")
        assert response.status_code == 302
        assert session.status == "concept"
        assert session.organiser_coalition == coalition
        assert (
            client.post(reverse("events:publish", args=[session.pk]), {"confirm": "1"}).status_code
            == 302
        )
        session.refresh_from_db()
        assert session.status == "gepubliceerd"

    def test_bad_times_are_refused_next_to_the_field(self, client, bureau):
        response = login(client, bureau).post(
            reverse("events:create"),
            {
                "title": "Fout",
                "kind": "netwerkbijeenkomst",
                "form": "online",
                "start": "2027-01-10T13:00",
                "end": "2027-01-10T12:00",
            },
        )
        body = response.content.decode()
        assert 'id="id_end_error"' in body
        assert 'id="id_online_link_error"' in body
        assert not Session.objects.filter(title="Fout").exists()


class TestAttendance:
    def test_the_lead_marks_someone_of_their_coalition_present_in_place(
        self, client, lead, joint_session, flex_member_of_lead
    ):
        registration = services.register(flex_member_of_lead, joint_session)
        response = login(client, lead).post(
            reverse("events:mark", args=[registration.pk]),
            {"attended": "1"},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200
        assert f'id="reg-{registration.pk}"' in response.content.decode()
        registration.refresh_from_db()
        assert registration.attended is True
        assert registration.checked_in_at is not None

    def test_search_by_name_on_the_check_in_page(self, client, bureau, session, institution):
        services.register(make_person("Anna", "Zoekmij", institution), session)
        services.register(make_person("Bert", "Anders", institution), session)
        body = (
            login(client, bureau)
            .get(
                reverse("events:checkin", args=[session.pk]),
                {"q": "zoek"},
                headers={"HX-Request": "true"},
            )
            .content.decode()
        )
        assert "Zoekmij" in body
        assert "Anders" not in body

    def test_a_walk_in_is_added_as_present_even_when_full(self, client, bureau, institution):
        session = make_session(capacity=1)
        services.register(make_person("Vol", "Bezet", institution), session)
        walker = make_person("Loop", "Binnen", institution, email="loop@deltion.example")
        login(client, bureau)
        found = client.get(
            reverse("events:checkin", args=[session.pk]),
            {"wie": "binnen"},
            headers={"HX-Request": "true"},
        )
        assert "Loop Binnen" in found.content.decode()
        assert "Vol Bezet" not in found.content.decode()  # already signed up: in the list above
        client.post(reverse("events:walk_in", args=[session.pk]), {"person": walker.pk})
        registration = Registration.objects.get(person=walker)
        assert (registration.status, registration.attended, registration.walk_in) == (
            "bevestigd",
            True,
            True,
        )

    def test_the_presence_list_exports_csv(self, client, bureau, session, institution):
        registration = services.register(make_person("Csv", "Exporteer", institution), session)
        services.mark_attendance(registration, attended=True, by=None)
        response = login(client, bureau).get(
            reverse("events:presence_list", args=[session.pk]), {"format": "csv"}
        )
        content = b"".join(response.streaming_content).decode("utf-8-sig")
        assert response["Content-Type"].startswith("text/csv")
        assert "Exporteer;;Csv;Deltion College;aanwezig" in content

    # A fixed day in the school year 2026-2027: the count starts on 1 September, so a test on
    # "today" would fail every September.
    @time_machine.travel(dt.datetime(2027, 3, 15, 12, tzinfo=AMSTERDAM), tick=False)
    def test_the_ring_board_flags_only_sessions_the_ring_was_invited_to(
        self, client, lead, coalition, institution
    ):
        kern, flex = coalition.rings.get(order=1), coalition.rings.get(order=2)
        loyal, absent, flexible = (
            make_person("Trouw", "Lid", institution),
            make_person("Afwezig", "Lid", institution),
            make_person("Flexibel", "Lid", institution),
        )
        for person, ring in ((loyal, kern), (absent, kern), (flexible, flex)):
            membership = make_membership(person, ring)
            membership.started_at = dt.datetime(2026, 9, 1, tzinfo=AMSTERDAM)
            membership.save(update_fields=["started_at"])
        # Two joint sessions whose work part invited only the Kern.
        for day in (dt.datetime(2027, 1, 12, 10), dt.datetime(2027, 2, 16, 10)):
            session = make_session(start=day.replace(tzinfo=AMSTERDAM), signup_deadline=None)
            services.add_coalitions(session, [coalition], by=None)
            for person in (loyal, absent):
                registration = Registration.objects.create(
                    person=person, session=session, status="bevestigd"
                )
                services.mark_attendance(registration, attended=person == loyal, by=None)
        # Last school year does not count.
        old = make_session(start=dt.datetime(2026, 6, 2, 10, tzinfo=AMSTERDAM))
        services.add_coalitions(old, [coalition], by=None)

        stats = services.commitment(RingMembership.objects.filter(coalition=coalition))
        assert (stats[loyal.pk].invited, stats[loyal.pk].attended) == (2, 2)
        assert stats[absent.pk].missed_last_two
        assert not stats[absent.pk].keeps
        assert not stats[loyal.pk].missed_last_two
        assert stats[loyal.pk].keeps
        assert stats[flexible.pk].invited == 0  # only the Kern was invited
        assert not stats[flexible.pk].missed_last_two

        body = (
            login(client, lead)
            .get(reverse("coalitions:board", args=[coalition.pk]))
            .content.decode()
        )
        assert "was bij 2 van 2 bijeenkomsten" in body
        assert body.count("miste de laatste twee bijeenkomsten") == 1  # Afwezig, not Flexibel

    @time_machine.travel(dt.datetime(2027, 3, 15, 12, tzinfo=AMSTERDAM), tick=False)
    def test_a_coalition_meeting_for_all_rings_counts_for_the_flexible_ring(
        self, coalition, institution
    ):
        flexible = make_person("Flexibel", "Lid", institution)
        membership = make_membership(flexible, coalition.rings.get(order=2))
        membership.started_at = dt.datetime(2026, 9, 1, tzinfo=AMSTERDAM)
        membership.save(update_fields=["started_at"])
        for day in (dt.datetime(2027, 1, 12, 10), dt.datetime(2027, 2, 16, 10)):
            services.create_session(
                by=None,
                title="Coalitiebijeenkomst",
                kind=Session.Kind.COALITION,
                organiser_coalition=coalition,
                status=Session.Status.PUBLISHED,
                start=day.replace(tzinfo=AMSTERDAM),
                end=day.replace(tzinfo=AMSTERDAM) + dt.timedelta(hours=2),
            )
        stats = services.commitment([membership])
        assert stats[flexible.pk].invited == 2
        assert stats[flexible.pk].missed_last_two

    @time_machine.travel(dt.datetime(2027, 3, 15, 12, tzinfo=AMSTERDAM), tick=False)
    def test_sessions_before_someone_joined_their_ring_do_not_count(self, coalition, institution):
        newcomer = make_person("Nieuw", "Lid", institution)
        session = make_session(start=dt.datetime(2027, 1, 12, 10, tzinfo=AMSTERDAM))
        services.add_coalitions(session, [coalition], by=None)
        membership = make_membership(newcomer, coalition.rings.get(order=1))  # joined today
        stats = services.commitment([membership])
        assert stats[newcomer.pk].invited == 0
        assert stats[newcomer.pk].keeps


class TestCalendar:
    def parse(self, content: bytes):
        calendar = Calendar.from_ical(content)
        events = list(calendar.walk("VEVENT"))
        return calendar, events

    def test_the_ics_parses_and_keeps_its_uid_while_the_sequence_rises(
        self, client, member, session, bureau
    ):
        login(client, member)
        _cal, [first] = self.parse(client.get(reverse("events:ics", args=[session.pk])).content)
        assert str(first["uid"]) == f"{session.uid}@kwaliteitsnetwerk"
        assert first.decoded("dtstart").tzinfo is not None
        assert str(first.decoded("dtstart").tzinfo) in {
            "Europe/Amsterdam",
            "CET",
        } or "Amsterdam" in str(first["dtstart"].params.get("TZID"))
        login(client, bureau).post(
            reverse("events:edit", args=[session.pk]),
            {
                "title": "Nieuwe titel",
                "kind": session.kind,
                "form": "fysiek",
                "start": timezone.localtime(session.start).strftime("%Y-%m-%dT%H:%M"),
                "end": timezone.localtime(session.end + dt.timedelta(hours=1)).strftime(
                    "%Y-%m-%dT%H:%M"
                ),
            },
        )
        _cal, [second] = self.parse(
            login(client, member).get(reverse("events:ics", args=[session.pk])).content
        )
        assert str(second["uid"]) == str(first["uid"])
        assert int(second["sequence"]) > int(first["sequence"])
        assert str(second["summary"]) == "Nieuwe titel"

    def test_the_waiting_list_is_tentative_in_the_calendar_until_the_person_moves_up(
        self, client, member, institution
    ):
        session = make_session(capacity=1)
        first = services.register(make_person("Eerst", "Er", institution), session)
        services.register(member, session)
        feed = CalendarFeed.objects.create(person=member)
        login(client, member)
        for content in (
            client.get(reverse("events:ics", args=[session.pk])).content,
            client.get(reverse("events:feed", args=[feed.token])).content,
        ):
            _cal, [event] = self.parse(content)
            assert str(event["status"]) == "TENTATIVE"
            assert "(wachtlijst)" in str(event["summary"])
            waiting_sequence = int(event["sequence"])
        services.cancel(first, by=None)
        _cal, [event] = self.parse(client.get(reverse("events:feed", args=[feed.token])).content)
        assert str(event["status"]) == "CONFIRMED"
        assert "wachtlijst" not in str(event["summary"])
        assert int(event["sequence"]) > waiting_sequence

    def test_a_cancelled_session_gives_a_cancelled_event_and_tells_everyone(
        self, member, session, bureau, django_capture_on_commit_callbacks
    ):
        from django.core import mail

        services.register(member, session)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            services.cancel_session(session, by=bureau)
        assert [m.to for m in mail.outbox] == [[member.email]]
        attachment = mail.outbox[0].attachments[0]
        calendar, [event] = self.parse(
            attachment[1].encode() if isinstance(attachment[1], str) else attachment[1]
        )
        assert str(calendar["method"]) == "CANCEL"
        assert str(event["status"]) == "CANCELLED"
        assert str(event["uid"]) == f"{session.uid}@kwaliteitsnetwerk"

    def test_the_personal_feed_has_my_sessions_and_refuses_a_wrong_token(
        self, client, member, institution
    ):
        mine, other = make_session(title="Mijn sessie"), make_session(title="Andere sessie")
        services.register(member, mine)
        services.register(make_person("Iemand", "Anders", institution), other)
        login(client, member).post(reverse("events:renew_feed"))
        feed = CalendarFeed.objects.get(person=member)
        client.logout()
        response = client.get(reverse("events:feed", args=[feed.token]))
        _cal, events = self.parse(response.content)
        assert [str(e["summary"]) for e in events] == ["Mijn sessie"]
        assert client.get(reverse("events:feed", args=["verkeerd-token"])).status_code == 404

    def test_renewing_the_feed_breaks_the_old_address(self, client, member):
        login(client, member).post(reverse("events:renew_feed"))
        old = CalendarFeed.objects.get(person=member).token
        client.post(reverse("events:renew_feed"))
        new = CalendarFeed.objects.get(person=member).token
        assert old != new
        assert client.get(reverse("events:feed", args=[old])).status_code == 404
        assert client.get(reverse("events:feed", args=[new])).status_code == 200
        assert new in client.get(reverse("members:my_account")).content.decode()


class TestQueryBudget:
    def grow(self, n, coalition):
        institution = make_institution()
        for _ in range(n):
            session = make_session(capacity=5)
            session.coalitions.add(coalition)
            start = session.start
            part = SessionPart.objects.create(
                session=session,
                kind="plenair",
                title="P",
                start=start,
                end=start + dt.timedelta(hours=1),
                capacity=3,
            )
            services.add_coalitions(session, [coalition], by=None)
            for person in people(institution, 7, prefix=f"S{session.pk}"):
                registration = services.register(person, session, parts=[part])
                services.mark_attendance(registration, attended=True, by=None)

    def measure(self, client, url, django_assert_max_num_queries):
        from django.core.cache import caches

        caches["fragments"].clear()  # the budget of rendering it, not of reading the cache
        with django_assert_max_num_queries(25) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    def test_the_session_list_runs_a_fixed_number_of_queries(
        self, client, lead, coalition, django_assert_max_num_queries
    ):
        login(client, lead).get(reverse("home"))
        self.grow(2, coalition)
        small = self.measure(client, reverse("events:list"), django_assert_max_num_queries)
        self.grow(8, coalition)
        assert self.measure(client, reverse("events:list"), django_assert_max_num_queries) == small

    @pytest.mark.parametrize("name", ["events:detail", "events:checkin", "events:registrations"])
    def test_session_pages_run_a_fixed_number_of_queries(
        self, client, bureau, lead, name, django_assert_max_num_queries
    ):
        login(client, bureau).get(reverse("home"))
        session = make_session(capacity=20)
        start = session.start
        institution = make_institution()
        for i in range(2):
            SessionPart.objects.create(
                session=session,
                kind="plenair",
                title=f"P{i}",
                start=start + dt.timedelta(hours=i),
                end=start + dt.timedelta(hours=i + 1),
                capacity=4,
            )
        parts = list(session.parts.all())
        for person in people(institution, 3, prefix="a"):
            services.register(person, session, parts=parts)
        url = reverse(name, args=[session.pk])
        small = self.measure(client, url, django_assert_max_num_queries)
        for person in people(institution, 30, prefix="b"):
            services.register(person, session, parts=parts)
        coalition = make_coalition(leads=[lead])
        services.add_coalitions(session, [coalition], by=None)
        SessionPart.objects.create(
            session=session,
            kind="uitwisseling",
            title="Extra",
            start=start + dt.timedelta(hours=3),
            end=start + dt.timedelta(hours=4),
        )
        assert self.measure(client, url, django_assert_max_num_queries) == small


class TestAtTheDoor:
    def test_one_search_finds_the_signed_up_and_the_others_with_the_count(
        self, client, bureau, institution
    ):
        session = make_session()
        services.register(make_person("Anna", "Aangemeld", institution), session)
        make_person("Bart", "Aangemeldniet", institution)
        login(client, bureau)
        body = client.get(
            reverse("events:checkin", args=[session.pk]),
            {"q": "aangemeld"},
            headers={"HX-Request": "true"},
        ).content.decode()
        assert body.lstrip().startswith('<div id="results">')
        signed_up, others = body.split("Niet aangemeld", 1)
        assert "Anna Aangemeld" in signed_up
        assert "Bart Aangemeldniet" in others
        assert "0 van 1 aanwezig" in body

    def test_marking_someone_updates_the_count_in_the_same_swap(self, client, bureau, institution):
        session = make_session()
        registration = services.register(make_person("Anna", "Teller", institution), session)
        body = (
            login(client, bureau)
            .post(
                reverse("events:mark", args=[registration.pk]),
                {"attended": "1", "q": "teller"},
                headers={"HX-Request": "true"},
            )
            .content.decode()
        )
        assert "1 van 1 aanwezig" in body
        assert 'id="results"' in body

    def test_a_guest_not_in_the_system_is_added_and_marked_present(self, client, bureau):
        session = make_session()
        response = login(client, bureau).post(
            reverse("events:add_guest", args=[session.pk]),
            {"first_name": "Gast", "last_name": "Spreker", "email": "gast@extern.example"},
        )
        assert response.status_code == 302
        registration = Registration.objects.get(
            session=session, person__email="gast@extern.example"
        )
        assert registration.attended is True
        assert registration.walk_in is True
        assert registration.person.institution.kind == "extern"
        assert registration.person.user is None
        body = client.get(reverse("bureau_dashboard")).content.decode()
        assert "Gasten en externen" not in body  # not an institution "taking part nowhere"

    def test_a_known_address_is_not_registered_twice(self, client, bureau, member):
        session = make_session()
        response = login(client, bureau).post(
            reverse("events:add_guest", args=[session.pk]),
            {"first_name": "Dubbel", "last_name": "Op", "email": member.email},
        )
        assert response.status_code == 400
        assert "zoek op naam" in response.content.decode()
        assert not Registration.objects.filter(session=session).exists()

    def test_only_the_organisers_add_guests(self, client, lead, joint_session):
        login(client, lead)
        with nothing_changes():
            response = client.post(
                reverse("events:add_guest", args=[joint_session.pk]),
                {"first_name": "Gast", "last_name": "X", "email": "x@extern.example"},
            )
        assert response.status_code == 403
        assert not Person.objects.filter(email="x@extern.example").exists()

    def test_a_guest_is_never_left_without_their_place_at_the_door(self, bureau, monkeypatch):
        session = make_session()

        def door_fails(*args, **kwargs):
            raise RuntimeError("the door list could not be written")

        monkeypatch.setattr(services, "walk_in", door_fails)
        with pytest.raises(RuntimeError):
            services.add_guest(
                session, by=bureau, first_name="Gast", last_name="Y", email="y@extern.example"
            )
        assert not Person.objects.filter(email="y@extern.example").exists()


def test_signing_up_updates_the_places_in_the_same_swap(client, member):
    session = make_session(capacity=5)
    body = (
        login(client, member)
        .post(reverse("events:signup", args=[session.pk]), headers={"HX-Request": "true"})
        .content.decode()
    )
    # The places are swapped out of band, in their live region (read out politely).
    assert '<span id="places" aria-live="polite" data-hx-swap-oob="true">' in body
    assert "1 van 5 plaatsen bezet" in body
    assert "0 van 5" not in body
