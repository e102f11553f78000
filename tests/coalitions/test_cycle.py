"""The yearly cycle (issue 15): a theme round with proposals and votes, proposal → coalition,
recruitment with a chosen Kern, the all-or-nothing launch, the evaluation, and the harvest."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from coalitions import reminders, services
from coalitions.models import (
    Coalition,
    Evaluation,
    Interest,
    Proposal,
    RingMembership,
    Support,
    ThemeRound,
)
from members.models import Action, Notification
from tests.conftest import login
from tests.factories import make_coalition, make_membership, make_person, theme_named
from tests.state import nothing_changes

NOW = dt.datetime(2026, 12, 10, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def theme_round(bureau):
    return services.open_round(
        by=bureau,
        school_year="2027-2028",
        opens_at=NOW - dt.timedelta(days=5),
        closes_at=NOW + dt.timedelta(days=30),
        votes_per_person=2,
    )


def propose(theme_round, person, title="Data 4.0"):
    return services.propose(
        theme_round,
        by=person,
        title=title,
        question=f"Hoe gebruiken teams {title}?",
        why_now="Het nieuwe kader vraagt erom.",
        desired_output="Een handreiking voor teams.",
    )


def close(theme_round):
    ThemeRound.objects.filter(pk=theme_round.pk).update(
        opens_at=NOW - dt.timedelta(days=40), closes_at=NOW - dt.timedelta(days=1)
    )
    theme_round.refresh_from_db()


class TestVoting:
    def test_a_person_supports_a_proposal_once(self, theme_round, member, lead):
        proposal = propose(theme_round, lead)
        services.support(proposal, person=member)
        with nothing_changes(), pytest.raises(services.CycleError, match="al"):
            services.support(proposal, person=member)
        assert Support.objects.filter(person=member).count() == 1

    def test_the_database_holds_one_vote_per_person_per_proposal(self, theme_round, member, lead):
        from django.db import IntegrityError, transaction

        proposal = propose(theme_round, lead)
        Support.objects.create(proposal=proposal, person=member)
        with pytest.raises(IntegrityError), transaction.atomic():
            Support.objects.create(proposal=proposal, person=member)

    def test_the_votes_per_person_are_limited_and_can_be_moved(self, theme_round, member, lead):
        first, second, third = (propose(theme_round, lead, t) for t in ("Een", "Twee", "Drie"))
        services.support(first, person=member)
        services.support(second, person=member)
        with nothing_changes(), pytest.raises(services.CycleError, match="2 stemmen"):
            services.support(third, person=member)
        assert not Support.objects.filter(proposal=third).exists()
        # Changeable until the round closes: withdraw one, support another.
        services.withdraw_support(first, person=member)
        services.support(third, person=member)
        assert set(
            Support.objects.filter(person=member).values_list("proposal__title", flat=True)
        ) == {"Twee", "Drie"}

    def test_the_limit_is_per_round(self, theme_round, bureau, member, lead):
        other = services.open_round(
            by=bureau,
            school_year="2028-2029",
            opens_at=NOW - dt.timedelta(days=1),
            closes_at=NOW + dt.timedelta(days=3),
            votes_per_person=1,
        )
        for title in ("Een", "Twee"):
            services.support(propose(theme_round, lead, title), person=member)
        services.support(propose(other, lead, "Elders"), person=member)
        assert Support.objects.filter(person=member).count() == 3

    def test_a_closed_round_refuses_proposals_votes_withdrawals_and_comments(
        self, theme_round, member, lead
    ):
        proposal = propose(theme_round, lead)
        services.support(proposal, person=member)
        close(theme_round)
        with nothing_changes(), pytest.raises(services.CycleError, match="gesloten"):
            propose(theme_round, member, "Te laat")
        with nothing_changes(), pytest.raises(services.CycleError, match="gesloten"):
            services.support(proposal, person=lead)
        with nothing_changes(), pytest.raises(services.CycleError, match="gesloten"):
            services.withdraw_support(proposal, person=member)
        with nothing_changes(), pytest.raises(services.CycleError, match="gesloten"):
            services.comment_on(proposal, by=lead, body="Nog iets")
        assert Support.objects.filter(proposal=proposal).count() == 1
        assert theme_round.proposals.count() == 1

    def test_votes_withdrawals_and_comments_are_in_the_activity_log(
        self, theme_round, member, lead
    ):
        proposal = propose(theme_round, lead)
        services.support(proposal, person=member)
        services.withdraw_support(proposal, person=member)
        services.comment_on(proposal, by=lead, body="Sluit aan bij het kader.")
        logged = list(
            Action.objects.filter(target_id=proposal.pk)
            .exclude(verb="proposal.added")
            .order_by("pk")
            .values_list("verb", "actor_id", "scope")
        )
        scope = f"coalitions.themeround:{theme_round.pk}"
        assert logged == [
            ("proposal.supported", member.pk, scope),
            ("proposal.support_withdrawn", member.pk, scope),
            ("proposal.commented", lead.pk, scope),
        ]
        # The comment's words are not copied into the log (erasure reaches them in one place).
        assert not Action.objects.filter(data__icontains="kader").exists()

    def test_a_refused_vote_leaves_no_trace_in_the_log(self, theme_round, member, lead):
        proposal = propose(theme_round, lead)
        services.support(proposal, person=member)
        with pytest.raises(services.CycleError):
            services.support(proposal, person=member)
        with pytest.raises(services.CycleError):
            services.withdraw_support(propose(theme_round, lead, "Ander"), person=member)
        assert Action.objects.filter(verb="proposal.supported").count() == 1
        assert not Action.objects.filter(verb="proposal.support_withdrawn").exists()

    def test_a_round_that_has_not_opened_refuses_too(self, bureau, member):
        later = services.open_round(
            by=bureau,
            school_year="2028-2029",
            opens_at=NOW + dt.timedelta(days=1),
            closes_at=NOW + dt.timedelta(days=3),
        )
        with nothing_changes(), pytest.raises(services.CycleError, match="niet geopend"):
            propose(later, member)

    def test_the_bureau_closes_the_round_early(self, client, theme_round, bureau, member):
        proposal = propose(theme_round, member)
        url = reverse("coalitions:round_close", args=[theme_round.pk])
        body = login(client, bureau).post(url).content.decode()  # one click only asks
        assert "Themaronde" in body
        assert "Ja, ronde sluiten" in body
        theme_round.refresh_from_db()
        assert not theme_round.is_closed()
        client.post(url, {"confirm": "1"})
        theme_round.refresh_from_db()
        assert theme_round.is_closed()
        with nothing_changes(), pytest.raises(services.CycleError):
            services.support(proposal, person=bureau)

    def test_support_through_the_page_says_when_the_votes_are_used(
        self, client, theme_round, member, lead
    ):
        proposals = [propose(theme_round, lead, t) for t in ("Een", "Twee", "Drie")]
        login(client, member)
        for proposal in proposals:
            response = client.post(
                reverse("coalitions:proposal_support", args=[proposal.pk]), follow=True
            )
        assert "Je hebt je 2 stemmen in deze ronde gebruikt" in response.content.decode()
        page = client.get(reverse("coalitions:round", args=[theme_round.pk])).content.decode()
        assert "Je hebt 0 stemmen over (van 2)" in page
        assert page.count("Steun intrekken") == 2


class TestRanking:
    def test_the_bureau_sees_supporters_per_institution(
        self, client, theme_round, bureau, institution, other_institution
    ):
        one_school = propose(theme_round, make_person("Pim", "Een", institution), "Eén school")
        many = propose(theme_round, make_person("Pam", "Veel", other_institution), "Breed")
        for n in range(3):
            services.support(one_school, person=make_person("Lid", f"D{n}", institution))
        services.support(many, person=make_person("Lid", "A", institution))
        services.support(
            many, person=make_person("Amb", "B", other_institution, is_ambassador=True)
        )
        ranked = list(theme_round.proposals.ranked())
        assert [(p.title, p.supporter_count, p.institution_count) for p in ranked] == [
            ("Eén school", 3, 1),
            ("Breed", 2, 2),
        ]
        page = (
            login(client, bureau)
            .get(reverse("coalitions:ranking", args=[theme_round.pk]))
            .content.decode()
        )
        rows = {
            title: page.split(f">{title}</a>")[1].split("</tr>")[0]
            for title in ("Eén school", "Breed")
        }
        assert "Deltion College: 3" in rows["Eén school"]
        assert "Albeda" not in rows["Eén school"]
        assert "Albeda: 1 (1 A)" in rows["Breed"]
        assert "Deltion College: 1" in rows["Breed"]


class TestFromProposalToCoalition:
    def test_the_coalition_carries_the_question_and_keeps_the_supporters(
        self, theme_round, bureau, member, lead, institution
    ):
        proposer = make_person("Petra", "Voorsteller", institution, account=True)
        proposal = propose(theme_round, proposer)
        supporters = [member, lead, make_person("Sam", "Steun", institution)]
        for person in supporters:
            services.support(proposal, person=person)
        close(theme_round)
        coalition = services.adopt_proposal(
            proposal,
            by=bureau,
            name="Data 4.0",
            theme=theme_named("Data"),
            school_year="2027-2028",
            start=dt.date(2027, 9, 1),
            planned_end=dt.date(2028, 6, 30),
        )
        proposal.refresh_from_db()
        assert proposal.is_chosen
        assert proposal.coalition == coalition
        assert coalition.status == Coalition.Status.PREPARING
        assert coalition.assignment == proposal.question
        assert coalition.intended_output == "Een handreiking voor teams."
        assert set(
            Interest.objects.filter(coalition=coalition).values_list("person", flat=True)
        ) == {p.pk for p in [*supporters, proposer]}
        told = Notification.objects.filter(kind="proposal_decided")
        assert set(told.values_list("person", flat=True)) == {p.pk for p in [*supporters, proposer]}
        # Recruitment opens: the interested are invited to it, once.
        services.transition(coalition, Coalition.Status.RECRUITING, by=bureau)
        invited = Notification.objects.filter(kind="recruitment_opened")
        assert invited.count() == 4
        assert reverse("coalitions:recruitment") in invited.first().body

    def test_a_declined_proposal_shows_its_reason_to_the_proposer(
        self, client, theme_round, bureau, member
    ):
        proposal = propose(theme_round, member)
        close(theme_round)
        with nothing_changes(), pytest.raises(services.CycleError):
            services.decline_proposal(proposal, by=bureau, reason="  ")
        services.decline_proposal(proposal, by=bureau, reason="Past in de coalitie Data 3.0.")
        page = (
            login(client, member)
            .get(reverse("coalitions:proposal", args=[proposal.pk]))
            .content.decode()
        )
        assert "Niet gekozen." in page
        assert "Past in de coalitie Data 3.0." in page
        mail = Notification.objects.get(kind="proposal_decided", person=member)
        assert "Past in de coalitie Data 3.0." in mail.body

    def test_the_database_refuses_a_decline_without_reason(self, theme_round, member):
        from django.db import IntegrityError, transaction

        proposal = propose(theme_round, member)
        with pytest.raises(IntegrityError), transaction.atomic():
            Proposal.objects.filter(pk=proposal.pk).update(
                status=Proposal.Status.DECLINED, decided_at=NOW
            )

    def test_proposals_are_decided_after_the_round_closes(self, theme_round, bureau, member):
        proposal = propose(theme_round, member)
        with nothing_changes(), pytest.raises(services.CycleError, match="gesloten"):
            services.decline_proposal(proposal, by=bureau, reason="Nee")
        assert Proposal.objects.get(pk=proposal.pk).is_open

    def test_the_bureau_chooses_through_the_page(self, client, theme_round, bureau, member):
        proposal = propose(theme_round, member)
        services.support(proposal, person=member)
        close(theme_round)
        url = reverse("coalitions:proposal_decide", args=[proposal.pk])
        form = login(client, bureau).get(url).content.decode()
        assert "Hoe gebruiken teams Data 4.0?" in form  # the question, as the assignment
        response = client.post(
            url,
            {
                "decision": "adopt",
                "adopt-name": "Data 4.0",
                "adopt-theme": theme_named("Data").pk,
                "adopt-school_year": "2027-2028",
                "adopt-assignment": proposal.question,
                "adopt-start": "2027-09-01",
                "adopt-planned_end": "2028-06-30",
                "adopt-leads": member.email,
            },
        )
        coalition = Coalition.objects.get(name="Data 4.0")
        assert response["Location"] == reverse("coalitions:detail", args=[coalition.pk])
        assert list(coalition.leads.all()) == [member]
        assert coalition.interested.filter(person=member).exists()

    def test_a_theme_not_in_the_list_is_added_without_leaving_the_form(
        self, client, theme_round, bureau, member
    ):
        from coalitions.models import Theme

        proposal = propose(theme_round, member)
        close(theme_round)
        url = reverse("coalitions:proposal_decide", args=[proposal.pk])
        form = login(client, bureau).get(url).content.decode()
        assert 'name="adopt-new_theme"' in form
        post = {
            "decision": "adopt",
            "adopt-name": "AI in het onderwijs",
            "adopt-new_theme": "AI in het onderwijs",
            "adopt-school_year": "2027-2028",
            "adopt-assignment": proposal.question,
            "adopt-start": "2027-09-01",
            "adopt-planned_end": "2028-06-30",
        }
        response = client.post(url, post)
        coalition = Coalition.objects.get(name="AI in het onderwijs")
        assert response["Location"] == reverse("coalitions:detail", args=[coalition.pk])
        assert coalition.theme.name == "AI in het onderwijs"
        assert Theme.objects.filter(name__iexact="ai in het onderwijs").count() == 1

    def test_choosing_no_theme_at_all_is_told_beside_the_field(
        self, client, theme_round, bureau, member
    ):
        proposal = propose(theme_round, member)
        close(theme_round)
        url = reverse("coalitions:proposal_decide", args=[proposal.pk])
        response = login(client, bureau).post(
            url,
            {
                "decision": "adopt",
                "adopt-name": "Iets",
                "adopt-school_year": "2027-2028",
                "adopt-assignment": "Vraag",
                "adopt-start": "2027-09-01",
                "adopt-planned_end": "2028-06-30",
            },
        )
        assert response.status_code == 400
        assert "Kies een thema, of geef hieronder een nieuw thema op." in response.content.decode()
        assert not Coalition.objects.filter(name="Iets").exists()


class TestLine:
    def test_the_coalition_page_shows_the_line_with_outputs_and_lessons(
        self, client, member, django_assert_max_num_queries
    ):
        from coalitions.models import Output

        first = make_coalition("Data", school_year="2024-2025", status="afgerond")
        second = make_coalition(
            "Data 2.0", school_year="2025-2026", status="afgerond", continues=first
        )
        third = make_coalition("Data 3.0", school_year="2026-2027", continues=second)
        Output.objects.create(
            coalition=first,
            title="Efficiënt datagebruik",
            url="https://e.example/",
            visibility="netwerk",
        )
        Output.objects.create(
            coalition=first, title="Alleen de kern", url="https://k.example/", visibility="coalitie"
        )
        Evaluation.objects.create(
            coalition=second, delivered="Een visual", advice="Begin bij de vraag van teams."
        )
        assert [c.name for c in third.line()] == ["Data", "Data 2.0"]
        page = (
            login(client, member)
            .get(reverse("coalitions:detail", args=[third.pk]))
            .content.decode()
        )
        line = page.split('id="lijn"')[1]
        assert line.index("Data 2.0") > line.index(">Data<")
        assert "Efficiënt datagebruik" in line
        assert "Alleen de kern" not in line
        assert "Begin bij de vraag van teams." in line
        first_page = client.get(reverse("coalitions:detail", args=[first.pk])).content.decode()
        assert "Data 3.0" not in first_page.split('id="lijn"')[1]  # only the next in line
        assert "Data 2.0" in first_page.split('id="lijn"')[1]

    def test_a_coalition_cannot_continue_one_that_continues_it(self, client, bureau):
        from coalitions.forms import CoalitionForm

        first = make_coalition("Data", school_year="2024-2025")
        second = make_coalition("Data 2.0", school_year="2025-2026", continues=first)
        choices = set(CoalitionForm(instance=first).fields["continues"].queryset)
        assert second not in choices
        assert first not in choices


@pytest.fixture
def recruiting(lead, bureau):
    coalition = make_coalition("Werving Data", leads=[lead], status=Coalition.Status.RECRUITING)
    core = coalition.rings.get(order=1)
    core.minimum_size = 2
    core.capacity = 3
    core.save()
    return coalition


def candidates(coalition, n, institution, prefix="K"):
    return [
        services.join_ring(
            make_person(prefix, f"{prefix}{i}", institution),
            coalition.rings.get(order=1),
            motivation="Ik wil",
        )
        for i in range(n)
    ]


class TestRecruitmentAndLaunch:
    def test_the_kern_asks_a_motivation_and_the_flexibele_ring_joins_directly(
        self, client, recruiting, member
    ):
        kern, flex = recruiting.rings.get(order=1), recruiting.rings.get(order=2)
        login(client, member)
        response = client.post(reverse("coalitions:recruitment_join", args=[kern.pk]), {})
        assert response.status_code == 400
        assert "Dit veld is verplicht." in response.content.decode()
        assert not RingMembership.objects.filter(person=member).exists()
        client.post(
            reverse("coalitions:recruitment_join", args=[kern.pk]),
            {f"r{kern.pk}-motivation": "Ik breng data-ervaring mee."},
        )
        candidate = RingMembership.objects.get(person=member)
        assert candidate.is_requested
        assert candidate.motivation == "Ik breng data-ervaring mee."
        other = make_person("Fleur", "Flex", member.institution, account=True)
        login(client, other).post(reverse("coalitions:recruitment_join", args=[flex.pk]))
        assert RingMembership.objects.get(person=other).is_active

    def test_leads_see_candidates_by_institution_and_choose(
        self, client, recruiting, lead, institution, other_institution
    ):
        here = candidates(recruiting, 2, institution, "D")
        there = candidates(recruiting, 1, other_institution, "A")
        page = login(client, lead).get(reverse("coalitions:candidates", args=[recruiting.pk]))
        body = page.content.decode()
        assert body.index("Albeda (1)") < body.index("Deltion College (2)")
        client.post(
            reverse("coalitions:candidates", args=[recruiting.pk]),
            {"chosen": [here[0].pk, there[0].pk]},
        )
        assert set(RingMembership.objects.filter(chosen=True).values_list("pk", flat=True)) == {
            here[0].pk,
            there[0].pk,
        }
        assert RingMembership.objects.get(pk=here[1].pk).is_requested  # nobody placed yet

    def test_the_launch_places_everyone_and_tells_them(self, recruiting, bureau, institution):
        chosen = candidates(recruiting, 2, institution, "G")
        passed = candidates(recruiting, 1, institution, "N")[0]
        services.choose_candidates(recruiting, {m.pk for m in chosen}, by=bureau)
        services.launch([recruiting], by=bureau)
        recruiting.refresh_from_db()
        assert recruiting.status == Coalition.Status.ACTIVE
        kern = recruiting.rings.get(order=1)
        assert set(kern.memberships.active().values_list("pk", flat=True)) == {m.pk for m in chosen}
        placed = RingMembership.objects.get(person=passed.person, status="actief")
        assert placed.ring.order == 2  # not chosen: the Flexibele ring
        told = Notification.objects.filter(kind="coalition_launched")
        assert told.count() == 3
        assert "Flexibele ring" in told.get(person=passed.person).subject

    def test_the_launch_is_all_or_nothing(self, recruiting, bureau, institution, lead):
        ready = recruiting
        services.choose_candidates(
            ready, {m.pk for m in candidates(ready, 2, institution)}, by=bureau
        )
        thin = make_coalition("Zo dun", leads=[lead], status=Coalition.Status.RECRUITING)
        services.choose_candidates(
            thin, {m.pk for m in candidates(thin, 1, institution, "T")}, by=bureau
        )
        with nothing_changes(), pytest.raises(services.LaunchError) as error:
            services.launch([ready, thin], by=bureau)
        assert any("Zo dun" in problem for problem in error.value.problems)
        assert not any("Werving Data" in problem for problem in error.value.problems)
        for coalition in (ready, thin):
            coalition.refresh_from_db()
            assert coalition.status == Coalition.Status.RECRUITING
        assert not RingMembership.objects.filter(
            status="actief", coalition__in=[ready, thin]
        ).exists()
        assert not Notification.objects.filter(kind="coalition_launched").exists()

    def test_a_kern_chosen_beyond_its_capacity_does_not_launch(
        self, recruiting, bureau, institution
    ):
        services.choose_candidates(
            recruiting, {m.pk for m in candidates(recruiting, 4, institution)}, by=bureau
        )
        with nothing_changes(), pytest.raises(services.LaunchError, match="4 gekozen"):
            services.launch([recruiting], by=bureau)

    def test_a_coalition_without_a_lead_does_not_launch(self, bureau, institution):
        leaderless = make_coalition("Zonder", status=Coalition.Status.RECRUITING)
        leaderless.rings.core().update(minimum_size=None)
        with nothing_changes(), pytest.raises(services.LaunchError, match="nog geen trekker"):
            services.launch([leaderless], by=bureau)

    def test_the_launch_page_launches_what_is_ticked(self, client, recruiting, bureau, institution):
        services.choose_candidates(
            recruiting, {m.pk for m in candidates(recruiting, 2, institution)}, by=bureau
        )
        url = reverse("coalitions:launch")
        asked = login(client, bureau).post(url, {"coalitions": [recruiting.pk]}).content.decode()
        assert "1 coalitie lanceren?" in asked
        assert recruiting.name in asked
        recruiting.refresh_from_db()
        assert recruiting.status == Coalition.Status.RECRUITING  # one click only asks
        response = client.post(url, {"coalitions": [recruiting.pk], "confirm": "1"}, follow=True)
        assert "1 coalitie is gelanceerd" in response.content.decode()
        recruiting.refresh_from_db()
        assert recruiting.status == Coalition.Status.ACTIVE

    def test_only_leads_and_the_bureau_choose(self, client, recruiting, member, other_lead):
        for person in (member, other_lead):
            response = login(client, person).post(
                reverse("coalitions:candidates", args=[recruiting.pk]), {"chosen": []}
            )
            assert response.status_code == 403


class TestEvaluation:
    def test_the_lead_and_the_kern_write_it_and_the_network_reads_it(
        self, client, lead, member, other_institution, bureau
    ):
        coalition = make_coalition("Evaluatie", leads=[lead], status=Coalition.Status.EVALUATING)
        make_membership(member, coalition.rings.get(order=1))
        flex = make_person("Flo", "Flex", other_institution, account=True)
        make_membership(flex, coalition.rings.get(order=2))
        url = reverse("coalitions:evaluation", args=[coalition.pk])
        assert login(client, flex).get(url).status_code == 403
        login(client, member).post(
            url,
            {
                "delivered": "Een praatplaat.",
                "dilemmas": "Heldere opdracht versus ruimte.",
                "good_practices": "Elke bijeenkomst een casus.",
                "advice": "Begin bij de vraag van teams.",
            },
        )
        evaluation = Evaluation.objects.get(coalition=coalition)
        assert evaluation.updated_by == member
        page = login(client, flex).get(reverse("coalitions:detail", args=[coalition.pk]))
        assert "Heldere opdracht versus ruimte." in page.content.decode()
        overview = login(client, bureau).get(
            reverse("coalitions:evaluations"), {"jaar": "2026-2027"}
        )
        assert "Begin bij de vraag van teams." in overview.content.decode()

    def test_an_active_coalition_is_not_evaluated_yet(self, client, lead, coalition):
        url = reverse("coalitions:evaluation", args=[coalition.pk])
        assert login(client, lead).get(url).status_code == 403
        with nothing_changes(), pytest.raises(services.CycleError):
            services.save_evaluation(coalition, by=lead, delivered="x", advice="y")


class TestReminders:
    def test_each_step_is_told_once_through_the_outbox(
        self, theme_round, lead, member, institution
    ):
        ambassador = make_person(
            "Anna", "Ambassadeur", institution, account=True, is_ambassador=True
        )
        assert reminders.round_opened(NOW) >= 3
        assert reminders.round_opened(NOW) == 0  # once
        assert Notification.objects.filter(kind="round_opened", person=member).exists()
        assert reminders.round_closing(NOW) == 0  # not yet: a month to go
        closing = theme_round.closes_at - dt.timedelta(days=2)
        assert reminders.round_closing(closing) == 1
        assert Notification.objects.get(kind="round_closing").person == ambassador
        assert reminders.round_closing(closing) == 0
        evaluating = make_coalition("Klaar", leads=[lead], status=Coalition.Status.EVALUATING)
        make_membership(member, evaluating.rings.get(order=1))
        assert reminders.evaluation_due(NOW) == 2
        assert reminders.evaluation_due(NOW) == 0
        Evaluation.objects.all().delete()
        services.save_evaluation(evaluating, by=lead, delivered="x", advice="y")
        later = make_coalition("Later", leads=[lead], status=Coalition.Status.EVALUATING)
        assert reminders.evaluation_due(NOW) == 1  # only the one without an evaluation
        assert Notification.objects.filter(occasion__contains=f":{later.pk}:").exists()


class TestHarvest:
    def test_outputs_presented_at_the_conference_are_the_harvest(self, client, bureau, member):
        from coalitions.models import Output
        from tests.events.conftest import make_session

        coalition = make_coalition("Data 3.0", school_year="2025-2026", status="afgerond")
        shown = Output.objects.create(
            coalition=coalition,
            title="Praatplaat data",
            url="https://p.example/",
            visibility="openbaar",
        )
        network = Output.objects.create(
            coalition=coalition, title="Netwerkgids", url="https://n.example/", visibility="netwerk"
        )
        Output.objects.create(
            coalition=coalition,
            title="Niet getoond",
            url="https://x.example/",
            visibility="openbaar",
        )
        conference = make_session(
            title="Jaarconferentie",
            kind="jaarconferentie",
            start=timezone.now() - dt.timedelta(days=60),
        )
        login(client, bureau).post(
            reverse("events:presentations", args=[conference.pk]),
            {"outputs": [shown.pk, network.pk]},
        )
        assert set(conference.presentations.values_list("output", flat=True)) == {
            shown.pk,
            network.pk,
        }
        library = login(client, member).get(reverse("coalitions:library")).content.decode()
        harvest = library.split('id="harvest-heading"')[1].split("</section>")[0]
        assert "Praatplaat data" in harvest
        assert "Netwerkgids" in harvest
        assert "Niet getoond" not in harvest
        client.logout()
        public = client.get(reverse("coalitions:library")).content.decode()
        harvest = public.split('id="harvest-heading"')[1].split("</section>")[0]
        assert "Praatplaat data" in harvest
        assert "Netwerkgids" not in harvest

    def test_a_member_cannot_choose_what_is_presented(self, client, member):
        from tests.events.conftest import make_session

        conference = make_session(title="Jaarconferentie", kind="jaarconferentie")
        response = login(client, member).post(
            reverse("events:presentations", args=[conference.pk]), {"outputs": []}
        )
        assert response.status_code == 403


class TestQueryBudgets:
    """Each page of the cycle runs a fixed number of queries however much the network brings in."""

    def grow(self, theme_round, lead, institution, n):
        from django.core.cache import cache

        start = theme_round.proposals.count()
        for i in range(start, start + n):
            proposal = propose(theme_round, make_person("P", f"Q{i}", institution), f"Thema {i}")
            for j in range(3):
                voter = make_person("V", f"W{i}-{j}", institution, is_ambassador=j == 0)
                services.support(proposal, person=voter)
            services.comment_on(proposal, by=lead, body="Goed")
            coalition = make_coalition(
                f"Werving {i}", leads=[lead], status=Coalition.Status.RECRUITING
            )
            candidates(coalition, 2, institution, f"C{i}-")
            evaluated = make_coalition(
                f"Klaar {i}", leads=[lead], status=Coalition.Status.EVALUATING
            )
            Evaluation.objects.create(coalition=evaluated, delivered="x", advice="y")
            previous = Coalition.objects.filter(name__startswith="Lijn").order_by("-pk").first()
            make_coalition(f"Lijn {i}", school_year="2026-2027", continues=previous)
        cache.clear()  # the computing path, not a kept page

    def counted(self, client, urls, django_assert_max_num_queries):
        from django.core.cache import cache

        counts = []
        for url in urls:
            cache.clear()
            with django_assert_max_num_queries(30) as captured:
                assert client.get(url).status_code == 200, url
            counts.append(len(captured.captured_queries))
        return counts

    def test_the_cycle_pages_stay_flat(
        self, client, theme_round, bureau, lead, institution, django_assert_max_num_queries
    ):
        self.grow(theme_round, lead, institution, 2)
        proposal = theme_round.proposals.first()
        recruiting = Coalition.objects.get(name="Werving 0")

        def urls():
            last = Coalition.objects.filter(name__startswith="Lijn").order_by("-pk").first()
            return [
                reverse("coalitions:rounds"),
                reverse("coalitions:round", args=[theme_round.pk]),
                reverse("coalitions:ranking", args=[theme_round.pk]),
                reverse("coalitions:proposal", args=[proposal.pk]),
                reverse("coalitions:recruitment"),
                reverse("coalitions:candidates", args=[recruiting.pk]),
                reverse("coalitions:launch"),
                reverse("coalitions:evaluations") + "?jaar=2026-2027",
                reverse("coalitions:detail", args=[last.pk]),
                reverse("coalitions:library"),
            ]

        login(client, bureau)
        small = self.counted(client, urls(), django_assert_max_num_queries)
        self.grow(theme_round, lead, institution, 6)
        assert self.counted(client, urls(), django_assert_max_num_queries) == small


def test_a_launch_that_fails_half_way_changes_nothing_and_tells_no_one(
    recruiting, bureau, institution, lead, monkeypatch, django_capture_on_commit_callbacks
):
    """The rule check passes for both; the second placement then fails (a ring filled, a
    request answered meanwhile): the first coalition must not stay launched."""
    second = make_coalition("Zo tweede", leads=[lead], status=Coalition.Status.RECRUITING)
    second.rings.core().update(minimum_size=1)
    for coalition in (recruiting, second):
        chosen = candidates(coalition, 2, institution, f"H{coalition.pk}-")
        services.choose_candidates(coalition, {m.pk for m in chosen}, by=bureau)
    real = services._launch_one

    def fail_on_the_second(coalition, *, by):
        if coalition.pk == second.pk:
            raise services.RingFull("Vol")
        return real(coalition, by=by)

    monkeypatch.setattr(services, "_launch_one", fail_on_the_second)
    before = Notification.objects.count()  # the leads heard of the requests
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(services.LaunchError):
        services.launch([recruiting, second], by=bureau)
    for coalition in (recruiting, second):
        coalition.refresh_from_db()
        assert coalition.status == Coalition.Status.RECRUITING
    assert not RingMembership.objects.filter(
        coalition__in=[recruiting, second], status="actief"
    ).exists()
    assert Notification.objects.count() == before
    assert not Notification.objects.filter(kind="coalition_launched").exists()
    assert callbacks == []


def test_choosing_touches_only_this_coalitions_kern_requests(recruiting, bureau, institution, lead):
    other = make_coalition("Elders", leads=[lead], status=Coalition.Status.RECRUITING)
    theirs = candidates(other, 1, institution, "E")[0]
    flex = make_membership(make_person("F", "Flex", institution), recruiting.rings.get(order=2))
    services.choose_candidates(recruiting, {theirs.pk, flex.pk}, by=bureau)
    assert not RingMembership.objects.filter(chosen=True).exists()


def test_who_is_not_chosen_and_finds_no_room_is_told(recruiting, bureau, institution):
    flex = recruiting.rings.get(order=2)
    flex.capacity = 1
    flex.save()
    chosen = candidates(recruiting, 2, institution, "G")
    first, second = candidates(recruiting, 2, institution, "N")
    services.choose_candidates(recruiting, {m.pk for m in chosen}, by=bureau)
    services.launch([recruiting], by=bureau)
    placed = RingMembership.objects.get(person=first.person, status="actief")
    assert placed.ring == flex
    ended = RingMembership.objects.get(pk=second.pk)
    assert (ended.status, ended.end_reason) == ("beeindigd", "afgewezen")
    assert not RingMembership.objects.filter(person=second.person, status="actief").exists()
    assert Notification.objects.filter(kind="membership_decision", person=second.person).exists()
    assert Notification.objects.filter(kind="coalition_launched", person=first.person).exists()


def test_the_harvest_is_the_last_published_conference_and_only_the_bureau_chooses_it(
    client, bureau, lead, member
):
    from coalitions.models import Output
    from events import services as event_services
    from tests.events.conftest import make_session

    coalition = make_coalition("Data 3.0", school_year="2025-2026", status="afgerond")
    output = Output.objects.create(
        coalition=coalition, title="Praatplaat", url="https://p.example/", visibility="openbaar"
    )
    draft = make_session(
        title="Conceptconferentie",
        kind="jaarconferentie",
        status="concept",
        start=timezone.now() - dt.timedelta(days=30),
    )
    event_services.choose_presentations(draft, [output], by=bureau)
    page = login(client, member).get(reverse("coalitions:library")).content.decode()
    assert "Conceptconferentie" not in page
    assert 'id="harvest-heading"' not in page
    meeting = make_session(title="Themadag", kind="themabijeenkomst")
    with nothing_changes(), pytest.raises(event_services.RegistrationError):
        event_services.choose_presentations(meeting, [output], by=bureau)
    assert login(client, lead).get(
        reverse("events:presentations", args=[draft.pk])
    ).status_code in (403, 404)


def test_an_erased_persons_comments_lose_their_words(theme_round, bureau, member, lead):
    from coalitions.models import ProposalComment
    from members import services as member_services

    proposal = propose(theme_round, lead)
    services.comment_on(proposal, by=member, body="Bij ons speelt dit ook, vooral in Zwolle.")
    member_services.erase_person(member, by=bureau)
    comment = ProposalComment.objects.get(proposal=proposal)
    assert comment.body == ""


def test_support_cannot_be_withdrawn_from_a_decided_proposal(theme_round, bureau, member):
    proposal = propose(theme_round, member)
    services.support(proposal, person=member)
    close(theme_round)
    services.decline_proposal(proposal, by=bureau, reason="Later")
    services.change_round(theme_round, by=bureau, closes_at=NOW + dt.timedelta(days=5))
    with nothing_changes(), pytest.raises(services.CycleError):
        services.withdraw_support(proposal, person=member)
    assert Support.objects.filter(proposal=proposal).count() == 1


def test_only_the_bureau_sees_supporters_per_institution(
    client, theme_round, bureau, member, institution
):
    proposal = propose(theme_round, member)
    services.support(proposal, person=make_person("S", "Steun", institution))
    url = reverse("coalitions:proposal", args=[proposal.pk])
    assert "Deltion College (1)" not in login(client, member).get(url).content.decode()
    assert "Deltion College (1)" in login(client, bureau).get(url).content.decode()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_votes_at_once_cannot_pass_the_limit_together(bureau, member, lead):
    """The person's row is locked while their votes are counted: of two clicks on two proposals
    at the same moment with one vote left, one is refused."""
    from tests.concurrency import race

    theme_round = services.open_round(
        by=bureau,
        school_year="2027-2028",
        opens_at=NOW - dt.timedelta(days=1),
        closes_at=NOW + dt.timedelta(days=3),
        votes_per_person=1,
    )
    proposals = [propose(theme_round, lead, t) for t in ("Een", "Twee", "Drie", "Vier")]
    errors = race(proposals, lambda proposal: services.support(proposal, person=member))
    assert Support.objects.filter(person=member).count() == 1
    assert len(errors) == 3
    assert all(isinstance(e, services.CycleError) for e in errors)
