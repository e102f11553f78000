"""The Django admin is no side door: what a service guards changes through that service or not
at all (a time or capacity change there would skip the calendar's SEQUENCE, the waiting list,
the change mail and the log)."""

import datetime as dt

import pytest
from django.contrib import admin
from django.forms.models import model_to_dict

from coalitions.models import Coalition, Input, Output, Ring, RingMembership
from events import services as event_services
from events.models import Registration, Session, SessionPart
from members.admin import ReadOnlyAdmin
from members.models import Action, Institution, Invitation, Notification, Person, User
from members.services import invite
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import make_membership, make_person

# Registered and saving through their service (save_model); never deleted there.
THROUGH_THEIR_SERVICE = {Person, Institution}
# Accounts are Django's and allauth's own (password, superuser): no service of ours guards them.
NOT_GUARDED = {User}


@pytest.fixture
def superuser(bureau_institution):
    person = make_person("Sara", "Super", bureau_institution, account=True)
    User.objects.filter(pk=person.user.pk).update(is_staff=True, is_superuser=True)
    person.user.refresh_from_db()
    return person


def change_url(obj) -> str:
    meta = obj._meta
    return f"/django-admin/{meta.app_label}/{meta.model_name}/{obj.pk}/change/"


def row(obj) -> dict:
    return model_to_dict(type(obj).objects.get(pk=obj.pk))


def test_every_model_of_ours_in_the_admin_is_read_only_or_saved_through_its_service():
    ours = {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in {"members", "coalitions", "events"}
    }
    assert set(ours) >= THROUGH_THEIR_SERVICE | {Session, Coalition, Invitation}
    for model, model_admin in ours.items():
        if model in NOT_GUARDED:
            continue
        if model in THROUGH_THEIR_SERVICE:
            assert "save_model" in type(model_admin).__dict__, model
            assert not model_admin.has_delete_permission(None), model
            for inline in model_admin.get_inline_instances(None):
                assert not inline.has_change_permission(None), inline
                assert not inline.has_add_permission(None, None), inline
                assert not inline.has_delete_permission(None), inline
        else:
            assert isinstance(model_admin, ReadOnlyAdmin), model


class TestTheAdminShowsButDoesNotChange:
    def test_a_session_time_or_capacity_change_is_refused_and_nothing_moves(
        self, client, superuser, member
    ):
        session = make_session(capacity=1)
        event_services.register(member, session)
        waiting = event_services.register(make_person("Wim", "Wachter"), session)
        assert waiting.is_waitlisted
        before, actions, mails = row(session), Action.objects.count(), Notification.objects.count()
        login(client, superuser)

        assert client.get(change_url(session)).status_code == 200  # shown, read-only
        later = session.start + dt.timedelta(days=1)
        response = client.post(
            change_url(session),
            {
                **{k: v for k, v in before.items() if v is not None and k != "coalitions"},
                "start_0": later.date().isoformat(),
                "start_1": "10:00",
                "capacity": "5",
            },
        )

        assert response.status_code == 403
        assert row(session) == before  # the same start, capacity and SEQUENCE
        assert Registration.objects.get(pk=waiting.pk).is_waitlisted  # nobody promoted here
        assert Action.objects.count() == actions
        assert Notification.objects.count() == mails

    def test_a_session_cannot_be_added_or_deleted_there(self, client, superuser):
        session = make_session()
        login(client, superuser)
        assert client.post("/django-admin/events/session/add/", {"title": "x"}).status_code == 403
        delete = f"/django-admin/events/session/{session.pk}/delete/"
        assert client.post(delete, {"post": "yes"}).status_code == 403
        assert Session.objects.filter(pk=session.pk).exists()
        assert Session.objects.count() == 1

    def test_a_coalition_change_is_refused_and_nothing_moves(self, client, superuser, lead):
        coalition = lead.led_coalitions.get()
        before, actions = row(coalition), Action.objects.count()
        login(client, superuser)

        assert client.get(change_url(coalition)).status_code == 200
        response = client.post(
            change_url(coalition),
            {
                **{k: v for k, v in before.items() if v is not None and k != "leads"},
                "name": "Een andere naam",
                "planned_end": "2099-06-30",
            },
        )

        assert response.status_code == 403
        assert row(coalition) == before
        assert Action.objects.count() == actions
        delete = f"/django-admin/coalitions/coalition/{coalition.pk}/delete/"
        assert client.post(delete, {"post": "yes"}).status_code == 403
        assert Coalition.objects.filter(pk=coalition.pk).exists()

    def test_an_invitation_cannot_be_revived_or_revoked_there(self, client, superuser, bureau):
        person = make_person("Ina", "Nodig")
        invitation, _link = invite(person, invited_by=bureau)
        before = row(invitation)
        login(client, superuser)

        response = client.post(change_url(invitation), {"revoked_at_0": "2020-01-01"})

        assert response.status_code == 403
        assert row(invitation) == before

    def test_a_person_cannot_be_deleted_there_only_erased(self, client, superuser, member):
        login(client, superuser)
        delete = f"/django-admin/members/person/{member.pk}/delete/"
        assert client.post(delete, {"post": "yes"}).status_code == 403
        assert Person.objects.filter(pk=member.pk).exists()


def _ring(lead, member):
    return lead.led_coalitions.get().rings.get(order=1)


def _membership(lead, member):
    return make_membership(member, _ring(lead, member))


def _registration(lead, member):
    return event_services.register(member, make_session())


def _part(lead, member):
    session = make_session()
    return SessionPart.objects.create(
        session=session, kind="plenair", title="Plenair", start=session.start, end=session.end
    )


def _output(lead, member):
    return Output.objects.create(
        coalition=lead.led_coalitions.get(),
        title="Handreiking",
        url="https://example.org/handreiking",
        visibility="coalitie",
    )


def _input(lead, member):
    return Input.objects.create(
        coalition=lead.led_coalitions.get(), author=member, title="Een vraag", body="Hoe?"
    )


@pytest.mark.parametrize(
    ("model", "build"),
    [
        (Ring, _ring),
        (RingMembership, _membership),
        (Registration, _registration),
        (SessionPart, _part),
        (Output, _output),
        (Input, _input),
    ],
    ids=["ring", "membership", "registration", "part", "output", "input"],
)
def test_what_a_service_guards_has_no_door_in_the_admin(
    client, superuser, lead, member, model, build
):
    """Rings, memberships, registrations, parts, outputs and input change only on the
    application's pages (join_ring, register, save_part, add_output, ...)."""
    obj = build(lead, member)
    assert model not in admin.site._registry
    before, actions = row(obj), Action.objects.count()
    login(client, superuser)

    assert client.get(change_url(obj)).status_code == 404
    assert client.post(change_url(obj), {"capacity": "99", "status": "actief"}).status_code == 404

    assert row(obj) == before
    assert Action.objects.count() == actions


def form_data(response) -> dict:
    """What the admin's change form would post back unchanged (its fields and inlines)."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = [str(v) for v in value] if isinstance(value, list | tuple) else value
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    return data


class TestTheAdminSavesThroughTheService:
    def test_making_someone_bureau_staff_there_is_logged_by_save_person(
        self, client, superuser, member
    ):
        login(client, superuser)
        data = form_data(client.get(change_url(member)))

        response = client.post(change_url(member), {**data, "is_bureau_staff": "on"})

        assert response.status_code == 302, response.context["adminform"].form.errors
        assert Person.objects.get(pk=member.pk).is_bureau_staff
        action = Action.objects.get(verb="person.bureau_rights_granted")
        assert (action.actor_id, action.person_id) == (superuser.pk, member.pk)

    def test_renaming_an_institution_there_is_logged_by_save_institution(
        self, client, superuser, institution
    ):
        login(client, superuser)
        data = form_data(client.get(change_url(institution)))

        response = client.post(change_url(institution), {**data, "name": "Deltion"})

        assert response.status_code == 302, response.context["adminform"].form.errors
        assert Institution.objects.get(pk=institution.pk).name == "Deltion"
        assert Action.objects.filter(verb="institution.changed", actor=superuser).count() == 1
