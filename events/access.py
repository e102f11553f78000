"""Loading session objects for a view: each helper returns the object or raises 404/403.

The rules live on the models, keyed by the person (Session.objects.invited / editable_by /
organised_by, SessionPart.is_editable_by, Registration.objects.manageable_by,
Session.lets_act_for); these helpers apply them to the person of the request."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from members.access import person_of
from members.models import Person

from .models import Registration, Session, SessionPart


def get_session_for_user(
    request: HttpRequest, pk: int, *, edit: bool = False, organise: bool = False, queryset=None
) -> Session:
    """A session the person may see (drafts only for its organisers); with `edit`, one they
    may change; with `organise`, one whose registrations and check-in they may open."""
    person = person_of(request)
    base = queryset if queryset is not None else Session.objects.all()
    session = get_object_or_404(base.visible_to(person), pk=pk)
    if edit and not session.is_editable_by(person):
        raise PermissionDenied
    if organise and not session.is_organised_by(person):
        raise PermissionDenied
    return session


def get_part_for_user(request: HttpRequest, session_pk: int, pk: int) -> SessionPart:
    """A programme part to edit: whoever edits the session, or a lead for their own
    coalition's work part (SessionPart.is_editable_by)."""
    person = person_of(request)
    part = get_object_or_404(
        SessionPart.objects.select_related("session", "coalition"), pk=pk, session_id=session_pk
    )
    get_session_for_user(request, session_pk)  # 404 for a draft the person may not see
    if not part.is_editable_by(person):
        raise PermissionDenied
    return part


def get_registration_for_user(request: HttpRequest, pk: int, *, own: bool = True) -> Registration:
    """A registration to act on: one you manage (Registration.objects.manageable_by), or with
    `own` also your own (cancelling yes, marking yourself present no)."""
    person = person_of(request)
    registration = get_object_or_404(
        Registration.objects.select_related("session", "person__institution"), pk=pk
    )
    is_own = person is not None and registration.person_id == person.pk
    if is_own and own:
        return registration
    if is_own and not person.has_bureau_rights:
        raise PermissionDenied  # nobody but the bureau marks themselves present
    if not Registration.objects.filter(pk=pk).manageable_by(person).exists():
        raise PermissionDenied
    return registration


def get_person_to_act_for(request: HttpRequest, session: Session, person: Person) -> Person:
    """Someone the caller signs up or checks in at this session (Session.lets_act_for)."""
    if not session.lets_act_for(person_of(request), person):
        raise PermissionDenied
    return person
