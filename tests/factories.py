"""Small make_* helpers: the one way the suite builds data."""

import datetime as dt
import itertools

from allauth.account.models import EmailAddress

from coalitions.models import Coalition
from members.models import EmailDomain, Institution, Person, User

PASSWORD = "een-goed-wachtwoord-42"
_counter = itertools.count(1)


def make_institution(
    name: str | None = None, *, domain: str | None = None, kind: str = "roc", **extra
) -> Institution:
    n = next(_counter)
    institution = Institution.objects.create(name=name or f"Instelling {n}", kind=kind, **extra)
    if domain:
        EmailDomain.objects.create(institution=institution, domain=domain)
    return institution


def make_person(
    first_name: str = "Sam",
    last_name: str | None = None,
    institution: Institution | None = None,
    *,
    account: bool = False,
    email: str | None = None,
    **extra,
) -> Person:
    n = next(_counter)
    institution = institution or make_institution()
    last_name = last_name or f"Persoon{n}"
    if email is None:
        domain = institution.email_domains.values_list("domain", flat=True).first() or "example.org"
        email = f"{first_name}.{last_name}.{n}@{domain}".lower().replace(" ", "")
    user = None
    if account:
        user = User.objects.create_user(email=email, password=PASSWORD)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return Person.objects.create(
        first_name=first_name,
        last_name=last_name,
        email=email,
        institution=institution,
        user=user,
        **extra,
    )


def theme_named(name: str):
    from coalitions.models import Theme

    return Theme.objects.filter(name__iexact=name).first() or Theme.objects.create(name=name)


def make_coalition(
    name: str | None = None,
    *,
    leads=(),
    school_year: str | None = None,
    rings: bool = True,
    **extra,
) -> Coalition:
    """A coalition with the default rings Kern (on request, 8 places) and Flexibele ring (open),
    running this school year (of the suite's clock, tests/clock.py) unless told otherwise."""
    from django.utils import timezone

    from coalitions.models import school_year_of
    from coalitions.services import create_default_rings

    n = next(_counter)
    school_year = school_year or school_year_of(timezone.localdate())
    first = int(school_year[:4])
    coalition = Coalition.objects.create(
        name=name or f"Coalitie {n}",
        theme=theme_named(extra.pop("theme", "Data")),
        assignment=extra.pop("assignment", "Maak data bruikbaar voor onderwijsteams."),
        school_year=school_year,
        start=extra.pop("start", dt.date(first, 9, 1)),
        planned_end=extra.pop("planned_end", dt.date(first + 1, 6, 30)),
        status=extra.pop("status", Coalition.Status.ACTIVE),
        **extra,
    )
    if leads:
        coalition.leads.add(*leads)
    if rings:
        create_default_rings(coalition)
    return coalition


def make_membership(person, ring, status: str = "actief"):
    from django.utils import timezone

    from coalitions.models import RingMembership

    return RingMembership.objects.create(
        person=person,
        ring=ring,
        coalition=ring.coalition,
        status=status,
        started_at=timezone.now() if status == "actief" else None,
        ended_at=timezone.now() if status == "beeindigd" else None,
    )


def give_second_factor(user, *, confirmed: bool = True):
    """An authenticator app for this account, confirmed from its mailbox unless told otherwise
    (members.second_factor): only a confirmed one counts for bureau powers."""
    from allauth.mfa.models import Authenticator

    from members.models import ConfirmedFactor

    authenticator = Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": "x"}
    )
    if confirmed:
        ConfirmedFactor.objects.create(authenticator=authenticator, email=user.email)
    return authenticator


def school_year(offset: int = 0) -> str:
    """This school year of the suite's clock ("2027-2028" from September 2027 to August 2028),
    or the one `offset` years later (negative: earlier)."""
    from django.utils import timezone

    from coalitions.models import school_year_of

    first = int(school_year_of(timezone.localdate())[:4]) + offset
    return f"{first}-{first + 1}"


def in_school_year(month: int, day: int, hour: int = 0, minute: int = 0, *, offset: int = 0):
    """A moment (Amsterdam time) of this school year: September to December in its first
    calendar year, January to August in its second."""
    import zoneinfo

    first = int(school_year(offset)[:4])
    year = first if month >= 9 else first + 1
    return dt.datetime(year, month, day, hour, minute, tzinfo=zoneinfo.ZoneInfo("Europe/Amsterdam"))
