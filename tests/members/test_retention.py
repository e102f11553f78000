"""Automatic retention (AVG): people who no longer take part are anonymised once the period the
bureau sets has passed; the bureau sees who is due first and can postpone one with a reason."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from events.models import Registration
from members import retention, services
from members.models import Action, Person, RetentionHold
from members.tasks import apply_retention
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import make_coalition, make_membership, make_person

AMS = ZoneInfo("Europe/Amsterdam")
TODAY = dt.datetime(2026, 11, 23, 12, tzinfo=AMS)


def at(year, month, day):
    return dt.datetime(year, month, day, 12, tzinfo=AMS)


def person_last_active(institution, when, name):
    """Someone whose account, place and last session all lie at `when`."""
    person = make_person(name, "Oud", institution)
    Person.objects.filter(pk=person.pk).update(created_at=when - dt.timedelta(days=400))
    coalition = make_coalition(school_year="2021-2022")
    membership = make_membership(person, coalition.rings.get(order=2), status="beeindigd")
    membership.changed_at = when
    membership.save(update_fields=["changed_at"])
    session = make_session(start=when - dt.timedelta(days=10))
    Registration.objects.create(person=person, session=session, status="bevestigd", attended=True)
    return person


@pytest.fixture
def network(institution, bureau):
    with time_machine.travel(TODAY, tick=False):
        gone = person_last_active(institution, at(2022, 6, 1), "Lang")
        soon = person_last_active(institution, at(2023, 10, 1), "Bijna")
        active = person_last_active(institution, at(2022, 6, 1), "Actief")
        make_membership(active, make_coalition().rings.get(order=2))  # an open place: today
        held = person_last_active(institution, at(2021, 1, 1), "Bewaard")
        RetentionHold.objects.create(
            person=held, until=dt.date(2027, 1, 1), reason="Lopend onderzoek", by=bureau
        )
        staff = person_last_active(institution, at(2020, 1, 1), "Staf")
        Person.objects.filter(pk=staff.pk).update(is_bureau_staff=True)
    return {"gone": gone, "soon": soon, "active": active, "held": held, "staff": staff}


@time_machine.travel(TODAY, tick=False)
def test_who_is_due_now_and_on_the_coming_first_of_september(network):
    assert list(retention.due()) == [network["gone"]]
    due_next, day = retention.due_next()
    assert day == dt.date(2027, 9, 1)
    assert list(due_next) == [network["soon"]]


@time_machine.travel(TODAY, tick=False)
def test_the_daily_task_anonymises_the_due_and_keeps_the_counts(network):
    gone = network["gone"]
    assert apply_retention.delay().get() == 1
    gone.refresh_from_db()
    assert gone.erased_at is not None
    assert gone.last_name == ""
    assert Registration.objects.filter(person=gone, attended=True).count() == 1  # figures stay
    action = Action.objects.get(verb="person.retention_erased")
    assert action.person == gone
    assert action.actor is None
    for key in ("soon", "active", "held", "staff"):
        network[key].refresh_from_db()
        assert network[key].erased_at is None, key
    assert services.apply_retention() == 0  # a second run finds nothing left


@time_machine.travel(TODAY, tick=False)
def test_apply_retention_by_hand_does_what_the_beat_does(network):
    """For an install without a beat (make run, cron): the same service, once."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("apply_retention", stdout=out)
    assert "anonymised: 1" in out.getvalue()
    network["gone"].refresh_from_db()
    assert network["gone"].erased_at is not None
    network["soon"].refresh_from_db()
    assert network["soon"].erased_at is None
    call_command("apply_retention", stdout=out)
    assert out.getvalue().endswith("anonymised: 0\n")


@time_machine.travel(TODAY, tick=False)
def test_the_bureau_sets_a_longer_period(network, bureau):
    services.set_retention(5, by=bureau)
    assert list(retention.due()) == []


@time_machine.travel(TODAY, tick=False)
def test_the_bureau_sees_who_is_due_and_postpones_one_with_a_reason(client, network, bureau):
    login(client, bureau)
    body = client.get(reverse("members:retention")).content.decode()
    assert "Lang" in body
    assert "Bijna" in body
    assert "Actief" not in body
    assert "Staf" not in body
    client.post(
        reverse("members:retention_postpone", args=[network["gone"].pk]),
        {"until": "2027-06-30", "reason": "Bezwaarprocedure"},
    )
    assert list(retention.due()) == []
    assert Action.objects.filter(verb="person.retention_postponed").exists()
    response = client.post(
        reverse("members:retention_postpone", args=[network["soon"].pk]),
        {"until": "2020-01-01", "reason": "Te vroeg"},
    )
    assert response.status_code == 302
    assert not RetentionHold.objects.filter(person=network["soon"]).exists()


@time_machine.travel(TODAY, tick=False)
def test_each_kind_of_activity_keeps_someone(institution, bureau):
    """Every source of activity counts on its own: a login, a session, something they did."""
    from members.models import User

    long_ago = at(2019, 1, 1)
    recent = at(2025, 10, 1)

    def old(name, **extra):
        person = make_person(name, "Oud", institution, **extra)
        Person.objects.filter(pk=person.pk).update(created_at=long_ago)
        return person

    idle = old("Stil")
    logged_in = old("Inlog", account=True)
    User.objects.filter(pk=logged_in.user_id).update(last_login=recent)
    came = old("Kwam")
    Registration.objects.create(
        person=came, session=make_session(start=recent), status="bevestigd", attended=True
    )
    did = old("Deed")
    from django.contrib.contenttypes.models import ContentType

    action = Action.objects.create(
        actor=did,
        verb="person.created",
        target_type=ContentType.objects.get_for_model(Person),
        target_id=did.pk,
    )
    Action.objects.filter(pk=action.pk).update(at=recent)
    assert set(retention.due()) == {idle}
