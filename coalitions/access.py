"""Access to coalitions: leads manage their own coalition, bureau staff every coalition."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from members.access import is_bureau, person_of

from .models import Coalition, RingMembership


def can_manage(request: HttpRequest, coalition: Coalition) -> bool:
    if is_bureau(request):
        return True
    person = person_of(request)
    if person is None:
        return False
    cached = getattr(coalition, "_lead_ids", None)
    if cached is None:
        cached = coalition._lead_ids = set(coalition.leads.values_list("pk", flat=True))
    return person.pk in cached


def get_coalition_for_user(
    request: HttpRequest, pk: int, *, manage: bool = False, queryset=None
) -> Coalition:
    """The coalition, or 404 when it does not exist and 403 when a change is not yours to make."""
    coalition = get_object_or_404(
        queryset if queryset is not None else Coalition.objects.all(), pk=pk
    )
    if manage and not can_manage(request, coalition):
        raise PermissionDenied
    return coalition


def get_membership_for_user(
    request: HttpRequest, pk: int, *, manage: bool = False
) -> RingMembership:
    """A membership to act on: your own, or (manage=True) one in a coalition you lead."""
    membership = get_object_or_404(
        RingMembership.objects.select_related("ring", "coalition", "person__institution"), pk=pk
    )
    if manage:
        if not can_manage(request, membership.coalition):
            raise PermissionDenied
    else:
        person = person_of(request)
        if person is None or membership.person_id != person.pk:
            raise PermissionDenied
    return membership


def active_membership(request: HttpRequest, coalition: Coalition) -> RingMembership | None:
    person = person_of(request)
    if person is None:
        return None
    return (
        RingMembership.objects.open()
        .filter(person=person, coalition=coalition)
        .select_related("ring")
        .first()
    )


def sees_workspace(
    request: HttpRequest, coalition: Coalition, membership: RingMembership | None
) -> bool:
    """Members of a ring with that right, leads and bureau see who is in the coalition and its input."""
    if can_manage(request, coalition):
        return True
    return bool(
        membership
        and membership.status == RingMembership.Status.ACTIVE
        and membership.ring.can_see_workspace
    )


def has_right(
    request: HttpRequest, coalition: Coalition, membership: RingMembership | None, right: str
) -> bool:
    """May this person use a ring right here ("can_post_input", "can_post_outputs")? Leads and
    the bureau always may; a member through the rules of the ring they are active in."""
    if can_manage(request, coalition):
        return True
    return bool(
        membership
        and membership.status == RingMembership.Status.ACTIVE
        and getattr(membership.ring, right)
    )
