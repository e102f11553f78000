"""Changes that reach the people they change: nobody is moved, invited or rescheduled in silence."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from coalitions import services as coalition_services
from events import services
from events.models import Session
from members.models import Notification
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import make_membership, make_person


@pytest.fixture
def coalition(lead):
    return lead.led_coalitions.get()


class TestAMoveIsTold:
    def test_a_lead_moving_someone_mails_them_the_old_and_the_new_ring(
        self, client, lead, member, coalition
    ):
        flex, kern = coalition.rings.get(order=2), coalition.rings.get(order=1)
        old = make_membership(member, flex)
        login(client, lead).post(
            reverse("coalitions:membership_move", args=[old.pk]), {f"m{old.pk}-ring": kern.pk}
        )
        told = Notification.objects.get(person=member, kind="membership_moved")
        assert "Flexibele ring" in told.body
        assert "Kern" in told.body
        assert coalition.name in told.body
        assert notify_kind("membership_moved").mandatory

    def test_moving_oneself_to_an_open_ring_sends_no_mail(self, member, coalition):
        flex, kern = coalition.rings.get(order=2), coalition.rings.get(order=1)
        kern.join_policy = "open"
        kern.save()
        old = make_membership(member, flex)
        coalition_services.request_move(old, kern, person=member)
        assert not Notification.objects.filter(person=member, kind="membership_moved").exists()

    def test_an_accepted_move_request_is_told_once_not_twice(self, member, lead, coalition):
        flex, kern = coalition.rings.get(order=2), coalition.rings.get(order=1)
        old = make_membership(member, flex)
        asked = coalition_services.request_move(old, kern, person=member)
        coalition_services.accept_request(asked, by=lead)
        kinds = list(Notification.objects.filter(person=member).values_list("kind", flat=True))
        assert kinds == ["membership_decision"]


def notify_kind(name):
    from members import notify

    return notify.KINDS[name]


class TestNewlyInvitedRingsAreInvited:
    def _published(self, coalition):
        session = make_session(status=Session.Status.DRAFT)
        services.add_coalitions(session, [coalition], by=None)
        services.publish(session, by=None)
        return session

    def test_a_ring_added_to_a_published_part_gets_the_invitation(
        self, lead, coalition, institution
    ):
        kern, flex = coalition.rings.get(order=1), coalition.rings.get(order=2)
        in_kern = make_person("Kees", "Kern", institution, account=True)
        in_flex = make_person("Fleur", "Flex", institution, account=True)
        make_membership(in_kern, kern)
        make_membership(in_flex, flex)
        session = self._published(coalition)
        invited = Notification.objects.filter(kind="session_invitation")
        assert set(invited.values_list("person", flat=True)) >= {in_kern.pk}
        assert not invited.filter(person=in_flex).exists()
        part = session.parts.get(kind="werken")
        services.save_part(part, by=lead, invited_rings=[kern, flex], fields=["invited_rings"])
        assert invited.filter(person=in_flex).count() == 1
        assert invited.filter(person=in_kern).count() == 1  # not a second time

    def test_a_coalition_added_to_a_published_session_invites_its_core(
        self, lead, coalition, institution, other_institution
    ):
        from tests.factories import make_coalition

        session = self._published(coalition)
        other = make_coalition("Kansengelijkheid")
        newcomer = make_person("Nina", "Nieuw", other_institution, account=True)
        make_membership(newcomer, other.rings.get(order=1))
        services.add_coalitions(session, [other], by=None)
        told = Notification.objects.get(kind="session_invitation", person=newcomer)
        assert session.title in told.subject + told.body

    def test_a_draft_invites_nobody_when_rings_are_added(self, lead, coalition, institution):
        kern, flex = coalition.rings.get(order=1), coalition.rings.get(order=2)
        make_membership(make_person("Fleur", "Flex", institution, account=True), flex)
        session = make_session(status=Session.Status.DRAFT)
        services.add_coalitions(session, [coalition], by=None)
        part = session.parts.get(kind="werken")
        services.save_part(part, by=lead, invited_rings=[kern, flex], fields=["invited_rings"])
        assert not Notification.objects.filter(kind="session_invitation").exists()


class TestSomeoneMarkedAbsentEarlyHearsOfAChange:
    def test_a_person_marked_absent_weeks_before_gets_the_changed_mail(
        self, bureau, member, lead, coalition
    ):
        """The finding: someone marked absent weeks before a session missed "Gewijzigd". The mark
        does not end the sign-up (only `cancel` does), so the change reaches them."""
        make_membership(member, coalition.rings.get(order=1))
        with time_machine.travel(dt.datetime(2026, 9, 1, 9, tzinfo=dt.UTC), tick=False):
            start = timezone.now() + dt.timedelta(days=42)
            session = make_session(start=start, capacity=30)
            services.add_coalitions(session, [coalition], by=None)
            registration = services.register(member, session, by=member)
            services.mark_attendance(registration, attended=False, by=bureau)
        with time_machine.travel(dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC), tick=False):
            services.change_session(session, by=bureau, room="Zaal 2")
            services.change_session(session, by=bureau, start=start + dt.timedelta(hours=1))
        told = Notification.objects.filter(person=member, kind="session_changed")
        assert told.count() == 2
        assert "Gewijzigd" in told.first().subject
