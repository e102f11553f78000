from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.utils.translation import gettext as _

from .addresses import AddressError, domain_of, normalise_email
from .models import EmailDomain


def institution_for_email(email: str):
    """The member institution whose e-mail domain this address has, or None. The domains are
    compared exactly in their normalised form (members.addresses): a look-alike such as
    horızon.example (dotless ı) is xn--horzon-r9a.example, never horizon.example."""
    domain = domain_of(email)
    if domain is None:
        return None
    found = (
        EmailDomain.objects.select_related("institution")
        .filter(domain=domain, institution__in=_member_institutions())
        .first()
    )
    return found.institution if found else None


def _member_institutions():
    from .models import Institution

    return Institution.objects.members_on()


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up is open only to addresses of a member institution (or with an invitation)."""

    def clean_email(self, email: str) -> str:
        """Every address allauth takes (sign-up, an added address, a password reset) in the one
        normalised form: the account, its EmailAddress and the mail all use that form."""
        email = super().clean_email(email)
        try:
            email = normalise_email(email)
        except AddressError as error:
            raise forms.ValidationError(
                _("Enter a valid e-mail address."), code="invalid"
            ) from error
        if institution_for_email(email) is None:
            raise forms.ValidationError(
                _(
                    "You can only create an account with an e-mail address of a member institution. "
                    "Use your work address, or ask the network office or your coalition lead for an "
                    "invitation."
                ),
                code="domain_not_allowed",
            )
        return email

    def is_safe_url(self, url: str | None) -> bool:
        """allauth's `next` (login, sign-up, logout, two-factor) follows our one rule."""
        from allauth.core import context

        from kwaliteitsnetwerk.redirects import is_safe_next

        return is_safe_next(context.request, url)

    def get_login_redirect_url(self, request):
        """Bureau staff land on the bureau's overview (its signals), everyone else on theirs."""
        person = getattr(request.user, "person", None)
        if person is not None and person.has_bureau_rights:
            from django.urls import reverse

            return reverse("bureau_dashboard")
        return super().get_login_redirect_url(request)
