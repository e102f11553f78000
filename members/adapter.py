from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.db import transaction
from django.utils.translation import gettext as _

from . import login_delay
from .addresses import AddressError, domain_of, normalise_email, normalised_or_none
from .models import EmailDomain


def institution_for_email(email: str):
    """The member institution whose e-mail domain this address has, or None. The domains are
    compared exactly in their normalised form (members.addresses): a look-alike such as
    horızon.example (dotless ı) is xn--horzon-r9a.example, never horizon.example."""
    return institution_for_domain(domain_of(email))


def institution_for_domain(domain: str | None, *, members_only: bool = True):
    """The institution with this normalised e-mail domain (a member today, unless members_only
    is off), or None. The one comparison of domains: sign-up, linking and the institution's
    login (members.institution_login) all come here."""
    if domain is None:
        return None
    domains = EmailDomain.objects.select_related("institution").filter(domain=domain)
    if members_only:
        domains = domains.filter(institution__in=_member_institutions())
    found = domains.first()
    return found.institution if found else None


def _account_of(credentials: dict) -> str:
    """The account a login attempt is for: its address as the account stores it."""
    typed = credentials.get("email") or credentials.get("username") or ""
    try:
        return normalise_email(typed)
    except AddressError:
        return typed.strip().lower()


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
        if email == getattr(self.request, "institution_login_email", None):
            # The address an institution's login was admitted with (members.institution_login):
            # there the organisation decides, not the address's domain.
            return email
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

    # The limit per account is a growing delay (members.login_delay), never allauth's lock-out;
    # allauth's limit per client address (ACCOUNT_RATE_LIMITS) still holds beside it.
    def pre_authenticate(self, request, **credentials):
        try:
            login_delay.check(request, "password", _account_of(credentials))
        except login_delay.TooSoon as error:
            raise forms.ValidationError(error.message, code="too_soon") from error
        super().pre_authenticate(request, **credentials)

    def authentication_failed(self, request, **credentials):
        login_delay.failed(request, "password", _account_of(credentials))

    def authenticate(self, request, **credentials):
        user = super().authenticate(request, **credentials)
        if user is not None:
            login_delay.succeeded(request, "password", _account_of(credentials))
        return user

    def post_login(self, request, user, **kwargs):
        response = super().post_login(request, user, **kwargs)
        login_delay.remember_device(response, user.email)
        return response

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


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Log in with your institution's account: allauth's openid_connect provider, with the rule
    of members.institution_login at allauth's hooks. Addresses in the one normalised form."""

    def populate_user(self, request, sociallogin, data):
        """The account as the provider describes it. The address is taken from the claims
        themselves (allauth's cleaning would pass it through AccountAdapter.clean_email, which
        drops an address outside the member domains: here the organisation decides), in the
        one normalised form, verified only by a plain `email_verified: true` or a provider
        configured to vouch for its addresses."""
        from allauth.account.models import EmailAddress

        from .institution_login import claims_of

        claims = claims_of(sociallogin.account.extra_data or {})
        email = normalised_or_none(str(claims.get("email") or ""))
        sociallogin.email_addresses[:] = (
            [
                EmailAddress(
                    email=email,
                    verified=claims.get("email_verified") is True
                    or self.is_email_verified(sociallogin.provider, email),
                    primary=True,
                )
            ]
            if email
            else []
        )
        user = sociallogin.user
        user.email = email or ""
        # Kept until the account is saved with its Person (as the sign-up form's name is).
        user.signup_name = {
            "first_name": str(data.get("first_name") or "")[:100],
            "infix": "",
            "last_name": str(data.get("last_name") or "")[:150],
        }
        return user

    def get_requests_session(self):
        """Our calls to the provider (its configuration and keys, the token, userinfo): one that
        cannot be reached, fails (5xx) or refuses a GET (a wrong OIDC_SERVER_URL) gives the
        person a calm page (503), never a server error. A refused token (4xx) stays allauth's
        to answer."""
        from allauth.core.exceptions import ImmediateHttpResponse
        from django.shortcuts import render
        from requests import RequestException

        session = super().get_requests_session()
        send = session.request

        def request(*args, **kwargs):
            try:
                response = send(*args, **kwargs)
                method = (args[0] if args else kwargs.get("method", "")).upper()
                if response.status_code >= 500 or (method == "GET" and response.status_code >= 400):
                    response.raise_for_status()
            except RequestException as error:
                raise ImmediateHttpResponse(
                    render(self.request, "socialaccount/authentication_error.html", status=503)
                ) from error
            return response

        session.request = request
        return session

    def authenticate_by_email(self, sociallogin):
        """An existing account with exactly the address the provider vouches for is the
        person's own (allauth then connects it, and wipes a password nobody verified). Never
        allauth's case-insensitive match: see members.addresses."""
        from .institution_login import account_for, verified_email

        email = verified_email(sociallogin)
        user = account_for(email) if email else None
        return (user, email) if user is not None else None

    def pre_social_login(self, request, sociallogin):
        """Refuse, on a page that says why, whoever the rule does not admit."""
        from allauth.core.exceptions import ImmediateHttpResponse
        from django.shortcuts import render

        from .institution_login import LoginRefused, admit_login

        user = None
        if sociallogin.state.get("process") == "connect" and request.user.is_authenticated:
            user = request.user
        try:
            admit_login(sociallogin, user=user)
        except LoginRefused as refusal:
            raise ImmediateHttpResponse(
                render(
                    request,
                    "account/institution_login_refused.html",
                    {"refusal": refusal},
                    status=403,
                )
            ) from refusal

    def is_open_for_signup(self, request, sociallogin) -> bool:
        """A new account only for someone the rule admits (pre_social_login refused the rest)."""
        from .institution_login import LoginRefused, admit_login

        try:
            admit_login(sociallogin)
        except LoginRefused:
            return False
        return True

    @transaction.atomic
    def save_user(self, request, sociallogin, form=None):
        """The new account with its Person: the existing one with its address, or a new one at
        the institution the login names (the same door as a verified sign-up)."""
        from .forms import link_person_on_verification
        from .institution_login import admit_login

        admission = admit_login(sociallogin)
        request.institution_login_email = admission.email  # see AccountAdapter.clean_email
        user = super().save_user(request, sociallogin, form=form)
        # Only the address the provider vouched for claims a Person now; one typed into
        # allauth's sign-up form (when the address was taken) waits for its verification mail.
        if user.email == admission.email:
            link_person_on_verification(user, institution=admission.institution)
        return user
