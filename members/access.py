"""Who may do what: the access helpers every view uses.

Roles: bureau staff (Person.is_bureau_staff, or a superuser), coalition lead (derived from the
coalition, see coalitions.access), member (anyone with a Person). Checks happen on the server:
a missing right is a 403, never only a hidden button.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .models import Person

_UNSET = object()


def person_of(request: HttpRequest) -> Person | None:
    """The logged-in user's Person, loaded once per request."""
    cached = getattr(request, "_kn_person", _UNSET)
    if cached is _UNSET:
        user = request.user
        cached = (
            Person.objects.select_related("institution").filter(user=user).first()
            if user.is_authenticated
            else None
        )
        request._kn_person = cached
    return cached


def is_bureau(request: HttpRequest) -> bool:
    if not request.user.is_authenticated:
        return False
    if request.user.is_superuser:
        return True
    person = person_of(request)
    return bool(person and person.is_bureau_staff)


def bureau_required(view: Callable) -> Callable:
    """Logged-in bureau staff only; anyone else logged in gets 403."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not is_bureau(request):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped
