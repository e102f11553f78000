"""The rules of coalitions, each one predicate keyed by the person: their truth tables, what
must be false as well as what must be true."""

import pytest
from django.db.models import OuterRef
from django.test import override_settings

from coalitions.models import (
    Coalition,
    Output,
    RingMembership,
    people_taking_part_in,
    taking_part,
)
from members.models import Institution
from tests.factories import make_coalition, make_membership, make_person

pytestmark = pytest.mark.django_db


def make_output(coalition, visibility, ring=None, title=None):
    return Output.objects.create(
        coalition=coalition,
        ring=ring,
        title=title or visibility,
        url="https://example.org/opbrengst",
        visibility=visibility,
    )


class TestWhoReadsAnOutput:
    """Output.objects.visible_to(person): the person's rights are read by the rule itself."""

    @pytest.fixture
    def outputs(self, coalition, kern, flex):
        return {
            name: make_output(coalition, visibility, ring, title=name)
            for name, visibility, ring in (
                ("public", Output.Visibility.PUBLIC, None),
                ("network", Output.Visibility.NETWORK, None),
                ("coalition", Output.Visibility.COALITION, None),
                ("kern", Output.Visibility.RING, kern),
                ("flex", Output.Visibility.RING, flex),
            )
        }

    def seen(self, person) -> set[str]:
        return set(Output.objects.visible_to(person).values_list("title", flat=True))

    def test_a_visitor_reads_only_public_outputs(self, outputs):
        assert self.seen(None) == {"public"}

    def test_a_member_elsewhere_reads_what_the_network_reads(self, outputs, outsider):
        assert self.seen(outsider) == {"public", "network"}

    def test_the_flexible_ring_reads_its_own_ring_but_not_the_core(
        self, outputs, flex_member, member
    ):
        assert self.seen(member) == {"public", "network", "coalition", "flex"}

    def test_the_core_reads_the_rings_around_it(self, outputs, kern, outsider):
        make_membership(outsider, kern)
        assert self.seen(outsider) == {"public", "network", "coalition", "kern", "flex"}

    def test_a_request_or_an_invitation_is_not_yet_inside(self, outputs, kern, member, outsider):
        make_membership(member, kern, status=RingMembership.Status.REQUESTED)
        make_membership(outsider, kern, status=RingMembership.Status.INVITED)
        assert self.seen(member) == {"public", "network"}
        assert self.seen(outsider) == {"public", "network"}

    def test_an_ended_place_reads_no_more(self, outputs, kern, member):
        make_membership(member, kern, status=RingMembership.Status.ENDED)
        assert self.seen(member) == {"public", "network"}

    def test_the_lead_reads_everything_of_their_coalition(self, outputs, lead):
        assert self.seen(lead) == set(outputs)

    def test_the_bureau_reads_everything_without_being_told(self, outputs, bureau):
        assert self.seen(bureau) == set(outputs)

    @override_settings(BUREAU_REQUIRE_MFA=True)
    def test_bureau_staff_without_a_second_factor_read_as_members(self, outputs, bureau):
        assert self.seen(bureau) == {"public", "network"}

    def test_for_the_network_is_network_and_public_only(self, outputs):
        network = set(Output.objects.for_network().values_list("title", flat=True))
        assert network == {"public", "network"}
        assert set(Output.objects.public().values_list("title", flat=True)) == {"public"}


class TestTakingPart:
    """taking_part / Person.objects.taking_part_in: leading or an active place, nothing else."""

    def test_only_leads_and_active_members_take_part(self, coalition, kern, flex, lead, bureau):
        active = make_person("Actief")
        make_membership(active, flex)
        requested, invited, ended, elsewhere = (make_person(n) for n in "RIEA")
        make_membership(requested, kern, status=RingMembership.Status.REQUESTED)
        make_membership(invited, kern, status=RingMembership.Status.INVITED)
        make_membership(ended, flex, status=RingMembership.Status.ENDED)
        make_membership(elsewhere, make_coalition().rings.get(order=2))

        assert set(people_taking_part_in(coalition)) == {lead, active}
        for person in (requested, invited, ended, elsewhere, bureau):
            assert person not in people_taking_part_in(coalition)

    def test_my_coalitions_are_those_i_take_part_in(self, coalition, kern, lead, member):
        other = make_coalition()
        make_membership(member, other.rings.get(order=2))
        make_membership(member, kern, status=RingMembership.Status.REQUESTED)
        assert list(Coalition.objects.taken_part_in_by(member)) == [other]
        assert list(Coalition.objects.taken_part_in_by(lead)) == [coalition]
        assert not Coalition.objects.taken_part_in_by(None).exists()

    def test_an_institution_takes_part_through_its_people(
        self, coalition, institution, other_institution, outsider
    ):
        def taking_part_here():
            return set(
                Institution.objects.filter(
                    taking_part(person__institution=OuterRef("pk"), coalition=coalition)
                )
            )

        assert taking_part_here() == {institution}  # through the lead
        make_membership(outsider, coalition.rings.get(order=1), status="aangevraagd")
        assert taking_part_here() == {institution}
        RingMembership.objects.filter(person=outsider).update(status="actief")
        assert taking_part_here() == {institution, other_institution}


class TestWhatWaitsForTheLeads:
    def test_requests_to_join_and_to_move_wait_nothing_else(self, coalition, kern, flex):
        asks, moves, stays, invited, ended = (make_person(n) for n in "AMSIE")
        make_membership(asks, kern, status=RingMembership.Status.REQUESTED)
        moving = make_membership(moves, flex)
        moving.requested_ring = kern
        moving.save()
        make_membership(stays, flex)
        make_membership(invited, kern, status=RingMembership.Status.INVITED)
        make_membership(ended, flex, status=RingMembership.Status.ENDED)
        waiting = {m.person for m in RingMembership.objects.waiting()}
        assert waiting == {asks, moves}


class TestRoomInARing:
    def test_room_left_counts_active_members_only(self, kern, institution):
        assert kern.capacity == 8
        assert kern.room_left() == 8
        for n in range(3):
            make_membership(make_person(f"K{n}", institution=institution), kern)
        make_membership(make_person("Vraagt"), kern, status=RingMembership.Status.REQUESTED)
        make_membership(make_person("Weg"), kern, status=RingMembership.Status.ENDED)
        assert kern.room_left() == 5
        assert not kern.is_full

    def test_a_full_ring_has_no_room_and_never_less(self, kern):
        kern.capacity, kern.minimum_size = 2, None
        kern.save()
        for n in range(2):
            make_membership(make_person(f"K{n}"), kern)
        assert kern.room_left() == 0
        assert kern.is_full
        make_membership(make_person("Te veel"), kern)  # past the services: still not negative
        assert kern.room_left() == 0

    def test_a_ring_without_a_maximum_is_never_full(self, flex):
        assert flex.capacity is None
        for n in range(3):
            make_membership(make_person(f"F{n}"), flex)
        assert flex.room_left() is None
        assert not flex.is_full

    def test_full_and_below_minimum_asked_in_the_query_say_what_the_ring_says(
        self, coalition, kern, flex
    ):
        from coalitions.models import Ring

        kern.capacity, kern.minimum_size = 2, 2
        kern.save()
        make_membership(make_person("Een"), kern)
        assert set(Ring.objects.filter(coalition=coalition).full()) == set()
        assert set(Ring.objects.filter(coalition=coalition).below_minimum()) == {kern}
        make_membership(make_person("Twee"), kern)
        for n in range(3):
            make_membership(make_person(f"F{n}"), flex)  # no maximum: never full
        assert set(Ring.objects.filter(coalition=coalition).full()) == {kern}
        assert set(Ring.objects.filter(coalition=coalition).below_minimum()) == set()
        for ring in Ring.objects.filter(coalition=coalition).with_counts():
            assert ring.is_full == (ring == kern)

    def test_the_annotated_count_asks_no_query(self, coalition, django_assert_num_queries):
        rings = list(coalition.rings.with_counts())
        with django_assert_num_queries(0):
            assert [r.room_left() for r in rings] == [8, None]


class TestWhatARingOffers:
    """Ring.offer_to(membership): the coalition page's join and move buttons."""

    def offers(self, ring, membership) -> set[str]:
        offer = ring.offer_to(membership)
        return {name for name, value in vars(offer).items() if value}

    def test_without_a_place(self, kern, flex, coalition):
        invitation = coalition.rings.create(name="Klankbord", order=3, join_policy="uitnodiging")
        assert self.offers(flex, None) == {"join"}
        assert self.offers(kern, None) == {"ask"}
        assert self.offers(invitation, None) == {"by_invitation"}

    def test_a_full_open_ring_says_so_and_offers_nothing_else(self, flex):
        flex.capacity = 1
        flex.save()
        make_membership(make_person("Eerste"), flex)
        assert self.offers(flex, None) == {"full"}

    def test_an_active_member_moves_to_other_rings_but_not_their_own(
        self, kern, flex, coalition, member
    ):
        membership = make_membership(member, flex)
        invitation = coalition.rings.create(name="Klankbord", order=3, join_policy="uitnodiging")
        assert self.offers(flex, membership) == set()
        assert self.offers(kern, membership) == {"ask_move"}
        assert self.offers(invitation, membership) == set()
        membership = make_membership(make_person("Kern"), kern)
        assert self.offers(flex, membership) == {"move"}

    def test_a_pending_request_or_a_move_asked_offers_nothing(self, kern, flex, member, outsider):
        asked = make_membership(member, kern, status=RingMembership.Status.REQUESTED)
        assert self.offers(flex, asked) == set()
        moving = make_membership(outsider, flex)
        moving.requested_ring = kern
        assert self.offers(kern, moving) == set()

    def test_a_closed_coalition_offers_nothing(self, kern, flex, coalition, member):
        coalition.status = Coalition.Status.CLOSED
        coalition.save()
        assert self.offers(flex, None) == set()
        assert self.offers(kern, make_membership(member, flex)) == set()


class TestWhereSomeoneStands:
    """Coalition.place_of: the cache key of the coalition page holds what the rules read."""

    def test_people_the_rules_treat_differently_have_different_places(
        self, coalition, kern, flex, lead, bureau, outsider
    ):
        in_flex = make_person("Flex")
        in_kern = make_person("Kern")
        places = {
            "lead": coalition.place_of(lead, None),
            "bureau": coalition.place_of(bureau, None),
            "outsider": coalition.place_of(outsider, None),
            "visitor": coalition.place_of(None, None),
            "flex": coalition.place_of(in_flex, make_membership(in_flex, flex)),
            "kern": coalition.place_of(in_kern, make_membership(in_kern, kern)),
        }
        assert len(set(places.values())) == len(places)

    def test_two_people_in_the_same_ring_stand_in_the_same_place(self, coalition, flex):
        one, two = make_person("Een"), make_person("Twee")
        assert coalition.place_of(one, make_membership(one, flex)) == coalition.place_of(
            two, make_membership(two, flex)
        )


class TestWhenAProposalIsDecided:
    def test_only_an_open_proposal_of_a_closed_round(self, member):
        import datetime as dt

        from django.utils import timezone

        from coalitions.models import Proposal, ThemeRound

        now = timezone.now()
        theme_round = ThemeRound.objects.create(
            school_year="2031-2032", opens_at=now - dt.timedelta(days=7), closes_at=now
        )
        proposal = Proposal.objects.create(
            round=theme_round, title="Data", question="?", why_now="!", desired_output="."
        )
        assert proposal.is_decidable(now)
        assert not proposal.is_decidable(now - dt.timedelta(days=1))  # still open
        assert not proposal.is_decidable(now - dt.timedelta(days=8))  # not yet open
        proposal.status, proposal.decided_at = Proposal.Status.CHOSEN, now
        assert not proposal.is_decidable(now)
