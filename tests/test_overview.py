"""The Overzicht, the first page every person sees: what is on for *this* person."""

import pytest
from django.urls import reverse

from coalitions import services as coalition_services
from coalitions.models import Output
from events import services
from events.models import Session, SessionPart
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import make_coalition, make_membership, make_person


@pytest.fixture
def network(lead, other_institution):
    """Bob's coalition; another coalition with a Kern-only meeting; and a joint session."""
    ours = lead.led_coalitions.get()
    theirs = make_coalition(
        "Kansengelijkheid", leads=[make_person("Erik", "Smit", other_institution)]
    )
    kern_meeting = make_session(
        kind=Session.Kind.COALITION, organiser_coalition=theirs, title="Kernoverleg Kansen"
    )
    SessionPart.objects.create(
        session=kern_meeting,
        kind="werken",
        coalition=theirs,
        title="Kern aan het werk",
        start=kern_meeting.start,
        end=kern_meeting.end,
    ).invited_rings.add(theirs.rings.get(order=1))
    joint = make_session(title="Netwerkdag coalities")
    SessionPart.objects.create(
        session=joint, kind="plenair", title="Plenair", start=joint.start, end=joint.end
    )
    draft = make_session(title="Nog geheim", status=Session.Status.DRAFT)
    return {"ours": ours, "theirs": theirs, "joint": joint, "draft": draft}


def overview(client, person) -> str:
    return login(client, person).get(reverse("home")).content.decode()


def test_a_member_sees_their_coalitions_and_not_others(client, member, network):
    make_membership(member, network["ours"].rings.get(order=2))
    body = overview(client, member)
    assert "Jouw coalities" in body
    assert "Peer review in teams" in body
    assert "Kansengelijkheid" not in body
    assert "Coalities waarvan je trekker bent" not in body


def test_a_member_sees_the_sessions_they_are_invited_to_and_no_others(client, member, network):
    make_membership(member, network["ours"].rings.get(order=2))
    body = overview(client, member)
    assert "Netwerkdag coalities" in body
    assert "Kernoverleg Kansen" not in body  # another coalition's Kern-only meeting
    assert "Nog geheim" not in body  # a draft


def test_the_badges_say_where_the_member_stands(client, member, network, institution):
    joint = network["joint"]
    joint.capacity = 1
    joint.save(update_fields=["capacity"])
    services.register(make_person("Eerder", "Aangemeld", institution), joint)
    services.register(member, joint)
    body = overview(client, member)
    assert "Je staat op de wachtlijst" in body
    assert "Je bent aangemeld" not in body


def test_a_member_with_a_ring_gets_the_my_coalitions_link(client, member, network):
    assert "?mine=1" not in overview(client, member)
    make_membership(member, network["ours"].rings.get(order=2))
    assert "?mine=1" in overview(client, member)


def test_a_lead_sees_the_coalitions_they_lead(client, lead, network):
    body = overview(client, lead)
    assert "Coalities waarvan je trekker bent" in body
    assert "Jouw coalities" not in body
    assert "Kernoverleg Kansen" not in body


# What else the overview holds (issue 13) -------------------------------------------------------


def test_my_ring_its_agreement_and_how_i_keep_it(client, member, network):
    make_membership(member, network["ours"].rings.get(order=1))
    body = overview(client, member)
    assert "Kern" in body
    assert "Afgesproken: 4 bijeenkomsten per jaar." in body
    assert "Je was bij 0 van de 0 gehouden bijeenkomsten." in body


def test_my_waiting_list_place_and_the_button_in_place(client, member, network, institution):
    joint = make_session(title="Losse bijeenkomst", capacity=1)  # no programme to choose from
    services.register(make_person("Eerder", "Aangemeld", institution), joint)
    body = overview(client, member)
    assert "Aanmelden voor bijeenkomst" in body
    response = client.post(
        reverse("events:signup", args=[joint.pk]),
        {"from": "overview"},
        headers={"HX-Request": "true"},
    )
    fragment = response.content.decode()
    assert f'id="overview-session-{joint.pk}"' in fragment
    assert "Je staat op de wachtlijst" in fragment
    assert "Afmelden" in fragment
    assert "Aanmelden voor bijeenkomst" not in fragment
    assert "<html" not in fragment  # only the row it swaps


def test_unanswered_invitations_and_open_requests(client, member, network):
    coalition_services.join_ring(member, network["theirs"].rings.get(order=1), motivation="Graag")
    body = overview(client, member)
    section = body[body.index("Uitnodigingen waarop je nog niet reageerde") :]
    assert "Netwerkdag coalities" in section[: section.index("</section>")]
    assert "je vroeg om aan te sluiten bij Kern" in body


def test_what_is_new_since_my_last_visit(client, member, lead, network):
    make_membership(member, network["ours"].rings.get(order=2))
    overview(client, member)  # the visit
    coalition_services.add_output(
        Output(coalition=network["ours"], title="Handreiking peer review", url="https://x.org/"),
        by=lead,
    )
    body = overview(client, member)
    news = body[body.index("Nieuw in je coalities") :]
    assert "Handreiking peer review" in news[: news.index("</section>")]
    again = overview(client, member)  # seen now: no longer new
    news = again[again.index("Nieuw in je coalities") :]
    assert "Handreiking peer review" not in news[: news.index("</section>")]


def test_a_newcomer_is_told_what_to_do(client, member, db):
    body = overview(client, member)
    assert "Je doet nog niet mee in een coalitie" in body
    assert "Er zijn nog geen bijeenkomsten voor jou gepland" in body


def test_a_lead_sees_requests_input_and_ring_health(client, lead, member, network):
    coalition_services.join_ring(member, network["ours"].rings.get(order=1), motivation="Graag")
    coalition_services.add_input(
        network["ours"], by=member, kind="vraag", title="Hoe meten we?", body="?"
    )
    body = overview(client, lead)
    assert "Charlie Visser vraagt om aan te sluiten bij Kern" in body
    assert "Hoe meten we?" in body
    assert "0 van minstens 5" in body  # the Kern below its minimum


def test_my_sign_ups_lists_coming_and_past(client, member, network):
    services.register(member, network["joint"])
    body = login(client, member).get(reverse("my_registrations")).content.decode()
    coming = body[body.index("Komend") : body.index("Geweest")]
    assert "Netwerkdag coalities" in coming
    assert "Kernoverleg Kansen" not in body


def test_the_overview_runs_a_fixed_number_of_queries(
    client, member, network, institution, django_assert_max_num_queries
):
    make_membership(member, network["ours"].rings.get(order=1))
    login(client, member).get(reverse("home"))
    with django_assert_max_num_queries(40) as small:
        client.get(reverse("home"))
    for i in range(6):
        coalition = make_coalition(f"Extra {i}")
        make_membership(member, coalition.rings.get(order=2))
        services.register(member, make_session(title=f"Extra {i}"))
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("home"))


class TestWhatMyOverviewShows:
    def test_news_shows_only_what_i_may_see(self, client, member, lead, network, institution):
        ours = network["ours"]
        make_membership(member, ours.rings.get(order=2))
        overview(client, member)
        kern_only = Output(
            coalition=ours,
            ring=ours.rings.get(order=1),
            visibility=Output.Visibility.RING,
            title="Geheim kernstuk",
            url="https://x.org/k",
        )
        coalition_services.add_output(kern_only, by=lead)
        flex = ours.rings.get(order=2)
        flex.can_see_workspace = False
        flex.save()
        newcomer = make_person("Nieuwe", "Kern", institution)
        request = coalition_services.join_ring(newcomer, ours.rings.get(order=1))
        coalition_services.accept_request(request, by=lead)
        body = overview(client, member)
        assert "Geheim kernstuk" not in body
        assert "Nieuwe Kern" not in body

    def test_a_session_with_a_programme_is_signed_up_for_on_its_page(self, client, member, network):
        body = overview(client, member)
        joint = network["joint"]  # has a plenary part: choices are made on its page
        row = body[body.index(f'id="overview-session-{joint.pk}"') :]
        row = row[: row.index("</li>")]
        assert "Kies je onderdelen en meld je aan" in row
        assert "Aanmelden voor bijeenkomst" not in row

    def test_my_place_on_the_waiting_list(self, client, member, network, institution):
        joint = network["joint"]
        joint.capacity = 1
        joint.save(update_fields=["capacity"])
        for i in range(2):
            services.register(make_person("Eerder", f"Aangemeld{i}", institution), joint)
        services.register(member, joint)
        assert "plaats 2" in overview(client, member)
        mine = login(client, member).get(reverse("my_registrations")).content.decode()
        assert "op de wachtlijst, plaats 2" in mine

    def test_closed_coalitions_stay_out_of_the_overview(self, client, member, network, bureau):
        from coalitions.models import Coalition

        make_membership(member, network["ours"].rings.get(order=2))
        Coalition.objects.filter(pk=network["ours"].pk).update(status="afgerond")
        body = overview(client, member)
        assert "Afgesproken:" not in body
        assert "Je doet nog niet mee in een coalitie" in body

    def test_invitations_further_ahead_still_count_as_unanswered(self, client, member, db):
        for day in range(10):
            make_session(title=f"Sessie {day:02d}", days=14 + day, signup_deadline=None)
        body = overview(client, member)
        section = body[body.index("Uitnodigingen waarop je nog niet reageerde") :]
        section = section[: section.index("</section>")]
        assert "Sessie 00" in section
        assert section.count("<li>") == 8

    def test_my_sign_ups_say_when_a_session_does_not_go_ahead(self, client, member, network):
        first = services.register(member, network["joint"])
        services.cancel(first, by=member)
        services.register(member, network["joint"])
        services.cancel_session(network["joint"], by=None)
        body = login(client, member).get(reverse("my_registrations")).content.decode()
        assert body.count("Netwerkdag coalities") == 1
        assert "de bijeenkomst gaat niet door" in body


def test_the_bureau_reads_the_news_of_every_output_of_its_coalitions(lead, bureau):
    """The overview asks Output.objects.visible_to(person) without saying "bureau": the rule
    reads the rights itself, so a Kern-only output of a coalition the bureau member follows
    from the Flexibele ring is theirs to read, and not a member's of that ring."""
    from kwaliteitsnetwerk.overview import visible_outputs_of

    coalition = lead.led_coalitions.get()
    kern, flex = coalition.rings.get(order=1), coalition.rings.get(order=2)
    output = Output.objects.create(
        coalition=coalition,
        ring=kern,
        title="Concept",
        url="https://example.org",
        visibility="ring",
    )
    flex_member = make_person("Flex")
    places = [make_membership(bureau, flex)]
    assert output.pk in set(visible_outputs_of(bureau, [], places).values_list("pk", flat=True))
    places = [make_membership(flex_member, flex)]
    assert not visible_outputs_of(flex_member, [], places).exists()
