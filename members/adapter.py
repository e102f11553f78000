from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.utils.translation import gettext as _

from .models import EmailDomain


def institution_for_email(email: str):
    """The member institution whose e-mail domain this address has, or None."""
    domain = email.rsplit("@", 1)[-1].strip().lower()
    found = (
        EmailDomain.objects.select_related("institution")
        .filter(domain__iexact=domain, institution__in=_member_institutions())
        .first()
    )
    return found.institution if found else None


def _member_institutions():
    from .models import Institution

    return Institution.objects.members_on()


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up is open only to addresses of a member institution (or with an invitation)."""

    def clean_email(self, email: str) -> str:
        email = super().clean_email(email)
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

    def get_login_redirect_url(self, request):
        """Bureau staff land on the bureau's overview (its signals), everyone else on theirs."""
        person = getattr(request.user, "person", None)
        if person is not None and person.has_bureau_rights:
            from django.urls import reverse

            return reverse("bureau_dashboard")
        return super().get_login_redirect_url(request)
