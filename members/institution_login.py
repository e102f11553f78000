"""Log in with your institution's account (OpenID Connect; SURFconext for Dutch mbo): who may
come in this way, and as whom. members.adapter.SocialAccountAdapter asks these functions at
allauth's hooks; nothing else decides.

The rule:
- the provider must give a verified e-mail address (its `email_verified` claim, or the provider is
  configured to vouch for its addresses): without one we cannot tell who someone is;
- the organisation claim (OIDC_ORGANISATION_CLAIM, `schac_home_organization`: a domain such as
  `deltion.nl`), or else the domain of that address, names the institution, through the one
  domain rule (members.adapter.institution_for_domain: normalised, compared exactly). No
  institution with that domain: refused; an institution that is no longer a member: refused;
- an institution vouches only for its own people: an address at another institution's domain, or
  a person the network has at another institution, is refused;
- the person is the existing account or Person with exactly that normalised address (linked,
  never duplicated), else a new Person at the institution.

A login admitted here is an ordinary allauth login after that: the second factor of an account
that has one is asked as after a password (allauth's login stages), and bureau powers still come
only with one (Person.has_bureau_rights).
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .adapter import institution_for_domain
from .addresses import AddressError, domain_of, normalise_domain, normalised_or_none
from .models import Institution, Person, User


class LoginRefused(Exception):
    """This institution's account may not log in here; `message` says why, to the person."""

    def __init__(self, reason: str, message: str | Promise):
        super().__init__(reason)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Admission:
    email: str
    institution: Institution
    person: Person | None


def claims_of(extra_data: dict) -> dict:
    """The claims of an OpenID Connect answer: the ID token's, completed by the userinfo's."""
    if "userinfo" not in extra_data and "id_token" not in extra_data:
        return dict(extra_data)  # allauth before 65.11 kept one flat dict
    return {**(extra_data.get("id_token") or {}), **(extra_data.get("userinfo") or {})}


def verified_email(sociallogin) -> str | None:
    """The first address the provider vouches for, normalised; None without one."""
    for address in sociallogin.email_addresses:
        if address.verified and (email := normalised_or_none(address.email or "")):
            return email
    return None


def account_for(email: str) -> User | None:
    """The account of exactly this normalised address: its own, one with it as a further
    verified address, or that of the Person with it."""
    from allauth.account.models import EmailAddress

    user = User.objects.filter(email=email).first()
    if user is None:
        address = (
            EmailAddress.objects.filter(email=email, verified=True).select_related("user").first()
        )
        user = address.user if address else None
    if user is None:
        person = Person.objects.filter(email=email, user__isnull=False).select_related("user")
        user = next((p.user for p in person[:1]), None)
    return user


def _is_member(institution: Institution) -> bool:
    return Institution.objects.members_on().filter(pk=institution.pk).exists()


def admit(*, email: str | None, organisation: str | None, user: User | None = None) -> Admission:
    """Who this login is, or LoginRefused (see the module's docstring). `user` is the account
    the login already points at (connected before, or found by the address)."""
    if not email:
        raise LoginRefused(
            "no_verified_email",
            _(
                "Your institution's account did not tell us a confirmed e-mail address, so we "
                "cannot tell who you are. Log in with your e-mail address and password instead."
            ),
        )
    organisation = (organisation or "").strip()
    if organisation:
        try:
            domain = normalise_domain(organisation)
        except AddressError:
            domain = None
    else:
        domain = domain_of(email)
    institution = institution_for_domain(domain, members_only=False)
    if institution is None:
        raise LoginRefused(
            "unknown_organisation",
            _(
                "Your institution (%(organisation)s) is not a member of the Kwaliteitsnetwerk "
                "mbo, so you cannot log in with its account. Does your institution take part? "
                "Then ask the network office to add it."
            )
            % {"organisation": organisation or domain_of(email)},
        )
    if not _is_member(institution):
        raise LoginRefused(
            "institution_left",
            _(
                "%(institution)s is no longer a member of the Kwaliteitsnetwerk mbo, so you "
                "cannot log in with your institution's account. Questions? Ask the network "
                "office."
            )
            % {"institution": institution.name},
        )
    person = Person.objects.filter(user=user).first() if user is not None else None
    if person is None:
        person = Person.objects.filter(email=email).select_related("institution").first()
    at_domain = institution_for_domain(domain_of(email), members_only=False)
    if (at_domain is not None and at_domain != institution) or (
        person is not None and person.institution_id != institution.pk
    ):
        raise LoginRefused(
            "other_institution",
            _(
                "Your institution's account names %(institution)s, but the network knows "
                "%(email)s at another institution. Ask the network office to put this right."
            )
            % {"institution": institution.name, "email": email},
        )
    return Admission(email=email, institution=institution, person=person)


def admit_login(sociallogin, *, user: User | None = None) -> Admission:
    """admit() for an allauth SocialLogin."""
    claims = claims_of(sociallogin.account.extra_data or {})
    organisation = claims.get(settings.OIDC_ORGANISATION_CLAIM)
    if isinstance(organisation, list):  # some providers send a multi-valued attribute
        organisation = organisation[0] if organisation else None
    if user is None and sociallogin.is_existing:
        user = sociallogin.user
    return admit(
        email=verified_email(sociallogin),
        organisation=str(organisation) if organisation else None,
        user=user,
    )
