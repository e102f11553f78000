"""Workflows of the members app: invitations, accepting them, the person's own data and erasure."""

import datetime as dt
import hashlib
import logging
import secrets

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import activity, notify
from .addresses import AddressError, domain_of, normalise_email
from .models import (
    EmailDomain,
    Institution,
    Invitation,
    Notification,
    Person,
    RetentionHold,
    RetentionPolicy,
    User,
)

logger = logging.getLogger(__name__)

activity.register_verbs(
    {
        "person.invited": gettext_lazy("invited to make an account"),
        "person.invitation_accepted": gettext_lazy("made an account through an invitation"),
        "person.erased": gettext_lazy("personal data erased"),
        "person.retention_erased": gettext_lazy(
            "personal data erased after the retention period (last active %(last_active)s)"
        ),
        "person.retention_postponed": gettext_lazy("erasure postponed until %(until)s: %(reason)s"),
        "retention.changed": gettext_lazy("retention period set to %(years)s school years"),
        "person.created": gettext_lazy("registered the person"),
        "person.changed": gettext_lazy("changed the person (%(fields)s)"),
        "person.bureau_rights_granted": gettext_lazy("made bureau staff"),
        "person.bureau_rights_revoked": gettext_lazy("no longer bureau staff"),
        "person.second_factor_confirmed": gettext_lazy(
            "confirmed a new second factor from their mailbox"
        ),
        "institution.created": gettext_lazy("registered the institution"),
        "institution.changed": gettext_lazy("changed the institution (%(fields)s)"),
        "institution.membership_ended": gettext_lazy("membership of the network ends on %(until)s"),
        "notification.resent": (
            gettext_lazy("sent a message again (%(kind)s)"),
            {"kind": notify.KIND_LABELS},
        ),
        "mail.subscribed": (
            gettext_lazy("gets these messages again: %(kind)s"),
            {"kind": notify.KIND_LABELS},
        ),
        "mail.unsubscribed": (
            gettext_lazy("no longer gets these messages: %(kind)s"),
            {"kind": notify.KIND_LABELS},
        ),
    }
)

notify.register_kinds(
    notify.Kind(
        "account_invitation",
        gettext_lazy("Invitation to make an account"),
        mandatory=True,
        secret=True,
    ),
)


class MembershipDateError(ValueError):
    """An end of membership that cannot be; the message is for the bureau."""


class InvitationError(Exception):
    """An invitation link that cannot be used; `reason` is one of the class constants."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    REPLACED = "replaced"

    def __init__(self, reason: str, invitation: Invitation | None = None):
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(
    person: Person, *, invited_by: Person | None, message: str = ""
) -> tuple[Invitation, str]:
    """Invite a person to make an account. Replaces any open invitation (its link stops working)
    and sends the e-mail once the transaction has committed. Returns the invitation and the raw token."""
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    # Atomic: revoking the old link and creating the new one happen together, under a lock on
    # the person so two bureau staff inviting at once leave exactly one open invitation.
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        Invitation.objects.open().filter(person=person).update(revoked_at=now)
        # A replaced link that has not gone out yet never goes out.
        Notification.objects.filter(
            kind="account_invitation", person=person, status=Notification.Status.QUEUED
        ).delete()
        invitation = Invitation.objects.create(
            person=person,
            email=person.email,
            token_hash=hash_token(token),
            invited_by=invited_by,
            message=message,
            created_at=now,
            expires_at=now + dt.timedelta(days=Invitation.VALID_FOR_DAYS),
        )
        notify.queue(
            "account_invitation",
            person,
            f"members.invitation:{invitation.pk}",
            {
                "invited_by": invited_by.full_name if invited_by else "",
                "message": message,
                "url": settings.SITE_URL + reverse("members:accept_invitation", args=[token]),
                "valid_days": Invitation.VALID_FOR_DAYS,
            },
        )
        activity.log("person.invited", by=invited_by, target=person, person=person)
    return invitation, token


def check_invitation(token: str) -> Invitation:
    """The invitation behind a link, or InvitationError saying why it cannot be used."""
    invitation = (
        Invitation.objects.select_related("person__institution")
        .filter(token_hash=hash_token(token))
        .first()
    )
    _raise_unless_usable(invitation)
    return invitation


def _raise_unless_usable(invitation: Invitation | None) -> None:
    if invitation is None:
        raise InvitationError(InvitationError.UNKNOWN)
    person = invitation.person
    if (
        invitation.used_at is not None
        or person.user_id is not None
        or User.objects.filter(email=person.email).exists()
    ):
        # Used, or the person has an account by now: a link never opens an existing account.
        raise InvitationError(InvitationError.USED, invitation)
    if invitation.email != person.email:  # both normalised (members.addresses)
        # The address was corrected since: the link was for the old one and stops working.
        if invitation.revoked_at is None:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
        raise InvitationError(InvitationError.REPLACED, invitation)
    if invitation.revoked_at is not None:
        raise InvitationError(InvitationError.REPLACED, invitation)
    if invitation.is_expired:
        raise InvitationError(InvitationError.EXPIRED, invitation)


def accept_invitation(token: str, *, password: str) -> User:
    """Use an invitation: make (or reuse) the account, verify the address, link the Person."""
    # Atomic with a row lock: the link is single-use even when it is submitted twice at once.
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("person")
            .filter(token_hash=hash_token(token))
            .first()
        )
        Person.objects.select_for_update().get(pk=invitation.person_id)
        _raise_unless_usable(invitation)
        person = invitation.person
        # Only ever a new account (an existing one is refused above, its password untouched).
        user = User.objects.create_user(email=person.email, password=password)
        EmailAddress.objects.create(user=user, email=person.email, verified=True, primary=True)
        person.user = user
        person.save(update_fields=["user"])
        invitation.used_at = timezone.now()
        invitation.save(update_fields=["used_at"])
        activity.log("person.invitation_accepted", by=person, target=person, person=person)
    return user


def request_new_invitation(invitation: Invitation) -> Invitation | None:
    """From an expired or replaced link: send a fresh link to the person's address as the bureau
    keeps it now (never to one the visitor gives)."""
    person = invitation.person
    if person.user_id is not None or person.erased_at is not None:
        return None
    new, _token = invite(person, invited_by=invitation.invited_by, message=invitation.message)
    return new


# The person's own data ---------------------------------------------------------------------------


def _related_querysets(obj: models.Model):
    """Every queryset of rows that point at this object (any app, any model, now or later),
    hidden reverse relations (related_name="+") included, as (label, field name, queryset)."""
    seen = set()
    for rel in obj._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and rel.is_relation):
            continue
        if rel.many_to_many:
            through = rel.through if hasattr(rel, "through") else rel.field.remote_field.through
            field_name = rel.field.m2m_reverse_field_name()
            model, queryset = through, through.objects.filter(**{field_name: obj.pk})
        else:
            field_name = rel.field.name
            model, queryset = (
                rel.related_model,
                rel.related_model._default_manager.filter(**{field_name: obj.pk}),
            )
        label = f"{model._meta.label} ({field_name})"
        if label not in seen:
            seen.add(label)
            yield label, field_name, queryset


# Fields that are credentials or internal bookkeeping, never part of the download.
_NOT_EXPORTED = {"token_hash", "token", "password", "secret", "session_key", "signup_name"}


def _own_part(model, via: str) -> list[str] | None:
    """Which fields of a row are the person's to download. All of them when the row is theirs
    (reached through its owner field); when they only acted on it (signed someone up, replied,
    changed a place) just what they did and when — never the other person's name or words."""
    if via == getattr(model, "ERASE_OWNER", "person"):
        return None
    return [
        f.name
        for f in model._meta.concrete_fields
        if f.primary_key
        or f.name in (via, "verb")
        or f.choices
        or isinstance(f, models.DateField | models.DateTimeField)
    ]


def _value(obj: models.Model, field) -> object:
    """One field as a reader wants it: a choice by its label, a relation by its name, a moment
    in ISO 8601 (Amsterdam time)."""
    if field.is_relation:
        related = getattr(obj, field.name, None)
        return str(related) if related is not None else None
    if field.choices:
        return str(getattr(obj, f"get_{field.name}_display")())
    value = getattr(obj, field.name)
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, models.fields.files.FieldFile):
        return value.name or None
    return value


def _readable(obj: models.Model, only: list[str] | None = None) -> dict:
    row = {}
    for field in obj._meta.concrete_fields:
        if field.name in _NOT_EXPORTED or (only is not None and field.name not in only):
            continue
        label = "id" if field.primary_key else str(field.verbose_name).capitalize()
        row[label] = _value(obj, field)
    return row


def _section(model, via: str, rows: list[dict]) -> dict:
    return {
        "title": str(model._meta.verbose_name_plural).capitalize(),
        "source": f"{model._meta.label} ({via})",
        "rows": rows,
    }


def export_person_data(person: Person) -> dict:
    """Everything held about a person (and their account), as a document they can read: in
    their language, moments in ISO 8601, one section per kind of data, saying what it is."""
    with translation.override(person.language):
        data: dict = {
            "about": _(
                "Everything the Kwaliteitsnetwerk mbo keeps about you, on %(date)s: your details, "
                "your account, and one section per kind of data that refers to you (ring "
                "memberships, registrations, messages, the activity log…). Moments are in ISO 8601, "
                "Amsterdam time. Passwords, link codes and second-factor secrets are never included."
            )
            % {"date": timezone.localdate().strftime("%d-%m-%Y")},
            "exported_at": timezone.localtime().isoformat(),
            "person": _readable(person),
        }
        sections = []
        for _label, field, queryset in _related_querysets(person):
            only = _own_part(queryset.model, field)
            rows = [_readable(obj, only=only) for obj in queryset]
            sections.append(_section(queryset.model, field, rows))
            # Rows that belong to these rows (a registration's chosen parts).
            for name in getattr(queryset.model, "EXPORT_WITH", ()):
                relation = queryset.model._meta.get_field(name)
                owned = relation.related_model._default_manager.filter(
                    **{relation.field.name + "__in": queryset}
                )
                sections.append(
                    _section(
                        relation.related_model,
                        relation.field.name,
                        [_readable(obj) for obj in owned],
                    )
                )
        if person.user_id:
            user = person.user
            data["account"] = _readable(
                user, only=["email", "language", "date_joined", "last_login"]
            )
            for label, field, queryset in _related_querysets(user):
                if label.startswith("members.Person"):
                    continue
                if label.startswith(("mfa.Authenticator", "allauth.mfa.Authenticator")):
                    # Secrets stay secret: which kinds of second factor exist, not their keys.
                    only = ["type", "created_at", "last_used_at"]
                elif label.startswith("usersessions.UserSession"):
                    only = ["ip", "created_at", "last_seen_at", "user_agent"]
                else:
                    only = None
                rows = [_readable(obj, only=only) for obj in queryset]
                sections.append(_section(queryset.model, field, rows))
        # Merge sections of the same source (a model can be reached twice) and drop empty ones
        # only at the end, so the reader sees what exists.
        merged: dict[str, dict] = {}
        for section in sections:
            if section["source"] in merged:
                merged[section["source"]]["rows"].extend(section["rows"])
            else:
                merged[section["source"]] = section
        data["sections"] = [s for s in merged.values() if s["rows"]]
    return data


# What erasure means to the apps above members (which members may not import): each registers
# a step at import of its services, e.g. coalitions ends the person's places and requests,
# events cancels their future registrations so the waiting list moves up.
_ERASURE_STEPS: list = []


def register_erasure_step(step) -> None:
    """step(person, by): runs inside erase_person's transaction, before anonymising."""
    _ERASURE_STEPS.append(step)


def erase_person(
    person: Person, *, by: Person | None, verb: str = "person.erased", **details
) -> None:
    """Anonymise a person on request: name, e-mail and remarks go, the account is removed so no
    one can log in as them; places they held are given back through the normal services (the
    waiting list moves up); the row stays so attendance and participation counts keep adding up.
    The activity log keeps its rows: they point at the Person, which now shows as erased."""
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        if person.erased_at is not None:
            return  # already done (a second run of the retention task, a double click)
        for step in _ERASURE_STEPS:
            step(person, by=by)
        # Messages to others that name them (a lead's summary, a digest, a request).
        notify.forget(person, Q(pk__in=[]))
        user = person.user
        person.first_name = ""
        person.infix = ""
        person.last_name = ""
        person.email = f"verwijderd-{person.pk}@invalid.invalid"
        person.function = ""
        person.notes = ""
        person.is_ambassador = False
        person.is_bureau_staff = False
        person.user = None
        person.erased_at = timezone.now()
        person.save()
        # Rows elsewhere that point at the person say themselves what erasure means for them,
        # through the field that makes them theirs (ERASE_OWNER, default "person"):
        # ERASE_DELETE = True (the row is about the person only) or ERASE_FIELDS (texts to blank).
        for _label, field, queryset in _related_querysets(person):
            model = queryset.model
            if field != getattr(model, "ERASE_OWNER", "person"):
                continue  # e.g. invitations this person sent to others stay
            if getattr(model, "ERASE_DELETE", False):
                queryset.delete()
            elif getattr(model, "ERASE_FIELDS", ()):
                queryset.update(**dict.fromkeys(model.ERASE_FIELDS, ""))
        if user is not None:
            # Deleting the account removes its e-mail addresses, login sessions and second factors.
            user.delete()
        activity.log(verb, by=by, target=person, person=person, **details)


def end_institution_membership(
    institution: Institution, *, until: dt.date, by: Person | None
) -> Institution:
    """The institution leaves the network on `until`: its history stays, sign-up from its
    e-mail domains stops after that day."""
    if institution.member_since and until < institution.member_since:
        raise MembershipDateError(_("The end of membership cannot be before its start."))
    with transaction.atomic():
        institution.member_until = until
        institution.save(update_fields=["member_until"])
        activity.log(
            "institution.membership_ended",
            by=by,
            target=institution,
            until=until.strftime("%d-%m-%Y"),
        )
    return institution


def _labels(form, names) -> str:
    return ", ".join(str(form.fields[n].label).lower() for n in names if n in form.fields)


def save_person(form, *, by: Person | None) -> Person:
    """Save a person as the bureau's form or an import row says: the one door, which logs who
    changed what — a change of bureau rights on its own line — and, when the address changes,
    revokes open invitation links (they were for the old address)."""
    created = form.instance.pk is None
    changed = [name for name in form.changed_data if name != "notes" or not created]
    with transaction.atomic():
        person = form.save()
        if created:
            activity.log("person.created", by=by, target=person, person=person)
        elif changed:
            activity.log(
                "person.changed",
                by=by,
                target=person,
                person=person,
                fields=_labels(form, changed),
            )
            if "email" in changed:
                Invitation.objects.open().filter(person=person).update(revoked_at=timezone.now())
        if "is_bureau_staff" in changed and (person.is_bureau_staff or not created):
            activity.log(
                "person.bureau_rights_granted"
                if person.is_bureau_staff
                else "person.bureau_rights_revoked",
                by=by,
                target=person,
                person=person,
            )
    return person


def save_institution(form, *, by: Person | None) -> Institution:
    """Save an institution as the bureau's form or an import row says, and log it."""
    created = form.instance.pk is None
    changed = [n for n in form.changed_data if n != "domains"]
    if getattr(form, "domains_changed", False):
        changed.append("domains")
    with transaction.atomic():
        institution = form.save()
        if created:
            activity.log("institution.created", by=by, target=institution)
        elif changed:
            activity.log(
                "institution.changed", by=by, target=institution, fields=_labels(form, changed)
            )
            if {"name", "short_name"} & set(changed):
                # Its people are shown with its name: their versions move with it
                # (the keys of cached fragments that show people, kwaliteitsnetwerk.caching).
                institution.people.update(version=F("version") + 1)
    return institution


def set_retention(school_years: int, *, by: Person | None) -> RetentionPolicy:
    with transaction.atomic():
        policy = RetentionPolicy.objects.select_for_update().get_or_create(pk=1)[0]
        policy.school_years = school_years
        policy.changed_by = by
        policy.changed_at = timezone.now()
        policy.save(update_fields=["school_years", "changed_by", "changed_at"])
        activity.log("retention.changed", by=by, target=policy, years=school_years)
    return policy


def postpone_erasure(person: Person, *, until: dt.date, reason: str, by: Person | None) -> None:
    """Keep someone's data longer: the bureau's decision, with its reason, in the log."""
    with transaction.atomic():
        RetentionHold.objects.create(person=person, until=until, reason=reason, by=by)
        activity.log(
            "person.retention_postponed",
            by=by,
            target=person,
            person=person,
            until=until.strftime("%d-%m-%Y"),
            reason=reason,
        )


def apply_retention(*, day: dt.date | None = None, limit: int = 200) -> int:
    """Anonymise the people due today (members.retention), oldest first, at most `limit` per
    run. Each in its own transaction: one that fails does not hold up the rest."""
    from . import retention

    erased = 0
    for person in list(retention.due(day)[:limit]):
        try:
            erase_person(
                person,
                by=None,
                verb="person.retention_erased",
                last_active=timezone.localtime(person.last_activity).strftime("%d-%m-%Y"),
            )
        except Exception:  # one that fails must not hold up the rest; it is tried again tomorrow
            logger.exception("Retention: erasing person %s failed", person.pk)
            continue
        erased += 1
    return erased


class GuestError(ValueError):
    """A guest who cannot be added this way; the message says what to do instead."""


GUESTS = "Gasten en externen"


def register_guest(
    *,
    first_name: str,
    last_name: str,
    email: str,
    institution: Institution | None = None,
    by: Person | None,
) -> Person:
    """Someone at the door who is not in the system (a guest, an external facilitator): a
    Person without an account, at their institution or among the guests and external people."""
    known = _("Someone with this e-mail address is already registered: search for them by name.")
    try:
        email = normalise_email(email)
    except AddressError as error:
        raise GuestError(_("Enter a valid e-mail address.")) from error
    if Person.objects.filter(email=email).exists():
        raise GuestError(known)
    if institution is None:
        member = next(
            (d.institution for d in EmailDomain.objects.filter(domain=domain_of(email))), None
        )
        if member is not None:
            # A guest record at a member's address would later be claimed by that colleague's
            # account, with a name someone else chose: people of member institutions are
            # registered at their institution (the bureau's), never among the guests.
            raise GuestError(
                _(
                    "This is an address of an institution of the network (%(institution)s): its "
                    "people are not added as guests. Search for them by name, or ask the network "
                    "office to register them at their institution."
                )
                % {"institution": member.name}
            )
        institution = Institution.objects.filter(kind=Institution.Kind.EXTERNAL).order_by(
            "pk"
        ).first() or Institution.objects.create(name=GUESTS, kind=Institution.Kind.EXTERNAL)
    try:
        with transaction.atomic():  # a savepoint: a double submit loses the race cleanly
            person = Person.objects.create(
                first_name=first_name.strip(),
                last_name=last_name.strip(),
                email=email,
                institution=institution,
            )
            activity.log("person.created", by=by, target=person, person=person)
    except IntegrityError as error:
        raise GuestError(known) from error
    return person


class UnknownContact(Exception):
    """Nobody with this address, and not enough to register them (name, member domain)."""


def find_or_register_contact(
    email: str, *, first_name: str = "", last_name: str = "", by: Person | None = None
) -> Person:
    """The Person with this address, or a new contact at the member institution of its domain
    (as a lead inviting someone new does), registered in the log as added by `by`. Raises
    UnknownContact when neither can be."""
    from .adapter import institution_for_email

    try:
        email = normalise_email(email)
    except AddressError as error:
        raise UnknownContact(email) from error
    person = Person.objects.filter(email=email, erased_at__isnull=True).first()
    if person is not None:
        return person
    institution = institution_for_email(email)
    if institution is None or not (first_name.strip() and last_name.strip()):
        raise UnknownContact(email)
    with transaction.atomic():
        person = Person.objects.create(
            email=email,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            institution=institution,
        )
        activity.log("person.created", by=by, target=person, person=person)
    return person
