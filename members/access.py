"""Who may do what: the access helpers every view uses.

Roles: bureau staff (Person.has_bureau_rights), coalition lead (Coalition.is_led_by), member
(anyone with a Person). The rules themselves are predicates keyed by the person, on the models;
these helpers only find the person of a request and turn a "no" into 403. Checks happen on the server:
a missing right is a 403, never only a hidden button.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

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
    """Bureau powers for this request: Person.has_bureau_rights of its person."""
    person = person_of(request)
    return bool(person and person.has_bureau_rights)


def second_factor_step(request: HttpRequest, *, admin: bool = False) -> str:
    """Where an account that needs a second factor for its rights goes next: confirming the one
    it set up from its mailbox, or setting one up (with a message saying why)."""
    from .models import has_unconfirmed_second_factor

    if has_unconfirmed_second_factor(request.user.pk):
        return reverse("members:confirm_factor_pending")
    messages.warning(
        request,
        _("This account needs two-factor authentication. Set it up first.")
        if admin
        else _("Bureau pages need two-factor authentication. Set it up first."),
    )
    return reverse("mfa_activate_totp")


def bureau_required(view: Callable) -> Callable:
    """Logged-in bureau staff only; anyone else logged in gets 403. Where BUREAU_REQUIRE_MFA is
    on (production), bureau staff without a second factor are sent to set it up first (until
    then they have no bureau powers anywhere: Person.has_bureau_rights)."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not is_bureau(request):
            person = person_of(request)
            if person is not None and person.is_bureau_staff and not person.has_second_factor:
                return redirect(second_factor_step(request))
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped
