"""The rules of sessions, each one predicate keyed by the person: their truth tables, what must
be false as well as what must be true."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.test import override_settings

from coalitions.models import Coalition
from events import services
from events.models import Registration, Session
from tests.factories import make_membership, make_person

from .conftest import make_session

pytestmark = pytest.mark.django_db
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def meeting(coalition):
    """A coalition meeting the lead's coalition organises."""
    return make_session(
        kind=Session.Kind.COALITION, organiser_coalition=coalition, status=Session.Status.DRAFT
    )


class TestWhoSeesADraft:
    """Session.objects.visible_to(person): the bureau's rights are read by the rule itself."""

    def sees(self, person, session) -> bool:
        return Session.objects.visible_to(person).filter(pk=session.pk).exists()

    def test_the_bureau_and_the_organising_lead_see_a_draft(self, meeting, bureau, lead):
        assert self.sees(bureau, meeting)
        assert self.sees(lead, meeting)

    def test_nobody_else_sees_a_draft(self, meeting, member, outsider, other_lead, coalition):
        make_membership(member, coalition.rings.get(order=1))
        for person in (member, outsider, other_lead, None):
            assert not self.sees(person, meeting)

    @override_settings(BUREAU_REQUIRE_MFA=True)
    def test_bureau_staff_without_a_second_factor_see_no_draft(self, meeting, bureau):
        assert not self.sees(bureau, meeting)

    def test_a_published_session_is_seen_by_everyone(self, meeting, outsider):
        meeting.status = Session.Status.PUBLISHED
        meeting.save()
        assert self.sees(outsider, meeting)
        assert self.sees(None, meeting)


class TestFull:
    def test_places_and_waiting_are_counted_in_the_query(self, django_assert_num_queries):
        session = make_session(capacity=2)
        for n, status in enumerate(["bevestigd", "bevestigd", "wachtlijst", "afgemeld"]):
            Registration.objects.create(person=make_person(f"P{n}"), session=session, status=status)
        with django_assert_num_queries(1):
            [counted] = Session.objects.filter(pk=session.pk).with_places()
            assert (counted.confirmed_count, counted.waiting_count) == (2, 1)
            assert counted.is_full

    def test_cancelling_gives_up_a_scarce_place_only_when_full_or_someone_waits(self):
        session = make_session(capacity=2)
        first, second = (make_person(n) for n in "AB")
        place = services.register(first, session)
        assert not place.gives_up_scarce_place  # room, nobody waiting
        services.register(second, session)
        place.refresh_from_db()
        assert place.gives_up_scarce_place  # full
        waiting = services.register(make_person("C"), session)
        assert waiting.is_waitlisted
        assert not waiting.gives_up_scarce_place  # a waiting place is nobody else's
        session.capacity = 10
        session.save()
        place = Registration.objects.get(pk=place.pk)
        assert place.gives_up_scarce_place  # room again, but someone waits


class TestWhoIsInvited:
    def test_people_invited_counted_inside_a_query_of_sessions_say_the_same(
        self, joint_session, coalition, member, outsider, lead
    ):
        """people_invited(OuterRef("pk")): the bureau's signal counts the invitation rule in
        its own query; the answer is the one people_invited(session) gives."""
        from django.db.models import F, Func, OuterRef, Subquery

        make_membership(member, coalition.rings.get(order=1))
        meeting = make_session(kind=Session.Kind.COALITION, organiser_coalition=coalition)
        per_session = {s.pk: set(services.people_invited(s)) for s in (joint_session, meeting)}
        assert per_session[meeting.pk] == {lead, member}
        assert outsider not in per_session[meeting.pk]
        assert outsider in per_session[joint_session.pk]  # the plenary is for everyone
        counted = dict(
            Session.objects.filter(pk__in=per_session)
            .annotate(
                n=Subquery(
                    services.people_invited(OuterRef("pk"))
                    .order_by()
                    .annotate(n=Func(F("pk"), function="COUNT"))
                    .values("n")
                )
            )
            .values_list("pk", "n")
        )
        assert counted == {pk: len(people) for pk, people in per_session.items()}


class TestWhoReadsTheRemarks:
    """Session.remarks_visible_to / Registration.remarks_visible_to."""

    def test_those_who_organise_the_session_read_remarks(self, meeting, bureau, lead):
        assert meeting.remarks_visible_to(bureau)
        assert meeting.remarks_visible_to(lead)

    def test_a_lead_who_only_takes_part_and_members_do_not(
        self, joint_session, lead, member, outsider, other_lead
    ):
        assert lead.led_coalitions.get() in joint_session.coalitions.all()
        for person in (lead, member, outsider, other_lead, None):
            assert not joint_session.remarks_visible_to(person)

    def test_per_registration_the_person_and_who_manages_it_and_organises(
        self, meeting, coalition, lead, bureau, member, outsider
    ):
        meeting.status = Session.Status.PUBLISHED
        meeting.save()
        make_membership(member, coalition.rings.get(order=2))
        own = services.register(member, meeting, remarks="vegetarisch")
        stranger = Registration.objects.create(
            person=outsider, session=meeting, status="bevestigd", remarks="rolstoel"
        )
        assert own.remarks_visible_to(member)
        assert own.remarks_visible_to(lead)
        assert own.remarks_visible_to(bureau)
        assert not own.remarks_visible_to(outsider)
        assert not own.remarks_visible_to(None)
        assert stranger.remarks_visible_to(outsider)
        assert stranger.remarks_visible_to(bureau)
        assert not stranger.remarks_visible_to(lead)  # not one of the people they manage
        assert not stranger.remarks_visible_to(member)


class TestKeepMissing:
    """events.services.keep_missing: one definition of "missed in a row" for the nudge
    (Commitment.just_missed_two) and the bureau's signal (Commitment.missed_last_two)."""

    @pytest.fixture(autouse=True)
    def _in_march(self):
        with time_machine.travel(dt.datetime(2027, 3, 15, 12, tzinfo=AMSTERDAM), tick=False):
            yield

    DAYS = [dt.datetime(2027, 1, 12, 10), dt.datetime(2027, 2, 2, 10), dt.datetime(2027, 2, 23, 10)]

    @pytest.fixture
    def kern(self, coalition):
        return coalition.rings.get(order=1)

    def place(self, person, ring):
        membership = make_membership(person, ring)
        membership.started_at = dt.datetime(2026, 9, 1, tzinfo=AMSTERDAM)
        membership.save(update_fields=["started_at"])
        return membership

    def held(self, coalition, came: dict, days=DAYS):
        for n, day in enumerate(days):
            session = make_session(start=day.replace(tzinfo=AMSTERDAM), signup_deadline=None)
            services.add_coalitions(session, [coalition], by=None)
            for person, sessions in came.items():
                registration = Registration.objects.create(
                    person=person, session=session, status="bevestigd"
                )
                services.mark_attendance(registration, attended=n in sessions, by=None)

    def listed(self, now=None):
        now = now or dt.datetime(2027, 3, 15, 12, tzinfo=AMSTERDAM)
        return {m.person.first_name: c for m, c in services.keep_missing(now)}

    def test_two_in_a_row_is_nudged_and_signalled_three_only_signalled(
        self, coalition, kern, institution
    ):
        loyal, twice, thrice, once = (
            make_person(name, institution=institution) for name in ("Trouw", "Twee", "Drie", "Een")
        )
        for person in (loyal, twice, thrice, once):
            self.place(person, kern)
        self.held(coalition, {loyal: {0, 1, 2}, twice: {0}, thrice: set(), once: {0, 1}})
        listed = self.listed()
        assert set(listed) == {"Twee", "Drie"}
        assert listed["Twee"].missed_in_a_row == 2
        assert listed["Twee"].just_missed_two
        assert listed["Twee"].missed_last_two
        assert listed["Drie"].missed_in_a_row == 3
        assert listed["Drie"].missed_last_two
        assert not listed["Drie"].just_missed_two

    def test_a_session_counts_only_after_the_presence_grace(self, coalition, kern):
        person = make_person("Laat")
        self.place(person, kern)
        self.held(coalition, {person: set()}, days=self.DAYS[:2])
        assert set(self.listed()) == {"Laat"}
        # The second session ended less than PRESENCE_GRACE before this moment: not yet.
        just_after = dt.datetime(2027, 2, 3, 12, tzinfo=AMSTERDAM)
        assert self.listed(just_after) == {}

    def test_no_expectation_no_active_coalition_or_erased_is_not_listed(self, coalition, kern):
        person, erased = make_person("Lid"), make_person("Gewist")
        self.place(person, kern)
        self.place(erased, kern)
        self.held(coalition, {person: set(), erased: set()})
        erased.erased_at = dt.datetime(2027, 3, 1, tzinfo=AMSTERDAM)
        erased.save()
        assert set(self.listed()) == {"Lid"}
        for expected in (None, 0):
            kern.sessions_expected = expected
            kern.save()
            assert self.listed() == {}
        kern.sessions_expected = 4
        kern.save()
        Coalition.objects.filter(pk=coalition.pk).update(status=Coalition.Status.EVALUATING)
        assert self.listed() == {}
