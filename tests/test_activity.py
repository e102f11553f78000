"""The activity log: every service that takes `by` records who did what, to what, about whom,
where — and the pages people look at show it."""

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from coalitions import services as coalition_services
from coalitions.models import Coalition, Input, Output
from events import services as event_services
from events.models import Registration, Session, SessionPart
from members import services as member_services
from members.activity import scope_of
from members.models import Action
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import make_coalition, make_institution, make_person, theme_named


def last(verb: str) -> Action:
    actions = list(Action.objects.filter(verb=verb))
    assert len(actions) == 1, f"expected one {verb}, found {len(actions)}"
    return actions[0]


def assert_logged(verb, *, by, target, person=None, scope=None):
    action = last(verb)
    assert action.actor == by
    assert action.target_id == target.pk
    assert action.target_type.model_class() is type(target)
    assert action.person == person
    assert action.scope == (scope_of(scope) if scope is not None else "")
    assert action.description  # a sentence, in the active language
    return action


@pytest.fixture
def coalition(lead):
    return lead.led_coalitions.get()


class TestMembersServices:
    def test_invite_and_accept(self, bureau, institution):
        person = make_person("Nog", "Geen Account", institution)
        _invitation, token = member_services.invite(person, invited_by=bureau)
        assert_logged("person.invited", by=bureau, target=person, person=person)
        member_services.accept_invitation(token, password="een-heel-goed-wachtwoord")
        assert_logged("person.invitation_accepted", by=person, target=person, person=person)

    def test_ending_an_institutions_membership(self, bureau):
        institution = make_institution()
        member_services.end_institution_membership(
            institution, until=dt.date(2027, 7, 31), by=bureau
        )
        action = assert_logged("institution.membership_ended", by=bureau, target=institution)
        assert "31-07-2027" in action.description

    def test_erasure_keeps_the_rows_and_anonymises_the_person_in_them(
        self, client, member, lead, coalition, bureau
    ):
        membership = coalition_services.join_ring(member, coalition.rings.get(order=2))
        coalition_services.move_member(membership, coalition.rings.get(order=1), by=lead)
        member_services.erase_person(member, by=member)
        verbs = set(Action.objects.filter(person=member).values_list("verb", flat=True))
        assert verbs == {
            "membership.joined",
            "membership.moved",
            "membership.left",
            "person.erased",
        }
        board = login(client, lead).get(reverse("coalitions:board", args=[coalition.pk]))
        body = board.content.decode()
        assert "Charlie" not in body
        assert "Visser" not in body
        for action in Action.objects.filter(person=member):
            assert "Charlie" not in json.dumps(action.data)
        # The log still shows what happened, about an erased person.
        log = login(client, bureau).get(reverse("activity_log")).content.decode()
        results = log.split('id="results"')[1]
        assert "verplaatst van Flexibele ring naar Kern" in results
        assert "Verwijderde persoon" in results
        assert "Visser" not in results


class TestCoalitionServices:
    def test_create_update_and_move_along_the_lifecycle(self, bureau, lead):
        coalition = coalition_services.create_coalition(
            by=bureau,
            leads=[lead],
            name="Nieuw",
            theme=theme_named("Data"),
            assignment="Opdracht",
            school_year="2026-2027",
            start=dt.date(2026, 9, 1),
            planned_end=dt.date(2027, 6, 30),
        )
        assert_logged("coalition.created", by=bureau, target=coalition, scope=coalition)
        assert coalition.rings.count() == 2
        coalition_services.update_coalition(coalition, by=lead, assignment="Beter")
        action = assert_logged("coalition.changed", by=lead, target=coalition, scope=coalition)
        # What changed, from what to what, shown with the field's label in the reader's language.
        assert action.data["changes"] == {"assignment": ["Opdracht", "Beter"]}
        assert action.description == "wijzigde de coalitie (opdracht: Opdracht → Beter)"
        with translation.override("en"):
            assert action.description == "changed the coalition (assignment: Opdracht → Beter)"
        coalition_services.update_coalition(coalition, by=lead, leads=[lead, bureau])
        leads_changed = Action.objects.filter(verb="coalition.changed").latest("pk")
        # A field that names people is kept as changed, without names (erasure reaches names
        # through Person only).
        assert leads_changed.data["changes"] == {"leads": ["", ""]}
        assert bureau.last_name not in str(leads_changed.data)
        Action.objects.filter(pk=leads_changed.pk).delete()
        coalition_services.update_coalition(coalition, by=lead, assignment="Beter")
        assert Action.objects.filter(verb="coalition.changed").count() == 1  # nothing changed
        coalition_services.transition(coalition, Coalition.Status.RECRUITING, by=bureau)
        action = assert_logged(
            "coalition.status_changed", by=bureau, target=coalition, scope=coalition
        )
        assert action.description == "zette de coalitie van in voorbereiding naar werving"

    def test_ring_rules(self, lead, coalition):
        ring = coalition.rings.get(order=2)
        ring.capacity = 30
        coalition_services.save_ring(ring, by=lead)
        assert_logged("ring.changed", by=lead, target=ring, scope=coalition)

    @pytest.mark.parametrize(
        ("steps", "verb"),
        [
            (["join"], "membership.joined"),
            (["request"], "membership.requested"),
            (["request", "accept"], "membership.accepted"),
            (["request", "decline"], "membership.declined"),
            (["request", "leave"], "membership.withdrawn"),
            (["join", "leave"], "membership.left"),
            (["join", "end"], "membership.ended"),
            (["join", "move"], "membership.moved"),
            (["invite"], "membership.invited"),
            (["invite", "accept_invitation"], "membership.invitation_accepted"),
            (["invite", "decline_invitation"], "membership.invitation_declined"),
        ],
    )
    def test_every_membership_change(self, lead, coalition, member, steps, verb):
        kern, flex = coalition.rings.get(order=1), coalition.rings.get(order=2)
        membership = None
        by = {
            "join": member,
            "request": member,
            "leave": member,
            "accept_invitation": member,
            "decline_invitation": member,
        }
        for step in steps:
            if step == "join":
                membership = coalition_services.join_ring(member, flex)
            elif step == "request":
                membership = coalition_services.join_ring(member, kern, motivation="Graag")
            elif step == "accept":
                membership = coalition_services.accept_request(membership, by=lead)
            elif step == "decline":
                membership = coalition_services.decline_request(membership, by=lead)
            elif step == "leave":
                membership = coalition_services.leave(membership, person=member)
            elif step == "end":
                membership = coalition_services.end_membership(membership, by=lead)
            elif step == "move":
                membership = coalition_services.move_member(membership, kern, by=lead)
            elif step == "invite":
                membership = coalition_services.invite_to_ring(member, kern, by=lead)
            elif step == "accept_invitation":
                membership = coalition_services.accept_invitation(membership, person=member)
            elif step == "decline_invitation":
                membership = coalition_services.decline_invitation(membership, person=member)
        assert_logged(
            verb, by=by.get(steps[-1], lead), target=membership, person=member, scope=coalition
        )

    def test_input_and_outputs(self, lead, coalition, member):
        item = coalition_services.add_input(
            coalition, by=member, kind=Input.Kind.IDEA, title="Idee", body="Zo"
        )
        assert_logged("input.added", by=member, target=item, scope=coalition)
        coalition_services.answer_input(item, by=lead, status=Input.Status.TAKEN_UP, reply="Ja")
        action = assert_logged(
            "input.answered", by=lead, target=item, person=member, scope=coalition
        )
        assert "opgepakt" in action.description
        output = coalition_services.add_output(
            Output(coalition=coalition, title="Handreiking", url="https://example.org/"), by=lead
        )
        assert_logged("output.added", by=lead, target=output, scope=coalition)


class TestEventServices:
    def test_create_change_publish_and_cancel_a_session(self, bureau):
        start = make_session().start
        session = event_services.create_session(
            by=bureau, title="Netwerkdag", start=start, end=start + dt.timedelta(hours=3)
        )
        assert_logged("session.created", by=bureau, target=session, scope=session)
        changed = event_services.change_session(session, by=bureau, room="Aula", title="Netwerkdag")
        assert changed == ["room"]
        assert session.sequence == 1
        action = assert_logged("session.changed", by=bureau, target=session, scope=session)
        assert action.data["changes"] == {"room": ["", "Aula"]}
        later = start + dt.timedelta(hours=1)
        event_services.change_session(session, by=bureau, start=later, capacity=40)
        action = Action.objects.filter(verb="session.changed").latest("pk")
        local = timezone.localtime
        assert action.data["changes"] == {
            "start": [f"{local(start):%d-%m-%Y %H.%M}", f"{local(later):%d-%m-%Y %H.%M}"],
            "capacity": ["", "40"],
        }
        assert "→ 40" in action.description
        event_services.publish(session, by=bureau)
        assert_logged("session.published", by=bureau, target=session, scope=session)
        event_services.cancel_session(session, by=bureau)
        assert_logged("session.cancelled", by=bureau, target=session, scope=session)

    def test_the_programme(self, bureau, coalition):
        session = make_session()
        event_services.add_coalitions(session, [coalition], by=bureau)
        assert_logged("session.coalitions_added", by=bureau, target=session, scope=session)
        part = SessionPart(session=session, title="Plenair", start=session.start, end=session.end)
        event_services.save_part(part, by=bureau)
        assert_logged("part.created", by=bureau, target=part, scope=session)

    def test_raising_a_parts_capacity_serves_its_waiting_list_first(self, bureau, institution):
        session = make_session()
        part = SessionPart.objects.create(
            session=session, title="Werkplaats", start=session.start, end=session.end, capacity=1
        )
        event_services.register(make_person("A", None, institution), session, parts=[part])
        waiting = event_services.register(
            make_person("B", None, institution), session, parts=[part]
        )
        choice = waiting.choices.get()
        assert choice.is_waitlisted
        part.capacity = 2
        event_services.save_part(part, by=bureau, fields=["capacity"])
        choice.refresh_from_db()
        assert choice.is_confirmed

    def test_sign_up_cancel_promotion_attendance_and_walk_in(self, bureau, institution):
        session = make_session(capacity=1)
        first, second, walker = (make_person("P", None, institution) for _ in range(3))
        one = event_services.register(first, session)
        assert_logged("registration.signed_up", by=first, target=one, person=first, scope=session)
        two = event_services.register(second, session, by=bureau)
        assert_logged(
            "registration.signed_up_by", by=bureau, target=two, person=second, scope=session
        )
        event_services.cancel(one, by=bureau)
        assert_logged("registration.cancelled", by=bureau, target=one, person=first, scope=session)
        assert_logged("registration.promoted", by=None, target=two, person=second, scope=session)
        event_services.mark_attendance(two, attended=False, by=bureau)
        assert_logged("registration.absent", by=bureau, target=two, person=second, scope=session)
        registration = event_services.walk_in(session, walker, by=bureau)
        assert_logged(
            "registration.walk_in", by=bureau, target=registration, person=walker, scope=session
        )
        assert_logged(
            "registration.present", by=bureau, target=registration, person=walker, scope=session
        )

    def test_a_waitlisted_sign_up_is_logged_as_such(self, institution):
        session = make_session(capacity=1)
        event_services.register(make_person("A", None, institution), session)
        late = make_person("B", None, institution)
        registration = event_services.register(late, session)
        assert registration.status == Registration.Status.WAITLISTED
        assert_logged(
            "registration.waitlisted", by=late, target=registration, person=late, scope=session
        )


class TestRaisingCapacityServesTheWaitingListFirst:
    def test_raising_a_sessions_capacity_promotes_the_first_waiting(self, bureau, institution):
        session = make_session(capacity=1)
        event_services.register(make_person("A", None, institution), session)
        waiting = event_services.register(make_person("B", None, institution), session)
        event_services.change_session(session, by=bureau, capacity=2)
        waiting.refresh_from_db()
        assert waiting.status == Registration.Status.CONFIRMED
        newcomer = event_services.register(make_person("C", None, institution), session)
        assert newcomer.status == Registration.Status.WAITLISTED


class TestHistoryWherePeopleLook:
    def test_the_ring_board_shows_a_persons_ring_history(self, client, lead, coalition, member):
        membership = coalition_services.join_ring(member, coalition.rings.get(order=2))
        coalition_services.move_member(membership, coalition.rings.get(order=1), by=lead)
        body = login(client, lead).get(reverse("coalitions:board", args=[coalition.pk]))
        text = body.content.decode()
        assert "verplaatst van Flexibele ring naar Kern, door Bob Jansen, <time" in text
        assert "sloot aan bij Flexibele ring, door Charlie Visser" in text

    def test_the_registrations_page_shows_who_signed_up_cancelled_and_checked_in(
        self, client, bureau, institution, lead
    ):
        session = make_session()
        present = make_person("Aan", "Wezig", institution)
        gone = make_person("Af", "Gemeld", institution)
        registration = event_services.register(present, session, by=lead)
        event_services.mark_attendance(registration, attended=True, by=bureau)
        cancelled = event_services.register(gone, session)
        event_services.cancel(cancelled, by=bureau)
        body = (
            login(client, bureau)
            .get(reverse("events:registrations", args=[session.pk]))
            .content.decode()
        )
        assert "namens hen aangemeld, door Bob Jansen" in body
        assert "aanwezig gemeld, door Alice Bakker" in body
        assert "Gemeld" not in body  # the cancelled have their own list
        cancelled_list = client.get(
            reverse("events:registrations", args=[session.pk]), {"lijst": "afgemeld"}
        ).content.decode()
        assert "aanmelding afgemeld, door Alice Bakker" in cancelled_list
        assert "Gemeld" in cancelled_list
        assert "Wezig" not in cancelled_list

    def test_the_coalition_page_shows_its_lifecycle(self, client, bureau, member, lead):
        coalition = make_coalition("Levensloop", leads=[lead], status=Coalition.Status.PREPARING)
        coalition_services.transition(coalition, Coalition.Status.RECRUITING, by=bureau)
        body = (
            login(client, member)
            .get(reverse("coalitions:detail", args=[coalition.pk]))
            .content.decode()
        )
        assert "zette de coalitie van in voorbereiding naar werving, door Alice Bakker" in body

    def test_the_data_download_holds_what_the_person_did_and_what_was_done_about_them(
        self, client, member, lead, coalition
    ):
        membership = coalition_services.join_ring(member, coalition.rings.get(order=2))
        coalition_services.end_membership(membership, by=lead)
        data = json.loads(login(client, member).get(reverse("members:my_data")).content)
        sections = {s["source"]: s["rows"] for s in data["sections"]}
        done = [row["Wat"] for row in sections["members.Action (actor)"]]
        about = [row["Wat"] for row in sections["members.Action (person)"]]
        assert done == ["membership.joined"]
        assert sorted(about) == ["membership.ended", "membership.joined"]


class TestTheBureausLog:
    def test_the_bureau_filters_the_log_by_kind_and_person(self, client, bureau, lead, member):
        coalition = lead.led_coalitions.get()
        coalition_services.join_ring(member, coalition.rings.get(order=2))
        session = make_session()
        event_services.register(lead, session)
        login(client, bureau)
        body = client.get(reverse("activity_log"), {"wat": "membership.joined"}).content.decode()
        assert "sloot aan bij Flexibele ring" in body
        assert "aangemeld" not in body.split('id="results"')[1]
        body = client.get(reverse("activity_log"), {"wie": "Jansen"}).content.decode()
        results = body.split('id="results"')[1]
        assert "Netwerkbijeenkomst coalities" in results
        assert "Flexibele ring" not in results

    def test_the_log_runs_a_fixed_number_of_queries(
        self, client, bureau, lead, institution, django_assert_max_num_queries
    ):
        coalition = lead.led_coalitions.get()
        login(client, bureau).get(reverse("activity_log"))

        def grow(n):
            for _ in range(n):
                person = make_person("L", None, institution)
                coalition_services.join_ring(person, coalition.rings.get(order=2))
                event_services.register(person, make_session())

        grow(2)
        with django_assert_max_num_queries(15) as small:
            client.get(reverse("activity_log"))
        grow(20)
        with django_assert_max_num_queries(len(small.captured_queries)):
            client.get(reverse("activity_log"))


def test_an_unknown_verb_is_refused(coalition):
    from members import activity

    with pytest.raises(ValueError, match="Unknown activity verb"):
        activity.log("coalition.exploded", by=None, target=coalition)


def test_the_registrations_page_runs_a_fixed_number_of_queries(
    client, bureau, institution, django_assert_max_num_queries
):
    session = make_session()
    SessionPart.objects.create(
        session=session, title="Plenair", start=session.start, end=session.end
    )
    login(client, bureau).get(reverse("home"))

    def grow(n):
        for _ in range(n):
            registration = event_services.register(
                make_person("R", None, institution), session, parts=list(session.parts.all())
            )
            event_services.mark_attendance(registration, attended=True, by=bureau)

    grow(2)
    url = reverse("events:registrations", args=[session.pk])
    with django_assert_max_num_queries(20) as small:
        client.get(url)
    grow(15)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(url)
    assert Session.objects.get(pk=session.pk).registrations.count() == 17
