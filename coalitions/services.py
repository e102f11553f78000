"""Workflows of coalitions and their rings: one door for every change of a membership.

Capacity is scarce: every change that can fill a ring locks the ring row first
(`select_for_update`), counts its active members, and only then writes, so concurrent requests
never overfill it. The partial unique constraint on RingMembership backs up "one open membership
per person per coalition" in the database.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, override

from members import notify
from members.models import Person

from .models import Coalition, Input, Ring, RingMembership


class MembershipError(Exception):
    """A ring rule said no; the message is for the person (Dutch through gettext)."""


class RingFull(MembershipError):
    pass


class TransitionError(Exception):
    pass


def _locked_ring(ring: Ring) -> Ring:
    return Ring.objects.select_for_update().select_related("coalition").get(pk=ring.pk)


def _check_room(ring: Ring) -> None:
    if ring.capacity is not None and ring.memberships.active().count() >= ring.capacity:
        raise RingFull(
            _("%(ring)s is full (%(capacity)s places).")
            % {"ring": ring.name, "capacity": ring.capacity}
        )


def _check_open_coalition(coalition: Coalition) -> None:
    if coalition.is_closed:
        raise MembershipError(_("This coalition has closed; its rings no longer change."))


def _open_membership(person: Person, coalition: Coalition) -> RingMembership | None:
    return (
        RingMembership.objects.open()
        .filter(person=person, coalition=coalition)
        .select_related("ring")
        .first()
    )


def _create(
    person: Person, ring: Ring, *, status: str, by: Person | None, motivation: str = ""
) -> RingMembership:
    existing = _open_membership(person, ring.coalition)
    if existing is not None:
        raise MembershipError(
            _(
                "%(name)s already has a place or a pending request in this coalition (%(ring)s, %(status)s)."
            )
            % {
                "name": person.full_name,
                "ring": existing.ring.name,
                "status": existing.get_status_display().lower(),
            }
        )
    now = timezone.now()
    try:
        # A savepoint, so a lost race on the unique constraint leaves the outer transaction usable.
        with transaction.atomic():
            return RingMembership.objects.create(
                person=person,
                ring=ring,
                coalition=ring.coalition,
                status=status,
                motivation=motivation,
                started_at=now if status == RingMembership.Status.ACTIVE else None,
                changed_by=by,
                changed_at=now,
            )
    except IntegrityError as exc:
        raise MembershipError(
            _("You already have a place or a pending request in this coalition.")
        ) from exc


def join_ring(person: Person, ring: Ring, *, motivation: str = "") -> RingMembership:
    """A person joins an open ring or asks to join an on-request ring."""
    with transaction.atomic():
        ring = _locked_ring(ring)
        _check_open_coalition(ring.coalition)
        if ring.join_policy == Ring.JoinPolicy.INVITATION:
            raise MembershipError(_("%(ring)s is by invitation only.") % {"ring": ring.name})
        if ring.join_policy == Ring.JoinPolicy.OPEN:
            _check_room(ring)
            return _create(person, ring, status=RingMembership.Status.ACTIVE, by=person)
        membership = _create(
            person, ring, status=RingMembership.Status.REQUESTED, by=person, motivation=motivation
        )
        _tell_leads_of_request(membership)
        return membership


def invite_to_ring(person: Person, ring: Ring, *, by: Person | None) -> RingMembership:
    with transaction.atomic():
        ring = _locked_ring(ring)
        _check_open_coalition(ring.coalition)
        membership = _create(person, ring, status=RingMembership.Status.INVITED, by=by)
        _tell(
            membership,
            "ring_invitation",
            gettext_noop("Invitation: %(ring)s of %(coalition)s"),
            gettext_noop(
                "%(by)s invites you to %(ring)s of the coalition %(coalition)s. Accept or decline the invitation on the coalition page:"
            ),
            by=by,
        )
        return membership


def _locked_membership(membership: RingMembership) -> RingMembership:
    return (
        RingMembership.objects.select_for_update()
        .select_related("ring__coalition", "person")
        .get(pk=membership.pk)
    )


def _activate(
    membership: RingMembership, *, by: Person | None, expected: str, response: str = ""
) -> RingMembership:
    with transaction.atomic():
        ring = _locked_ring(
            membership.ring
        )  # lock the ring first, then the row: one order everywhere
        membership = _locked_membership(membership)
        if membership.status != expected:
            raise MembershipError(_("This has already been dealt with."))
        _check_room(ring)
        now = timezone.now()
        membership.status = RingMembership.Status.ACTIVE
        membership.started_at = now
        membership.response = response or membership.response
        membership.changed_by = by
        membership.changed_at = now
        membership.save(
            update_fields=["status", "started_at", "response", "changed_by", "changed_at"]
        )
        return membership


def accept_request(membership: RingMembership, *, by: Person, message: str = "") -> RingMembership:
    membership = _activate(
        membership, by=by, expected=RingMembership.Status.REQUESTED, response=message
    )
    _tell(
        membership,
        "membership_decision",
        gettext_noop("Welcome to %(ring)s of %(coalition)s"),
        gettext_noop("Your request to join %(ring)s of the coalition %(coalition)s is accepted."),
        by=by,
        message=message,
    )
    return membership


def accept_invitation(membership: RingMembership, *, person: Person) -> RingMembership:
    if membership.person_id != person.pk:
        raise MembershipError(_("This invitation is for someone else."))
    return _activate(membership, by=person, expected=RingMembership.Status.INVITED)


def _end(
    membership: RingMembership,
    *,
    by: Person | None,
    reason: str,
    expected: list[str],
    message: str = "",
) -> RingMembership:
    with transaction.atomic():
        membership = _locked_membership(membership)
        if membership.status not in expected:
            raise MembershipError(_("This has already been dealt with."))
        now = timezone.now()
        membership.status = RingMembership.Status.ENDED
        membership.ended_at = now
        membership.end_reason = reason
        membership.response = message or membership.response
        membership.changed_by = by
        membership.changed_at = now
        membership.save(
            update_fields=[
                "status",
                "ended_at",
                "end_reason",
                "response",
                "changed_by",
                "changed_at",
            ]
        )
        return membership


def decline_request(membership: RingMembership, *, by: Person, message: str = "") -> RingMembership:
    membership = _end(
        membership,
        by=by,
        reason=RingMembership.EndReason.DECLINED,
        expected=[RingMembership.Status.REQUESTED],
        message=message,
    )
    _tell(
        membership,
        "membership_decision",
        gettext_noop("Your request for %(ring)s of %(coalition)s"),
        gettext_noop(
            "The leads of %(coalition)s have not taken up your request to join %(ring)s this time."
        ),
        by=by,
        message=message,
    )
    return membership


def decline_invitation(membership: RingMembership, *, person: Person) -> RingMembership:
    if membership.person_id != person.pk:
        raise MembershipError(_("This invitation is for someone else."))
    return _end(
        membership,
        by=person,
        reason=RingMembership.EndReason.INVITATION_DECLINED,
        expected=[RingMembership.Status.INVITED],
    )


def leave(membership: RingMembership, *, person: Person) -> RingMembership:
    """The member leaves (or withdraws a request)."""
    if membership.person_id != person.pk:
        raise MembershipError(_("You can only leave your own ring."))
    reason = (
        RingMembership.EndReason.LEFT
        if membership.status == RingMembership.Status.ACTIVE
        else RingMembership.EndReason.WITHDRAWN
    )
    return _end(membership, by=person, reason=reason, expected=RingMembership.OPEN_STATUSES)


def end_membership(membership: RingMembership, *, by: Person) -> RingMembership:
    """A lead ends someone's place, request or invitation."""
    return _end(
        membership,
        by=by,
        reason=RingMembership.EndReason.REMOVED,
        expected=RingMembership.OPEN_STATUSES,
    )


def move_member(membership: RingMembership, ring: Ring, *, by: Person) -> RingMembership:
    """Move an active member to another ring of the same coalition: the old row ends (history),
    a new active row begins. The target ring's capacity holds."""
    if ring.coalition_id != membership.coalition_id:
        raise MembershipError(_("A person can only move between rings of the same coalition."))
    with transaction.atomic():
        target = _locked_ring(ring)
        _check_open_coalition(target.coalition)
        membership = _locked_membership(membership)
        if membership.status != RingMembership.Status.ACTIVE:
            raise MembershipError(_("Only an active member can move."))
        if membership.ring_id == target.pk:
            raise MembershipError(
                _("%(name)s is already in %(ring)s.")
                % {"name": membership.person.full_name, "ring": target.name}
            )
        _check_room(target)
        now = timezone.now()
        membership.status = RingMembership.Status.ENDED
        membership.ended_at = now
        membership.end_reason = RingMembership.EndReason.MOVED
        membership.changed_by = by
        membership.changed_at = now
        membership.save(
            update_fields=["status", "ended_at", "end_reason", "changed_by", "changed_at"]
        )
        return RingMembership.objects.create(
            person=membership.person,
            ring=target,
            coalition=target.coalition,
            status=RingMembership.Status.ACTIVE,
            started_at=now,
            changed_by=by,
            changed_at=now,
        )


def _coalition_url(coalition: Coalition) -> str:
    return settings.SITE_URL + reverse("coalitions:detail", args=[coalition.pk])


def _language(person: Person) -> str:
    return person.user.language if person.user_id else settings.LANGUAGE_CODE


def _tell(
    membership: RingMembership,
    kind: str,
    subject: str,
    text: str,
    *,
    by: Person | None,
    message: str = "",
) -> None:
    """Tell the person about a change to their membership, once (through the outbox)."""
    person = membership.person
    values = {
        "ring": membership.ring.name,
        "coalition": membership.coalition.name,
        "by": by.full_name if by else "",
    }
    with override(_language(person)):
        body = _(text) % values
        if message:
            body += "\n\n" + _("Message from %(by)s:") % values + f"\n{message}"
        body += f"\n\n{_coalition_url(membership.coalition)}\n"
        notify.queue(
            kind,
            person,
            f"coalitions.membership:{membership.pk}",
            subject=_(subject) % values,
            body=body,
        )


def _tell_leads_of_request(membership: RingMembership) -> None:
    values = {
        "name": membership.person.full_name,
        "ring": membership.ring.name,
        "coalition": membership.coalition.name,
    }
    url = settings.SITE_URL + reverse("coalitions:board", args=[membership.coalition_id])
    for lead in membership.coalition.leads.all():
        with override(_language(lead)):
            body = _("%(name)s asks to join %(ring)s of %(coalition)s.") % values
            if membership.motivation:
                body += f"\n\n{membership.motivation}"
            body += "\n\n" + _("Accept or decline on the ring board:") + f"\n{url}\n"
            notify.queue(
                "membership_request",
                lead,
                f"coalitions.membership:{membership.pk}",
                subject=_("Request for %(ring)s of %(coalition)s") % values,
                body=body,
            )


def transition(coalition: Coalition, status: str, *, by: Person | None) -> Coalition:
    """Move a coalition along its lifecycle; only the next step is allowed."""
    with transaction.atomic():
        coalition = Coalition.objects.select_for_update().get(pk=coalition.pk)
        if status not in coalition.allowed_transitions():
            raise TransitionError(
                _("A coalition that is %(current)s cannot become %(new)s.")
                % {
                    "current": coalition.get_status_display().lower(),
                    "new": Coalition.Status(status).label.lower(),
                }
            )
        if status == Coalition.Status.ACTIVE and not coalition.leads.exists():
            raise TransitionError(
                _("A coalition needs at least one lead before it becomes active.")
            )
        coalition.status = status
        coalition.save(update_fields=["status"])
        return coalition


DEFAULT_RINGS = [
    {
        "name": "Kern",
        "order": 1,
        "level": Ring.Level.DECIDE,
        "join_policy": Ring.JoinPolicy.REQUEST,
        "capacity": 8,
        "minimum_size": 5,
        "sessions_expected": 4,
        "can_see_workspace": True,
        "can_post_input": True,
        "can_post_outputs": True,
        "agreements_process": "Je bent bij alle coalitiebijeenkomsten. Afmelden doe je uiterlijk 48 uur van tevoren. "
        "Tussen de bijeenkomsten werk je mee aan de opbrengst; de kern beslist samen over de koers.",
        "agreements_behaviour": "Je deelt ervaringen uit je eigen instelling open en vertrouwelijk, en je koppelt terug "
        "naar je eigen instelling.",
    },
    {
        "name": "Flexibele ring",
        "order": 2,
        "level": Ring.Level.THINK,
        "join_policy": Ring.JoinPolicy.OPEN,
        "capacity": None,
        "minimum_size": None,
        "sessions_expected": 1,
        "can_see_workspace": True,
        "can_post_input": True,
        "can_post_outputs": False,
        "agreements_process": "Je sluit aan bij bijeenkomsten die je aanspreken en leest mee als tegenlezer of kritische vriend.",
        "agreements_behaviour": "Minstens één bijdrage per periode; je reageert op conceptversies als daarom gevraagd wordt.",
    },
]
FOLLOWERS_RING = {
    "name": "Volgers",
    "order": 3,
    "level": Ring.Level.KNOW,
    "join_policy": Ring.JoinPolicy.OPEN,
    "capacity": None,
    "minimum_size": None,
    "sessions_expected": None,
    "can_see_workspace": False,
    "can_post_input": True,
    "can_post_outputs": False,
    "agreements_process": "Je ontvangt updates en verslagen.",
    "agreements_behaviour": "",
}


def create_default_rings(coalition: Coalition, *, followers: bool = False) -> list[Ring]:
    """Kern and Flexibele ring (and optionally Volgers), which the leads can then change."""
    specs = DEFAULT_RINGS + ([FOLLOWERS_RING] if followers else [])
    return [
        Ring.objects.get_or_create(coalition=coalition, order=spec["order"], defaults=spec)[0]
        for spec in specs
    ]


def create_coalition(
    *, by: Person | None, leads=(), followers_ring: bool = False, **fields
) -> Coalition:
    with transaction.atomic():
        coalition = Coalition.objects.create(**fields)
        if leads:
            coalition.leads.add(*leads)
        create_default_rings(coalition, followers=followers_ring)
    return coalition


def answer_input(item: Input, *, by: Person, status: str, reply: str) -> Input:
    item.status = status
    item.reply = reply
    item.replied_by = by
    item.replied_at = timezone.now()
    item.save(update_fields=["status", "reply", "replied_by", "replied_at"])
    return item
