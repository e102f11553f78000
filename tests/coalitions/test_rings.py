import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from coalitions import services
from coalitions.models import Coalition, Ring, RingMembership
from members.models import Person
from tests.concurrency import race
from tests.conftest import login
from tests.factories import make_coalition, make_membership, make_person
from tests.state import nothing_changes


class TestJoinPolicy:
    def test_a_member_joins_an_open_ring_at_once(self, client, member, flex):
        response = login(client, member).post(reverse("coalitions:ring_join", args=[flex.pk]))
        assert response.status_code == 302
        assert RingMembership.objects.get(person=member).status == "actief"

    def test_an_on_request_ring_makes_a_pending_request_with_motivation(self, client, member, kern):
        login(client, member).post(
            reverse("coalitions:ring_join", args=[kern.pk]), {"motivation": "Ik doe mee!"}
        )
        membership = RingMembership.objects.get(person=member)
        assert membership.status == "aangevraagd"
        assert membership.motivation == "Ik doe mee!"
        body = client.get(reverse("coalitions:detail", args=[kern.coalition_id])).content.decode()
        assert "Je verzoek om aan te sluiten bij <strong>Kern</strong> ligt bij de trekkers" in body

    def test_an_invitation_only_ring_refuses_a_join(self, client, member, kern):
        kern.join_policy = Ring.JoinPolicy.INVITATION
        kern.save()
        response = login(client, member).post(
            reverse("coalitions:ring_join", args=[kern.pk]), follow=True
        )
        assert "Kern is alleen op uitnodiging." in response.content.decode()
        assert not RingMembership.objects.filter(person=member).exists()

    def test_a_full_open_ring_says_so_and_lets_nobody_in(self, client, member, flex, institution):
        flex.capacity = 1
        flex.save()
        make_membership(make_person("Fay", "Vol", institution), flex)
        login(client, member)
        with nothing_changes():
            response = client.post(reverse("coalitions:ring_join", args=[flex.pk]), follow=True)
        assert "Flexibele ring is vol (1 plaatsen)." in response.content.decode()
        assert flex.memberships.active().count() == 1

    def test_accepting_a_request_respects_the_capacity(self, kern, lead, institution):
        kern.capacity, kern.minimum_size = 1, None
        kern.save()
        make_membership(make_person("Fay", "Vol", institution), kern)
        request = services.join_ring(make_person("Gus", "Wacht", institution), kern)
        with nothing_changes(), pytest.raises(services.RingFull):
            services.accept_request(request, by=lead)
        request.refresh_from_db()
        assert request.status == "aangevraagd"

    def test_a_closed_coalition_takes_no_one(self, member, flex, coalition):
        Coalition.objects.filter(pk=coalition.pk).update(status=Coalition.Status.CLOSED)
        flex.refresh_from_db()
        with nothing_changes(), pytest.raises(services.MembershipError):
            services.join_ring(member, flex)

    def test_one_open_membership_per_coalition(self, member, kern, flex):
        services.join_ring(member, flex)
        with nothing_changes(), pytest.raises(services.MembershipError):
            services.join_ring(member, kern)

    def test_the_database_holds_one_open_membership_per_coalition(self, member, kern, flex):
        make_membership(member, flex)
        with pytest.raises(IntegrityError), transaction.atomic():
            make_membership(member, kern, status="aangevraagd")
        make_membership(member, kern, status="beeindigd")  # ended rows are history, any number

    def test_a_member_leaves_and_may_join_again(self, client, member, flex):
        membership = services.join_ring(member, flex)
        url = reverse("coalitions:membership_leave", args=[membership.pk])
        asked = login(client, member).post(url)  # one click only asks
        assert "Flexibele ring verlaten?" in asked.content.decode()
        membership.refresh_from_db()
        assert membership.is_active
        client.post(url, {"confirm": "1"})
        membership.refresh_from_db()
        assert membership.status == "beeindigd"
        assert membership.end_reason == "vertrokken"
        services.join_ring(member, flex)
        assert RingMembership.objects.filter(person=member).count() == 2

    def test_an_invited_person_accepts_the_invitation(self, client, member, kern, lead):
        membership = services.invite_to_ring(member, kern, by=lead)
        login(client, member).post(
            reverse("coalitions:invitation_respond", args=[membership.pk]), {"answer": "accept"}
        )
        membership.refresh_from_db()
        assert membership.status == "actief"


class TestLeadActions:
    def test_the_lead_accepts_a_request(self, client, lead, member, kern):
        request = services.join_ring(member, kern, motivation="graag")
        response = login(client, lead).post(
            reverse("coalitions:request_accept", args=[request.pk]), {"message": "Welkom"}
        )
        assert response.status_code == 302
        request.refresh_from_db()
        assert request.status == "actief"
        assert request.changed_by == lead
        assert request.response == "Welkom"

    def test_a_member_cannot_accept_their_own_request(self, client, member, kern):
        request = services.join_ring(member, kern)
        login(client, member)
        with nothing_changes():
            response = client.post(reverse("coalitions:request_accept", args=[request.pk]))
        assert response.status_code == 403
        request.refresh_from_db()
        assert request.status == "aangevraagd"

    def test_a_move_keeps_the_history(self, client, lead, flex_member, flex, kern):
        old = RingMembership.objects.get(person=flex_member)
        response = login(client, lead).post(
            reverse("coalitions:membership_move", args=[old.pk]),
            {f"m{old.pk}-ring": kern.pk},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200
        assert "<html" not in response.content.decode()  # htmx gets the board only
        old.refresh_from_db()
        assert (old.status, old.end_reason, old.changed_by) == ("beeindigd", "verplaatst", lead)
        assert old.ended_at is not None
        new = RingMembership.objects.get(person=flex_member, status="actief")
        assert new.ring == kern
        assert new.changed_by == lead
        assert RingMembership.objects.filter(person=flex_member).count() == 2

    def test_a_move_into_a_full_ring_is_refused_with_a_message(
        self, client, lead, flex_member, flex, kern, institution
    ):
        kern.capacity, kern.minimum_size = 1, None
        kern.save()
        make_membership(make_person("Fay", "Vol", institution), kern)
        old = RingMembership.objects.get(person=flex_member)
        response = login(client, lead).post(
            reverse("coalitions:membership_move", args=[old.pk]),
            {f"m{old.pk}-ring": kern.pk},
            headers={"HX-Request": "true"},
        )
        assert "Kern is vol (1 plaatsen)." in response.content.decode()
        old.refresh_from_db()
        assert old.status == "actief"
        assert old.ring == flex

    def test_the_lead_invites_a_registered_person_without_account(
        self, client, lead, kern, institution, django_capture_on_commit_callbacks
    ):
        from django.core import mail

        person = make_person("Hans", "Nieuw", institution, email="hans@deltion.example")
        with django_capture_on_commit_callbacks(execute=True):
            login(client, lead).post(
                reverse("coalitions:ring_invite", args=[kern.coalition_id]),
                {"email": "HANS@deltion.example", "ring": kern.pk},
            )
        assert RingMembership.objects.get(person=person).status == "uitgenodigd"
        assert mail.outbox[0].to == ["hans@deltion.example"]  # an account invitation too

    def test_the_lead_invites_someone_new_from_a_member_domain(self, client, lead, kern):
        login(client, lead).post(
            reverse("coalitions:ring_invite", args=[kern.coalition_id]),
            {
                "email": "ina@deltion.example",
                "first_name": "Ina",
                "last_name": "Nieuw",
                "ring": kern.pk,
            },
        )
        membership = RingMembership.objects.get(person__email="ina@deltion.example")
        assert membership.person.institution.name == "Deltion College"

    def test_the_new_contact_is_logged_as_added_by_the_lead(self, client, lead, kern):
        from members.models import Action

        login(client, lead).post(
            reverse("coalitions:ring_invite", args=[kern.coalition_id]),
            {
                "email": "ina@deltion.example",
                "first_name": "Ina",
                "last_name": "Nieuw",
                "ring": kern.pk,
            },
        )
        ina = Person.objects.get(email="ina@deltion.example")
        assert list(
            Action.objects.filter(person=ina).order_by("pk").values_list("verb", "actor_id")
        ) == [
            ("person.created", lead.pk),
            ("membership.invited", lead.pk),
            ("person.invited", lead.pk),
        ]

    def test_a_refused_invitation_leaves_no_new_contact_behind(self, client, lead, kern):
        from members.models import Action, Invitation, Notification

        Coalition.objects.filter(pk=kern.coalition_id).update(status=Coalition.Status.CLOSED)
        response = login(client, lead).post(
            reverse("coalitions:ring_invite", args=[kern.coalition_id]),
            {
                "email": "ina@deltion.example",
                "first_name": "Ina",
                "last_name": "Nieuw",
                "ring": kern.pk,
            },
        )
        assert response.status_code == 400
        assert "Deze coalitie is afgerond" in response.content.decode()
        # Nothing of the refused invitation stays: no contact, no account invitation, no mail.
        assert not Person.objects.filter(email="ina@deltion.example").exists()
        assert not Invitation.objects.exists()
        assert not Notification.objects.filter(kind="account_invitation").exists()
        assert not Action.objects.filter(verb__in=["person.created", "person.invited"]).exists()

    def test_a_capacity_below_the_current_members_is_refused(self, client, lead, kern, institution):
        for i in range(3):
            make_membership(make_person("K", f"Kern{i}", institution), kern)
        login(client, lead)
        with nothing_changes():
            response = client.post(
                reverse("coalitions:ring_edit", args=[kern.coalition_id, kern.pk]),
                {
                    "name": "Kern",
                    "order": 1,
                    "level": "meebepalen",
                    "join_policy": "verzoek",
                    "capacity": 2,
                },
            )
        assert 'id="id_capacity_error"' in response.content.decode()
        kern.refresh_from_db()
        assert kern.capacity == 8


def test_bureau_staff_may_change_any_coalition(client, bureau, other_lead, institution):
    theirs = other_lead.led_coalitions.get()
    request = services.join_ring(
        make_person("Pim", "Vraag", institution), theirs.rings.get(order=1)
    )
    login(client, bureau).post(reverse("coalitions:request_accept", args=[request.pk]))
    request.refresh_from_db()
    assert request.status == "actief"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_twenty_people_ask_for_the_last_two_places_and_exactly_two_get_them(institution, lead):
    coalition = make_coalition("Drukte", leads=[lead])
    ring = coalition.rings.get(order=2)
    Ring.objects.filter(pk=ring.pk).update(capacity=10)
    for i in range(8):
        make_membership(make_person("Al", f"Binnen{i}", institution), ring)
    people = [make_person("Nu", f"Wil{i}", institution) for i in range(20)]
    errors = race(people, lambda person: services.join_ring(person, ring))
    assert len(errors) == 18
    assert all(isinstance(error, services.RingFull) for error in errors)
    assert ring.memberships.active().count() == 10


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_accepts_never_overfill_the_core(institution, lead):
    coalition = make_coalition("Drukte in de kern", leads=[lead])
    kern = coalition.rings.get(order=1)
    Ring.objects.filter(pk=kern.pk).update(capacity=3, minimum_size=None)
    requests = [
        services.join_ring(make_person("Vr", f"Aag{i}", institution), kern) for i in range(12)
    ]
    errors = race(requests, lambda membership: services.accept_request(membership, by=lead))
    assert len(errors) == 9
    assert all(isinstance(error, services.MembershipError) for error in errors)
    assert kern.memberships.active().count() == 3


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_control_without_the_row_lock_the_ring_overfills(institution, lead, monkeypatch):
    """Proves the test above tests something: with the lock taken away, the same race oversells."""
    import time

    coalition = make_coalition("Zonder slot", leads=[lead])
    ring = coalition.rings.get(order=2)
    Ring.objects.filter(pk=ring.pk).update(capacity=10)
    for i in range(8):
        make_membership(make_person("Al", f"Binnen{i}", institution), ring)
    people = [make_person("Nu", f"Wil{i}", institution) for i in range(20)]
    original_check = services._check_room

    def slow_check(r):
        original_check(r)
        time.sleep(0.05)  # widen the window between counting and writing

    monkeypatch.setattr(
        services, "_locked_ring", lambda r: Ring.objects.select_related("coalition").get(pk=r.pk)
    )
    monkeypatch.setattr(services, "_check_room", slow_check)
    race(people, lambda person: services.join_ring(person, ring))
    assert ring.memberships.active().count() > 10


def test_leads_hear_of_a_request_and_the_member_of_the_decision(
    lead, member, kern, django_capture_on_commit_callbacks
):
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        request = services.join_ring(member, kern, motivation="Ik wil meebouwen")
    assert [m.to for m in mail.outbox] == [[lead.email]]
    assert "Ik wil meebouwen" in mail.outbox[0].body
    assert "Verzoek voor Kern" in mail.outbox[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        services.decline_request(request, by=lead, message="Volgend jaar graag!")
    assert mail.outbox[-1].to == [member.email]
    assert "Volgend jaar graag!" in mail.outbox[-1].body


class TestAskingToMove:
    """A member of the Flexibele ring asks to move to the Kern and stays in their ring meanwhile;
    the lead's accept moves them (with history), a refusal leaves them where they were."""

    def test_the_member_asks_and_stays_where_they_are(self, client, flex_member, flex, kern, lead):
        from members.models import Notification

        login(client, flex_member)
        client.post(reverse("coalitions:ring_join", args=[kern.pk]), {"motivation": "Graag!"})
        membership = RingMembership.objects.get(person=flex_member, status="actief")
        assert membership.ring == flex  # still in the Flexibele ring
        assert membership.requested_ring == kern
        assert Notification.objects.filter(person=lead, kind="membership_request").exists()
        body = client.get(reverse("coalitions:detail", args=[kern.coalition_id])).content.decode()
        assert "Je vroeg om naar <strong>Kern</strong> te gaan" in body
        board = login(client, lead).get(reverse("coalitions:board", args=[kern.coalition_id]))
        assert "nu in Flexibele ring: vraagt om te verhuizen" in board.content.decode()

    def test_the_leads_accept_moves_them_with_history(self, client, flex_member, flex, kern, lead):
        membership = RingMembership.objects.get(person=flex_member)
        services.request_move(membership, kern, person=flex_member)
        login(client, lead).post(reverse("coalitions:request_accept", args=[membership.pk]))
        old = RingMembership.objects.get(pk=membership.pk)
        assert old.status == "beeindigd"
        assert old.end_reason == "verplaatst"
        assert old.requested_ring is None
        new = RingMembership.objects.get(person=flex_member, status="actief")
        assert new.ring == kern

    def test_a_refusal_leaves_them_where_they_were(self, client, flex_member, flex, kern, lead):
        from members.models import Notification

        membership = RingMembership.objects.get(person=flex_member)
        services.request_move(membership, kern, person=flex_member)
        login(client, lead).post(
            reverse("coalitions:request_decline", args=[membership.pk]), {"message": "Volgend jaar"}
        )
        membership.refresh_from_db()
        assert membership.is_active
        assert membership.ring == flex
        assert membership.requested_ring is None
        told = Notification.objects.get(person=flex_member, kind="membership_decision")
        assert "blijft waar je bent" in told.body

    def test_the_member_withdraws_the_request(self, client, flex_member, kern):
        membership = RingMembership.objects.get(person=flex_member)
        services.request_move(membership, kern, person=flex_member)
        login(client, flex_member).post(reverse("coalitions:move_withdraw", args=[membership.pk]))
        membership.refresh_from_db()
        assert membership.requested_ring is None
        assert membership.is_active

    def test_a_full_core_keeps_its_capacity_on_accept(self, flex_member, kern, lead, institution):
        kern.capacity, kern.minimum_size = 1, None
        kern.save(update_fields=["capacity", "minimum_size"])
        make_membership(make_person("Al", "Binnen", institution), kern)
        membership = RingMembership.objects.get(person=flex_member)
        services.request_move(membership, kern, person=flex_member)
        with pytest.raises(services.MembershipError):
            services.accept_request(membership, by=lead)
        membership.refresh_from_db()
        assert membership.is_active
        assert membership.asks_to_move
