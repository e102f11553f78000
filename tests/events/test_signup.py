import datetime as dt
import time

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from events import services
from events.models import PartChoice, Registration, Session, SessionPart
from tests.concurrency import race
from tests.conftest import login
from tests.events.conftest import make_session, people
from tests.factories import make_membership, make_person
from tests.state import nothing_changes


class TestSignup:
    def test_a_member_signs_up_and_cancels(
        self, client, member, session, django_capture_on_commit_callbacks
    ):
        login(client, member)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("events:signup", args=[session.pk]), {"remarks": "vegetarisch"}
            )
        assert response.status_code == 302
        registration = Registration.objects.get(person=member)
        assert registration.status == "bevestigd"
        assert registration.remarks == "vegetarisch"
        assert (
            mail.outbox[-1].attachments[0][0] == "bijeenkomst.ics"
        )  # confirmation with calendar file
        body = client.get(reverse("events:detail", args=[session.pk])).content.decode()
        assert "Je bent aangemeld voor deze bijeenkomst." in body
        client.post(reverse("events:cancel_registration", args=[registration.pk]))
        registration.refresh_from_db()
        assert registration.status == "afgemeld"

    def test_htmx_gets_the_sign_up_block_only(self, client, member, session):
        response = login(client, member).post(
            reverse("events:signup", args=[session.pk]), {}, headers={"HX-Request": "true"}
        )
        body = response.content.decode()
        assert "<html" not in body
        assert 'id="signup"' in body

    def test_a_full_session_puts_people_on_the_waiting_list_with_their_position(
        self, client, institution
    ):
        session = make_session(capacity=1)
        first, second = people(institution, 2)
        third = make_person("Derde", "Wachter", institution, account=True)
        services.register(first, session)
        services.register(second, session)
        third_reg = services.register(third, session)
        assert third_reg.status == "wachtlijst"
        assert services.waitlist_position(third_reg) == 2
        body = (
            login(client, third).get(reverse("events:detail", args=[session.pk])).content.decode()
        )
        assert "Je staat op de wachtlijst, plek 2." in body

    def test_cancelling_promotes_the_first_on_the_waiting_list_and_tells_them(
        self, institution, django_capture_on_commit_callbacks
    ):
        session = make_session(capacity=1)
        first, second, third = people(institution, 3)
        a = services.register(first, session)
        b = services.register(second, session)
        services.register(third, session)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            promoted = services.cancel(a, by=first)
        assert promoted == [b]
        b.refresh_from_db()
        assert b.status == "bevestigd"
        assert b.promoted_at is not None
        assert [m.to for m in mail.outbox] == [[second.email]]
        assert "Er is een plek vrijgekomen" in mail.outbox[0].subject
        assert session.registrations.waitlisted().get().person == third

    def test_one_active_registration_per_person(self, member, session):
        services.register(member, session)
        with nothing_changes(), pytest.raises(services.RegistrationError):
            services.register(member, session)
        with pytest.raises(IntegrityError), transaction.atomic():
            Registration.objects.create(person=member, session=session, status="wachtlijst")

    def test_no_sign_up_after_the_deadline(self, member, session):
        with (
            time_machine.travel(session.signup_deadline + dt.timedelta(minutes=1)),
            nothing_changes(),
            pytest.raises(services.RegistrationError, match="gesloten"),
        ):
            services.register(member, session)

    def test_the_deadline_is_checked_by_the_server_on_the_page_too(self, client, member, session):
        login(client, member)
        with (
            time_machine.travel(session.signup_deadline + dt.timedelta(minutes=1)),
            nothing_changes(),
        ):
            response = client.post(reverse("events:signup", args=[session.pk]), follow=True)
        assert "Aanmelden voor deze bijeenkomst kon tot" in response.content.decode()
        assert not Registration.objects.exists()

    def test_no_sign_up_for_a_cancelled_draft_or_past_session(self, member, institution):
        cancelled = make_session(status=Session.Status.CANCELLED)
        draft = make_session(status=Session.Status.DRAFT)
        past = make_session(days=-3, signup_deadline=None)
        for session, words in [
            (cancelled, "geannuleerd"),
            (draft, "nog niet open"),
            (past, "al plaatsgevonden"),
        ]:
            with nothing_changes(), pytest.raises(services.RegistrationError, match=words):
                services.register(member, session)

    def test_a_lead_signs_someone_up_after_the_deadline(self, lead, flex_member_of_lead, session):
        session.coalitions.add(lead.led_coalitions.get())
        with time_machine.travel(session.signup_deadline + dt.timedelta(hours=1)):
            registration = services.register(flex_member_of_lead, session, by=lead)
        assert registration.registered_by == lead

    def test_one_part_per_time_slot(self, member, joint_session, institution):
        coalition = joint_session.parts.get(kind="werken").coalition
        make_membership(member, coalition.rings.get(order=1))
        plenary, work = joint_session.parts.order_by("start")
        clash = SessionPart.objects.create(
            session=joint_session,
            kind="uitwisseling",
            title="Markt",
            start=work.start,
            end=work.end,
        )
        with pytest.raises(services.RegistrationError, match="tegelijk"):
            services.register(member, joint_session, parts=[work, clash])
        registration = services.register(member, joint_session, parts=[plenary, work])
        assert registration.choices.count() == 2


class TestInvitations:
    """Who may sign up follows from the programme and the rings invited to each part."""

    def test_plenary_and_exchange_parts_are_for_every_member(self, outsider, joint_session):
        parts = services.invited_parts(joint_session, outsider)
        assert [p.title for p in parts] == ["Plenair"]

    def test_the_core_only_when_only_the_core_is_invited(
        self, joint_session, coalition, institution
    ):
        core_member, flex_member = people(institution, 2)
        make_membership(core_member, coalition.rings.get(order=1))
        make_membership(flex_member, coalition.rings.get(order=2))
        work = joint_session.parts.get(kind="werken")
        assert work in services.invited_parts(joint_session, core_member)
        assert work not in services.invited_parts(joint_session, flex_member)
        with nothing_changes(), pytest.raises(services.RegistrationError):
            services.register(flex_member, joint_session, parts=[work])

    def test_the_flexible_ring_too_when_it_is_invited(self, joint_session, coalition, institution):
        flex_member = people(institution, 1)[0]
        make_membership(flex_member, coalition.rings.get(order=2))
        work = joint_session.parts.get(kind="werken")
        work.invited_rings.add(coalition.rings.get(order=2))
        assert work in services.invited_parts(joint_session, flex_member)

    def test_a_coalition_meeting_is_only_for_its_rings(self, coalition, outsider, institution):
        meeting = make_session(kind=Session.Kind.COALITION, organiser_coalition=coalition)
        insider = people(institution, 1)[0]
        make_membership(insider, coalition.rings.get(order=2))
        assert meeting.invites(insider)
        assert not meeting.invites(outsider)
        with nothing_changes(), pytest.raises(services.RegistrationError, match="niet uitgenodigd"):
            services.register(outsider, meeting)

    def test_invited_people_see_the_session_on_their_overview(
        self, client, member, coalition, lead
    ):
        meeting = make_session(
            kind=Session.Kind.COALITION, organiser_coalition=coalition, title="Werksessie kern"
        )
        make_membership(member, coalition.rings.get(order=1))
        body = login(client, member).get(reverse("home")).content.decode()
        assert "Werksessie kern" in body
        assert meeting in Session.objects.invited(member)

    def test_publishing_sends_the_invitation_once(
        self, coalition, institution, bureau, django_capture_on_commit_callbacks
    ):
        meeting = make_session(
            kind=Session.Kind.COALITION, organiser_coalition=coalition, status=Session.Status.DRAFT
        )
        insider = make_person("In", "Genodigd", institution, account=True)
        make_membership(insider, coalition.rings.get(order=2))
        with django_capture_on_commit_callbacks(execute=True):
            services.publish(meeting, by=bureau)
        recipients = sorted(m.to[0] for m in mail.outbox)
        assert insider.email in recipients
        assert bureau.email not in recipients
        # Running the sender again (a retry, a double beat) sends nothing more.
        from members.tasks import send_notifications

        assert (
            send_notifications(
                None, kind="session_invitation", occasions=[f"events.session:{meeting.pk}"]
            )
            == 0
        )
        assert send_notifications(None) == 0


class TestPermissions:
    def test_a_lead_of_another_coalition_cannot_see_or_change_registrations(
        self, client, other_lead, joint_session, member
    ):
        registration = services.register(member, joint_session)
        login(client, other_lead)
        with nothing_changes():
            self.refused(client, joint_session, registration)
        registration.refresh_from_db()
        assert registration.status == "bevestigd"
        assert registration.attended is None

    @staticmethod
    def refused(client, joint_session, registration):
        for url in (
            reverse("events:registrations", args=[joint_session.pk]),
            reverse("events:checkin", args=[joint_session.pk]),
            reverse("events:presence_list", args=[joint_session.pk]),
            reverse("events:programme", args=[joint_session.pk]),
            reverse("events:edit", args=[joint_session.pk]),
        ):
            assert client.get(url).status_code == 403, url
        assert (
            client.post(reverse("events:cancel_registration", args=[registration.pk])).status_code
            == 403
        )
        assert (
            client.post(
                reverse("events:mark", args=[registration.pk]), {"attended": "1"}
            ).status_code
            == 403
        )
        assert client.post(reverse("events:publish", args=[joint_session.pk])).status_code == 403

    def test_the_lead_of_a_participating_coalition_sees_the_registrations_of_their_people(
        self, client, lead, joint_session, flex_member_of_lead, outsider
    ):
        services.register(flex_member_of_lead, joint_session)
        services.register(outsider, joint_session)
        response = login(client, lead).get(reverse("events:registrations", args=[joint_session.pk]))
        assert response.status_code == 200
        body = response.content.decode()
        assert flex_member_of_lead.last_name in body
        assert outsider.last_name not in body  # in none of the lead's rings

    def test_a_member_cannot_cancel_someone_elses_registration(
        self, client, member, outsider, session
    ):
        registration = services.register(outsider, session)
        login(client, member)
        with nothing_changes():
            response = client.post(reverse("events:cancel_registration", args=[registration.pk]))
        assert response.status_code == 403
        assert Registration.objects.get(pk=registration.pk).is_confirmed

    def test_a_lead_makes_meetings_only_for_their_own_coalition(self, client, lead, other_lead):
        theirs = other_lead.led_coalitions.get()
        login(client, lead)
        with nothing_changes():
            response = client.post(
                reverse("events:create"),
                {
                    "title": "Kaping",
                    "kind": "coalitiebijeenkomst",
                    "organiser_coalition": theirs.pk,
                    "form": "fysiek",
                    "start": "2027-01-10T13:00",
                    "end": "2027-01-10T15:00",
                },
            )
        assert 'id="id_organiser_coalition_error"' in response.content.decode()
        assert not Session.objects.filter(title="Kaping").exists()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
class TestConcurrency:
    def test_fifty_sign_ups_for_ten_places_give_ten_confirmed_and_forty_waitlisted_in_order(
        self, institution
    ):
        session = make_session(capacity=10)
        crowd = people(institution, 50)
        errors = race(crowd, lambda person: services.register(person, session))
        assert errors == []
        assert session.registrations.confirmed().count() == 10
        waitlist = list(session.registrations.waitlisted())
        assert len(waitlist) == 40
        # Arrival order: the waiting list is ordered by the moment each sign-up got the lock.
        confirmed_last = max(r.queued_at for r in session.registrations.confirmed())
        assert all(r.queued_at >= confirmed_last for r in waitlist)
        # Cancellations promote in order, never overselling.
        expected = [r.pk for r in waitlist[:5]]
        for registration in list(session.registrations.confirmed())[:5]:
            services.cancel(registration, by=None)
        promoted = list(
            session.registrations.confirmed()
            .filter(promoted_at__isnull=False)
            .order_by("promoted_at")
        )
        assert [r.pk for r in promoted] == expected
        assert session.registrations.confirmed().count() == 10

    def test_concurrent_cancels_promote_without_overselling(self, institution):
        session = make_session(capacity=10)
        crowd = people(institution, 30)
        for person in crowd:
            services.register(person, session)
        confirmed = list(session.registrations.confirmed())
        errors = race(confirmed, lambda registration: services.cancel(registration, by=None))
        assert errors == []
        assert session.registrations.confirmed().count() == 10
        assert session.registrations.waitlisted().count() == 10

    def test_a_part_is_never_oversold(self, institution):
        session = make_session(capacity=None)
        start = session.start
        part = SessionPart.objects.create(
            session=session,
            kind="plenair",
            title="Workshop",
            start=start,
            end=start + dt.timedelta(hours=1),
            capacity=5,
        )
        crowd = people(institution, 30)
        errors = race(crowd, lambda person: services.register(person, session, parts=[part]))
        assert errors == []
        assert part.choices.filter(status="bevestigd").count() == 5
        assert part.choices.filter(status="wachtlijst").count() == 25
        first_waiting = part.choices.filter(status="wachtlijst").order_by("queued_at", "pk").first()
        services.cancel(part.choices.filter(status="bevestigd").first().registration, by=None)
        first_waiting.refresh_from_db()
        assert first_waiting.status == "bevestigd"
        assert part.choices.filter(status="bevestigd").count() == 5

    def test_control_without_the_lock_the_same_race_oversells(self, institution, monkeypatch):
        session = make_session(capacity=10)
        crowd = people(institution, 50)
        original = services._session_has_room

        def slow_room(s):
            answer = original(s)
            time.sleep(0.05)  # widen the window between counting and writing
            return answer

        monkeypatch.setattr(services, "_lock_session", lambda s: Session.objects.get(pk=s.pk))
        monkeypatch.setattr(services, "_session_has_room", slow_room)
        race(crowd, lambda person: services.register(person, session))
        assert session.registrations.confirmed().count() > 10


def test_every_promotion_sends_one_mail_even_when_the_sender_runs_twice(
    institution, django_capture_on_commit_callbacks
):
    from members.models import Notification
    from members.tasks import send_one

    session = make_session(capacity=1)
    first, second = people(institution, 2)
    a = services.register(first, session)
    services.register(second, session)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel(a, by=first)
    notification = Notification.objects.get(kind="promotion")
    assert send_one(notification.pk) is False  # already claimed and sent
    assert len(mail.outbox) == 1


def test_part_choices_follow_the_session_waiting_list(institution):
    session = make_session(capacity=1)
    start = session.start
    part = SessionPart.objects.create(
        session=session,
        kind="plenair",
        title="Workshop",
        start=start,
        end=start + dt.timedelta(hours=1),
        capacity=1,
    )
    first, second = people(institution, 2)
    a = services.register(first, session, parts=[part])
    b = services.register(second, session, parts=[part])
    assert PartChoice.objects.get(registration=b).status == "wachtlijst"
    services.cancel(a, by=None)
    assert PartChoice.objects.get(registration=b).status == "bevestigd"


def test_a_lead_signs_up_only_people_of_their_own_coalition(
    client, lead, joint_session, flex_member_of_lead, outsider
):
    login(client, lead)
    url = reverse("events:registrations", args=[joint_session.pk])
    # Refused with the answer an unknown address gets: nobody learns whose address it is.
    with nothing_changes():
        response = client.post(url, {"email": outsider.email})
    assert response.status_code == 200
    assert "Niemand die jij voor deze bijeenkomst kunt aanmelden" in response.content.decode()
    assert not Registration.objects.filter(person=outsider).exists()
    client.post(url, {"email": flex_member_of_lead.email})
    assert Registration.objects.get(person=flex_member_of_lead).registered_by == lead


class TestAskingFirst:
    """Nothing irreversible in one click: publishing and giving up a scarce place ask first."""

    def test_publishing_shows_who_is_invited_and_the_mail_before_it_goes(
        self, client, bureau, joint_session
    ):
        from events.models import Session

        Session.objects.filter(pk=joint_session.pk).update(status="concept")
        url = reverse("events:publish", args=[joint_session.pk])
        body = login(client, bureau).get(url).content.decode()
        assert "De uitnodiging gaat meteen naar" in body
        assert "Uitnodiging: Netwerkbijeenkomst coalities" in body
        client.post(url)  # one click only asks
        joint_session.refresh_from_db()
        assert joint_session.is_draft
        client.post(url, {"confirm": "1"})
        joint_session.refresh_from_db()
        assert joint_session.is_published

    def test_giving_up_a_place_in_a_full_session_asks_first(self, client, member, institution):
        session = make_session(capacity=1)
        registration = services.register(member, session)
        services.register(make_person("Wacht", "Rij", institution), session)
        url = reverse("events:cancel_registration", args=[registration.pk])
        login(client, member)
        response = client.post(url, headers={"HX-Request": "true"})
        assert response["HX-Redirect"] == url
        body = client.get(url).content.decode()
        assert "wachtlijst" in body
        registration.refresh_from_db()
        assert registration.is_confirmed
        client.post(url, {"confirm": "1"})
        registration.refresh_from_db()
        assert registration.is_cancelled

    def test_cancelling_a_session_says_who_is_told_and_asks_first(
        self, client, bureau, member, session, django_capture_on_commit_callbacks
    ):
        services.register(member, session)
        mail.outbox.clear()
        url = reverse("events:cancel", args=[session.pk])
        login(client, bureau)
        with django_capture_on_commit_callbacks(execute=True):
            body = client.post(url).content.decode()  # one click only asks
        assert "1 persoon die is aangemeld of op de wachtlijst staat" in body
        assert "Ja, bijeenkomst annuleren en iedereen berichten" in body
        session.refresh_from_db()
        assert not session.is_cancelled
        assert mail.outbox == []
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url, {"confirm": "1"})
        session.refresh_from_db()
        assert session.is_cancelled
        assert [m.to for m in mail.outbox] == [[member.email]]

    def test_a_place_nobody_waits_for_is_given_up_at_once(self, client, member, session):
        registration = services.register(member, session)
        login(client, member).post(reverse("events:cancel_registration", args=[registration.pk]))
        registration.refresh_from_db()
        assert registration.is_cancelled


def test_the_htmx_answer_to_a_sign_up_computes_only_its_section(
    client, member, institution, django_assert_max_num_queries
):
    """The sign-up answers with the section it swaps, not the whole session page's context:
    a fixed number of queries, however big the session's programme and registrations."""
    from tests.conftest import login
    from tests.events.conftest import make_session

    def sign_up(session):
        return client.post(
            reverse("events:signup", args=[session.pk]), {}, headers={"HX-Request": "true"}
        )

    small = make_session(capacity=10)
    login(client, member)
    with django_assert_max_num_queries(21) as first:
        response = sign_up(small)
    body = response.content.decode()
    assert 'id="signup"' in body
    assert "<html" not in body
    assert "Je bent aangemeld voor deze bijeenkomst." in body
    big = make_session(capacity=200)
    for i in range(40):
        services.register(make_person("Veel", f"Mensen{i}", institution), big)
    login(client, make_person("Nog", "Een", institution, account=True))
    with django_assert_max_num_queries(len(first.captured_queries)):
        assert sign_up(big).status_code == 200


class TestMessagesTellTheTruth:
    def test_signing_someone_up_for_a_full_session_says_they_wait(
        self, client, bureau, member, institution
    ):
        session = make_session(capacity=1)
        services.register(make_person("Eerste", "Plek", institution), session)
        url = reverse("events:registrations", args=[session.pk])
        body = (
            login(client, bureau).post(url, {"email": member.email}, follow=True).content.decode()
        )
        assert "Charlie Visser staat op de wachtlijst, plek 1." in body
        assert "Charlie Visser is aangemeld." not in body
        assert Registration.objects.get(person=member).is_waitlisted

    def test_a_member_whose_part_is_full_reads_that_they_wait_for_it(
        self, client, joint_session, member, institution
    ):
        plenary = joint_session.parts.get(kind="plenair")
        plenary.capacity = 1
        plenary.save()
        services.register(
            make_person("Eerste", "Plek", institution), joint_session, parts=[plenary]
        )
        body = (
            login(client, member)
            .post(reverse("events:signup", args=[joint_session.pk]), {"slot_0": "on"}, follow=True)
            .content.decode()
        )
        assert "Je bent aangemeld; voor Plenair sta je op de wachtlijst." in body
        assert "Je bent aangemeld. Er is een bevestiging" not in body

    def test_a_place_booked_on_someones_behalf_counts_in_the_parts(
        self, client, lead, joint_session, flex_member_of_lead
    ):
        coalition = lead.led_coalitions.get()
        work = joint_session.parts.get(kind="werken")
        work.invited_rings.add(coalition.rings.get(order=2))
        url = reverse("events:registrations", args=[joint_session.pk])
        body = (
            login(client, lead)
            .post(url, {"email": flex_member_of_lead.email}, follow=True)
            .content.decode()
        )
        assert "Charlie Visser is aangemeld." in body
        registration = Registration.objects.get(person=flex_member_of_lead)
        assert sorted(registration.choices.values_list("part__title", flat=True)) == sorted(
            ["Plenair", work.title]
        )
        assert set(registration.choices.values_list("status", flat=True)) == {"bevestigd"}
