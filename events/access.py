"""Who may organise a session and who may see its registrations."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from coalitions.models import Coalition, RingMembership
from members.access import is_bureau, person_of

from .models import Session


def can_edit(request: HttpRequest, session: Session) -> bool:
    """Bureau staff change any session; a lead changes the meetings of their own coalition."""
    if is_bureau(request):
        return True
    person = person_of(request)
    return bool(
        person
        and session.organiser_coalition_id
        and session.organiser_coalition.leads.filter(pk=person.pk).exists()
    )


def can_see_registrations(request: HttpRequest, session: Session) -> bool:
    """Organisers: the bureau, and the leads of the coalitions that organise or take part."""
    if can_edit(request, session):
        return True
    person = person_of(request)
    if person is None:
        return False
    involved = {session.organiser_coalition_id} | set(
        session.coalitions.values_list("pk", flat=True)
    )
    return Coalition.objects.filter(pk__in=involved - {None}, leads=person).exists()


def may_sign_up_others(request: HttpRequest, session: Session, person) -> bool:
    """The bureau signs up anyone; a lead only people of the coalitions they lead that take part."""
    if is_bureau(request):
        return True
    involved = set(session.coalitions.values_list("pk", flat=True)) | {
        session.organiser_coalition_id
    }
    led = Coalition.objects.led_by(person_of(request)).filter(pk__in=involved - {None})
    return RingMembership.objects.active().filter(person=person, coalition__in=led).exists()


def get_session_for_user(
    request: HttpRequest, pk: int, *, edit: bool = False, organise: bool = False, queryset=None
) -> Session:
    base = queryset if queryset is not None else Session.objects.all()
    session = get_object_or_404(
        base.visible_to(person_of(request), is_bureau=is_bureau(request)), pk=pk
    )
    if edit and not can_edit(request, session):
        raise PermissionDenied
    if organise and not can_see_registrations(request, session):
        raise PermissionDenied
    return session
