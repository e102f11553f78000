"""One rule, one place: who may act for whom at a session, who edits which part, and who is
invited — each rule asked through the HTTP interface and through its one predicate."""

import datetime as dt

import pytest
from django.urls import reverse

from coalitions.models import RingMembership
from events import services
from events.models import Registration, Session, SessionPart
from members.models import Action, Notification, Person
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import make_membership, make_person
from tests.state import nothing_changes


@pytest.fixture
def two_coalitions(joint_session, other_lead):
    """Bob's and Erik's coalitions both take part in the joint session."""
    services.add_coalitions(joint_session, [other_lead.led_coalitions.get()], by=None)
    return joint_session


class TestALeadActsOnlyForTheirOwnPeople:
    def test_another_coalitions_lead_gets_403_on_cancel_mark_and_walk_in(
        self, client, two_coalitions, other_lead, flex_member_of_lead, institution
    ):
        registration = services.register(flex_member_of_lead, two_coalitions)
        walker = make_person("Loop", "Binnen", institution)
        make_membership(walker, flex_member_of_lead.ring_memberships.get().ring)
        login(client, other_lead)
        with nothing_changes():
            assert (
                client.post(
                    reverse("events:cancel_registration", args=[registration.pk])
                ).status_code
                == 403
            )
            assert (
                client.post(
                    reverse("events:mark", args=[registration.pk]), {"attended": "1"}
                ).status_code
                == 403
            )
            assert (
                client.post(
                    reverse("events:walk_in", args=[two_coalitions.pk]), {"person": walker.pk}
                ).status_code
                == 403
            )
            # Refused as an unknown address is (the form reveals nobody): a message, no sign-up.
            assert "Niemand die jij" in (
                client.post(
                    reverse("events:registrations", args=[two_coalitions.pk]),
                    {"email": walker.email},
                ).content.decode()
            )
        registration.refresh_from_db()
        assert registration.status == Registration.Status.CONFIRMED
        assert registration.attended is None
        assert not Registration.objects.filter(person=walker).exists()

    def test_the_csv_and_lists_of_another_lead_leave_out_people_outside_their_coalitions(
        self, client, two_coalitions, other_lead, flex_member_of_lead, other_institution
    ):
        services.register(flex_member_of_lead, two_coalitions, remarks="Glutenvrij")
        theirs = make_person("Eigen", "Mens", other_institution)
        make_membership(theirs, other_lead.led_coalitions.get().rings.get(order=1))
        services.register(theirs, two_coalitions)
        login(client, other_lead)
        response = client.get(
            reverse("events:registrations", args=[two_coalitions.pk]), {"format": "csv"}
        )
        assert response.status_code == 200
        csv = b"".join(response.streaming_content).decode("utf-8-sig")
        assert theirs.email in csv
        assert flex_member_of_lead.email not in csv
        assert "Glutenvrij" not in csv
        for name in ("events:registrations", "events:checkin", "events:presence_list"):
            body = client.get(reverse(name, args=[two_coalitions.pk])).content.decode()
            assert "Mens" in body, name
            assert flex_member_of_lead.last_name not in body, name

    def test_the_lead_acts_for_the_people_of_their_own_coalition(
        self, client, lead, two_coalitions, flex_member_of_lead
    ):
        registration = services.register(flex_member_of_lead, two_coalitions)
        login(client, lead)
        client.post(reverse("events:mark", args=[registration.pk]), {"attended": "1"})
        registration.refresh_from_db()
        assert registration.attended is True
        client.post(reverse("events:cancel_registration", args=[registration.pk]))
        registration.refresh_from_db()
        assert registration.status == Registration.Status.CANCELLED

    def test_a_lead_whose_coalition_does_not_take_part_has_no_organiser_pages(
        self, client, joint_session, other_lead
    ):
        login(client, other_lead)
        for name in ("events:registrations", "events:checkin", "events:presence_list"):
            assert client.get(reverse(name, args=[joint_session.pk])).status_code == 403, name

    def test_a_member_cannot_mark_themselves_present(self, client, joint_session, member):
        registration = services.register(member, joint_session)
        login(client, member)
        with nothing_changes():
            assert (
                client.post(
                    reverse("events:mark", args=[registration.pk]), {"attended": "1"}
                ).status_code
                == 403
            )
        # Cancelling their own is theirs to do.
        client.post(reverse("events:cancel_registration", args=[registration.pk]))
        registration.refresh_from_db()
        assert registration.status == Registration.Status.CANCELLED

    def test_the_predicate_and_the_queryset_agree(
        self, two_coalitions, lead, other_lead, bureau, flex_member_of_lead, outsider
    ):
        ours = services.register(flex_member_of_lead, two_coalitions)
        stranger = services.register(outsider, two_coalitions)
        assert set(Registration.objects.manageable_by(lead)) == {ours}
        assert set(Registration.objects.manageable_by(other_lead)) == set()
        assert set(Registration.objects.manageable_by(bureau)) == {ours, stranger}
        assert two_coalitions.lets_act_for(lead, flex_member_of_lead)
        assert not two_coalitions.lets_act_for(other_lead, flex_member_of_lead)
        assert not two_coalitions.lets_act_for(lead, outsider)
        assert two_coalitions.lets_act_for(bureau, outsider)


class TestALeadChoosesTheRingsOfTheirOwnPart:
    def test_a_taking_part_lead_edits_the_rings_capacity_and_text_of_their_work_part(
        self, client, lead, two_coalitions, coalition, flex_member_of_lead
    ):
        work = two_coalitions.parts.get(kind="werken", coalition=coalition)
        flex = coalition.rings.get(order=2)
        assert work not in services.invited_parts(two_coalitions, flex_member_of_lead)
        login(client, lead)
        detail = client.get(reverse("events:detail", args=[two_coalitions.pk])).content.decode()
        assert reverse("events:part_edit", args=[two_coalitions.pk, work.pk]) in detail
        url = reverse("events:part_edit", args=[two_coalitions.pk, work.pk])
        assert client.get(url).status_code == 200
        response = client.post(
            url,
            {
                "invited_rings": [coalition.rings.get(order=1).pk, flex.pk],
                "capacity": "12",
                "description": "Deze keer met de flexibele ring.",
            },
        )
        assert response.status_code == 302
        work.refresh_from_db()
        assert set(work.invited_rings.all()) == set(coalition.rings.filter(order__in=[1, 2]))
        assert work.capacity == 12
        assert work.description == "Deze keer met de flexibele ring."
        assert work in services.invited_parts(two_coalitions, flex_member_of_lead)
        action = Action.objects.get(verb="part.changed")
        assert action.actor == lead

    def test_and_gets_403_on_every_other_part_and_on_the_session(
        self, client, lead, two_coalitions, other_lead
    ):
        theirs = two_coalitions.parts.get(kind="werken", coalition=other_lead.led_coalitions.get())
        plenary = two_coalitions.parts.get(kind="plenair")
        login(client, lead)
        with nothing_changes():
            for part in (theirs, plenary):
                url = reverse("events:part_edit", args=[two_coalitions.pk, part.pk])
                assert client.get(url).status_code == 403
                assert client.post(url, {"capacity": "1"}).status_code == 403
        assert (
            client.get(reverse("events:part_create", args=[two_coalitions.pk])).status_code == 403
        )
        assert client.get(reverse("events:edit", args=[two_coalitions.pk])).status_code == 403
        assert client.get(reverse("events:programme", args=[two_coalitions.pk])).status_code == 403
        theirs.refresh_from_db()
        assert theirs.capacity is None

    def test_a_lead_cannot_invite_rings_of_another_coalition_to_their_part(
        self, client, lead, two_coalitions, coalition, other_lead
    ):
        work = two_coalitions.parts.get(kind="werken", coalition=coalition)
        foreign = other_lead.led_coalitions.get().rings.get(order=2)
        login(client, lead)
        with nothing_changes():
            response = client.post(
                reverse("events:part_edit", args=[two_coalitions.pk, work.pk]),
                {"invited_rings": [foreign.pk]},
            )
        assert response.status_code == 200
        assert 'id="id_invited_rings_error"' in response.content.decode()
        assert foreign not in work.invited_rings.all()


class TestInvitationIsOneRule:
    """`people_invited` (who gets the invitation) and `Session.objects.invited` (what a person
    sees and may sign up for) are the same rule asked both ways round."""

    def test_both_directions_agree_for_every_persona_and_kind_of_session(
        self, joint_session, coalition, lead, other_lead, bureau, institution, outsider
    ):
        kern, flex = coalition.rings.get(order=1), coalition.rings.get(order=2)
        core_member = make_person("Kern", "Lid", institution, account=True)
        flex_member = make_person("Flex", "Lid", institution, account=True)
        make_membership(core_member, kern)
        make_membership(flex_member, flex)
        work_only = make_session(title="Alleen werkdelen")
        services.add_coalitions(work_only, [coalition], by=None)
        meeting = make_session(kind=Session.Kind.COALITION, organiser_coalition=coalition)
        meeting.coalitions.add(coalition)
        kern_meeting = make_session(kind=Session.Kind.COALITION, organiser_coalition=coalition)
        SessionPart.objects.create(
            session=kern_meeting,
            kind="werken",
            coalition=coalition,
            title="Kern",
            start=kern_meeting.start,
            end=kern_meeting.end,
        ).invited_rings.add(kern)
        bare_network = make_session(title="Netwerk zonder programma")
        everyone = [lead, other_lead, bureau, outsider, core_member, flex_member]
        expected = {
            joint_session: set(everyone),  # the plenary is for everyone
            work_only: {lead, core_member},
            meeting: {lead, core_member, flex_member},
            kern_meeting: {lead, core_member},
            bare_network: set(everyone),
        }
        for session, invited in expected.items():
            by_person = {p for p in everyone if session.invites(p)}
            assert by_person == invited, session.title
            by_session = set(
                services.people_invited(session).filter(pk__in=[p.pk for p in everyone])
            )
            assert by_session == invited, session.title
            listed = {
                p for p in everyone if Session.objects.invited(p).filter(pk=session.pk).exists()
            }
            assert listed == invited, session.title

    def test_publishing_invites_exactly_the_people_of_the_rule(
        self, coalition, lead, institution, outsider
    ):
        core_member = make_person("Kern", "Lid", institution, account=True)
        make_membership(core_member, coalition.rings.get(order=1))
        draft = make_session(status=Session.Status.DRAFT)
        services.add_coalitions(draft, [coalition], by=None)
        services.publish(draft, by=lead)
        recipients = set(
            Notification.objects.filter(kind="session_invitation").values_list(
                "person__email", flat=True
            )
        )
        assert core_member.email in recipients
        assert lead.email in recipients
        assert outsider.email not in recipients


def test_an_ended_membership_no_longer_invites(joint_session, coalition, institution):
    person = make_person("Oud", "Lid", institution)
    membership = make_membership(person, coalition.rings.get(order=1))
    work = joint_session.parts.get(kind="werken")
    assert work in services.invited_parts(joint_session, person)
    RingMembership.objects.filter(pk=membership.pk).update(
        status="beeindigd", ended_at=joint_session.start - dt.timedelta(days=30)
    )
    assert work not in services.invited_parts(joint_session, person)
    assert Person.objects.filter(pk=person.pk).exists()


def test_a_leads_session_page_runs_a_fixed_number_of_queries(
    client, lead, joint_session, django_assert_max_num_queries
):
    from tests.factories import make_coalition

    login(client, lead).get(reverse("home"))
    url = reverse("events:detail", args=[joint_session.pk])
    with django_assert_max_num_queries(30) as small:
        assert client.get(url).status_code == 200
    others = [make_coalition(leads=[make_person("T", None)]) for _ in range(5)]
    services.add_coalitions(joint_session, others, by=None)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200
