"""A second factor no password can enrol alone (issue 24).

Whoever has only the password of a bureau (or superuser) account could set up their own
authenticator app and had the bureau's powers at once. Now the first factor of an account with
bureau rights counts (members.models.has_second_factor) only after a link mailed to the account's
own address is opened and confirmed: a signed token of (authenticator, address) that expires
after CONFIRM_FOR. A removed authenticator or a changed address makes the link void; a new
authenticator needs its own confirmation.
"""

import datetime as dt

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from .models import ConfirmedFactor, Person, User

CONFIRM_FOR = dt.timedelta(days=1)
_SALT = "members.second_factor.confirm"


class ConfirmationError(Exception):
    """The link is not (or no longer) one that confirms a factor."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = (
            reason  # "unknown" (forged, mangled) or "expired" (old, factor or address gone)
        )


def holds_bureau_rights(user: User) -> bool:
    """Accounts whose second factor decides powers: bureau staff, and the Django admin's."""
    return (
        user.is_staff
        or user.is_superuser
        or Person.objects.filter(user=user, is_bureau_staff=True, erased_at__isnull=True).exists()
    )


def make_token(authenticator) -> str:
    return signing.dumps({"a": authenticator.pk, "e": authenticator.user.email}, salt=_SALT)


def _pending_authenticator(user_id: int):
    from allauth.mfa.models import Authenticator

    return (
        Authenticator.objects.filter(
            user_id=user_id, type=Authenticator.Type.TOTP, confirmation__isnull=True
        )
        .select_related("user")
        .first()
    )


def ask_to_confirm(request, user: User) -> bool:
    """Mail the account's own address the link that makes its new authenticator count; False
    when there is nothing to confirm."""
    from allauth.account.adapter import get_adapter

    authenticator = _pending_authenticator(user.pk)
    if authenticator is None:
        return False
    url = settings.SITE_URL + reverse("members:confirm_factor", args=[make_token(authenticator)])
    adapter = get_adapter(request)
    context = {"confirm_url": url, "hours": int(CONFIRM_FOR.total_seconds() // 3600)}
    context |= {
        "ip": adapter.get_client_ip(request),
        "user_agent": adapter.get_http_user_agent(request)[:200],
    }
    adapter.send_mail("members/email/confirm_factor", user.email, context)
    return True


def on_authenticator_added(request, user: User) -> None:
    """allauth set up an authenticator app: an account with bureau rights is asked to confirm it
    from its mailbox (anyone else's counts for their own login at once; it gives no powers)."""
    if holds_bureau_rights(user):
        ask_to_confirm(request, user)


def authenticator_of(token: str):
    """The unconfirmed authenticator the link is for, or ConfirmationError."""
    from allauth.mfa.models import Authenticator

    try:
        data = signing.loads(token, salt=_SALT, max_age=CONFIRM_FOR)
    except signing.SignatureExpired as error:
        raise ConfirmationError("expired") from error
    except signing.BadSignature as error:
        raise ConfirmationError("unknown") from error
    authenticator = (
        Authenticator.objects.filter(pk=data.get("a"), confirmation__isnull=True)
        .select_related("user")
        .first()
    )
    if authenticator is None or authenticator.user.email != data.get("e"):
        raise ConfirmationError("expired")
    return authenticator


def confirm(token: str) -> User:
    """The mailbox says yes: from now on the authenticator counts."""
    from . import activity

    authenticator = authenticator_of(token)
    try:
        with transaction.atomic():  # a double click confirms once
            ConfirmedFactor.objects.create(
                authenticator=authenticator, email=authenticator.user.email
            )
            person = Person.objects.filter(user=authenticator.user).first()
            if person is not None:
                activity.log("person.second_factor_confirmed", by=person, target=person)
    except IntegrityError as error:
        raise ConfirmationError("expired") from error
    return authenticator.user
