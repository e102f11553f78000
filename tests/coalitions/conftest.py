import pytest

from tests.factories import make_coalition, make_membership, make_person


@pytest.fixture
def coalition(lead):
    """Bob's coalition (see the lead persona): Kern on request with 8 places, Flexibele ring open."""
    return lead.led_coalitions.get()


@pytest.fixture
def kern(coalition):
    return coalition.rings.get(order=1)


@pytest.fixture
def flex(coalition):
    return coalition.rings.get(order=2)


@pytest.fixture
def other_lead(other_institution):
    """Erik leads another coalition."""
    person = make_person("Erik", "Smit", other_institution, account=True)
    make_coalition("Kansengelijkheid", leads=[person])
    return person


@pytest.fixture
def flex_member(member, flex):
    make_membership(member, flex)
    return member
