"""The Overzicht, the first page every person sees: what is on for *this* person."""

import pytest
from django.urls import reverse

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
