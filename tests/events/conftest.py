import datetime as dt

import pytest
from django.utils import timezone

from events.models import Session, SessionPart
from tests.factories import make_coalition, make_membership, make_person


def make_session(
    *,
    capacity=None,
    days=14,
    start=None,
    kind=Session.Kind.NETWORK,
    status=Session.Status.PUBLISHED,
    **extra,
):
    start = start or timezone.now() + dt.timedelta(days=days)
    return Session.objects.create(
        title=extra.pop("title", "Netwerkbijeenkomst coalities"),
        kind=kind,
        start=start,
        end=start + dt.timedelta(hours=4),
        capacity=capacity,
        status=status,
        signup_deadline=extra.pop("signup_deadline", start - dt.timedelta(days=2)),
        **extra,
    )


@pytest.fixture
def session(db):
    return make_session()


@pytest.fixture
def joint_session(lead, institution):
    """A network session: plenary for everyone, and the lead's coalition working with its Kern."""
    from events import services

    session = make_session(capacity=100)
    coalition = lead.led_coalitions.get()
    start = session.start
    SessionPart.objects.create(
        session=session,
        kind="plenair",
        title="Plenair",
        start=start,
        end=start + dt.timedelta(hours=1),
    )
    services.add_coalitions(session, [coalition], by=None)
    work = session.parts.get(kind="werken")
    work.start, work.end = start + dt.timedelta(hours=1), start + dt.timedelta(hours=3)
    work.save()
    return session


def people(institution, n, prefix="P"):
    return [make_person(prefix, f"{prefix}{i:03d}", institution) for i in range(n)]


__all__ = ["make_session", "make_coalition", "make_membership", "people"]


@pytest.fixture
def coalition(lead):
    return lead.led_coalitions.get()


@pytest.fixture
def other_lead(other_institution):
    person = make_person("Erik", "Smit", other_institution, account=True)
    make_coalition("Kansengelijkheid", leads=[person])
    return person


@pytest.fixture
def flex_member_of_lead(member, coalition):
    make_membership(member, coalition.rings.get(order=2))
    return member
