"""Loading coalition objects for a view: each helper returns the object or raises 404/403.

The rules live on the models, keyed by the person (Coalition.is_manageable_by, rights_of,
RingMembership.grants); these helpers only apply them to the person of the request."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from members.access import person_of
from members.models import Person

from .models import Coalition, Input, Output, Ring, RingMembership


def get_coalition_for_user(
    request: HttpRequest, pk: int, *, manage: bool = False, queryset=None
) -> Coalition:
    """The coalition (every logged-in person sees it), or 403 when `manage` and it is not
    yours to change."""
    coalition = get_object_or_404(
        queryset if queryset is not None else Coalition.objects.all(), pk=pk
    )
    if manage and not coalition.is_manageable_by(person_of(request)):
        raise PermissionDenied
    return coalition


def get_ring_for_user(request: HttpRequest, coalition: Coalition, pk: int) -> Ring:
    """A ring of a coalition the caller already loaded with manage=True."""
    return get_object_or_404(Ring, pk=pk, coalition=coalition)


def get_ring_to_join(request: HttpRequest, pk: int) -> tuple[Ring, Person]:
    """Any person may try to join a ring; its rules (join policy, capacity) are the service's."""
    person = person_of(request)
    if person is None:
        raise PermissionDenied
    return get_object_or_404(Ring.objects.select_related("coalition"), pk=pk), person


def get_membership_for_user(
    request: HttpRequest, pk: int, *, manage: bool = False
) -> RingMembership:
    """A membership to act on: your own, or (manage=True) one in a coalition you may manage."""
    membership = get_object_or_404(
        RingMembership.objects.select_related("ring", "coalition", "person__institution"), pk=pk
    )
    person = person_of(request)
    if manage:
        if not membership.coalition.is_manageable_by(person):
            raise PermissionDenied
    elif person is None or membership.person_id != person.pk:
        raise PermissionDenied
    return membership


def get_input_for_user(request: HttpRequest, pk: int, *, manage: bool = True) -> Input:
    item = get_object_or_404(Input.objects.select_related("coalition", "author"), pk=pk)
    if manage and not item.coalition.is_manageable_by(person_of(request)):
        raise PermissionDenied
    return item


def get_output_for_user(request: HttpRequest, pk: int) -> Output:
    """An output this person may see (Output.objects.visible_to), else 404: its existence is
    not told to those who may not see it. Visitors without login see public outputs."""
    person = person_of(request) if request.user.is_authenticated else None
    return get_object_or_404(Output.objects.visible_to(person), pk=pk)


def open_membership(person: Person | None, coalition: Coalition) -> RingMembership | None:
    """The person's open membership (active, requested or invited) in this coalition."""
    if person is None:
        return None
    return (
        RingMembership.objects.open()
        .filter(person=person, coalition=coalition)
        .select_related("ring")
        .first()
    )
