"""Workflows of coalitions and their rings: one door for every change of a membership.

Capacity is scarce: every change that can fill a ring locks the ring row first
(`select_for_update`), counts its active members, and only then writes, so concurrent requests
never overfill it. The partial unique constraint on RingMembership backs up "one open membership
per person per coalition" in the database.
"""

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Case, DateTimeField, Exists, OuterRef, Q, Subquery, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members import activity, notify, retention
from members import services as member_services
from members.models import Action, Person, dutch

from . import uploads
from .models import (
    Coalition,
    Evaluation,
    Input,
    Interest,
    Output,
    Proposal,
    ProposalComment,
    Ring,
    RingMembership,
    Support,
    Theme,
    ThemeRound,
)

activity.register_verbs(
    {
        "coalition.created": gettext_lazy("created the coalition"),
        "coalition.changed": gettext_lazy("changed the coalition (%(fields)s)"),
        "coalition.status_changed": (
            gettext_lazy("moved the coalition from %(from)s to %(to)s"),
            {"from": Coalition.Status, "to": Coalition.Status},
        ),
        "ring.created": gettext_lazy("added the ring %(ring)s"),
        "ring.changed": gettext_lazy("changed the rules of %(ring)s"),
        "membership.joined": gettext_lazy("joined %(ring)s"),
        "membership.requested": gettext_lazy("asked to join %(ring)s"),
        "membership.invited": gettext_lazy("invited to %(ring)s"),
        "membership.accepted": gettext_lazy("request for %(ring)s accepted"),
        "membership.invitation_accepted": gettext_lazy("accepted the invitation to %(ring)s"),
        "membership.declined": gettext_lazy("request for %(ring)s declined"),
        "membership.invitation_declined": gettext_lazy("declined the invitation to %(ring)s"),
        "membership.left": gettext_lazy("left %(ring)s"),
        "membership.withdrawn": gettext_lazy("withdrew from %(ring)s"),
        "membership.ended": gettext_lazy("place in %(ring)s ended"),
        "membership.moved": gettext_lazy("moved from %(from)s to %(to)s"),
        "membership.move_requested": gettext_lazy("asked to move to %(to)s"),
        "membership.move_declined": gettext_lazy("request to move to %(to)s declined"),
        "membership.move_withdrawn": gettext_lazy("withdrew the request to move to %(to)s"),
        "input.added": gettext_lazy("brought in “%(title)s”"),
        "input.answered": (
            gettext_lazy("marked the input “%(title)s” %(status)s"),
            {"status": Input.Status},
        ),
        "output.added": gettext_lazy("added the output “%(title)s”"),
        "theme.created": gettext_lazy("added the theme “%(name)s”"),
        "theme.renamed": gettext_lazy("renamed the theme “%(from)s” to “%(to)s”"),
        "theme.merged": gettext_lazy("merged the theme “%(from)s” into “%(to)s”"),
        "round.opened": gettext_lazy("set up the theme round %(year)s"),
        "round.changed": gettext_lazy("changed the theme round %(year)s"),
        "round.closed": gettext_lazy("closed the theme round %(year)s"),
        "proposal.added": gettext_lazy("proposed the theme “%(title)s”"),
        "proposal.supported": gettext_lazy("supported the theme “%(title)s”"),
        "proposal.support_withdrawn": gettext_lazy("withdrew their support for “%(title)s”"),
        "proposal.commented": gettext_lazy("commented on the theme “%(title)s”"),
        "proposal.chosen": gettext_lazy("chose the theme “%(title)s” for a coalition"),
        "proposal.declined": gettext_lazy("did not choose the theme “%(title)s”"),
        "coalition.candidates_chosen": gettext_lazy("chose %(count)s candidates for %(ring)s"),
        "coalition.launched": gettext_lazy("launched the coalition"),
        "membership.placed": gettext_lazy("placed in %(ring)s at the launch"),
        "evaluation.saved": gettext_lazy("wrote the evaluation"),
    }
)


def _log_membership(verb: str, membership: RingMembership, *, by: Person | None, **data) -> None:
    activity.log(
        verb,
        by=by,
        target=membership,
        person=membership.person,
        scope=membership.coalition,
        **({"ring": membership.ring.name} | data),
    )


# Who a kind can reach (notify.Kind.audience), as filters on Person: the same relations the
# senders pick their people by — a coalition's leads (`coalition.leads`), its bureau contact,
# the ambassadors, the Kern (`Ring.CORE_ORDER`) — over all coalitions. A member who leads
# nothing is not offered the leads' messages on My account.


def leading() -> Q:
    return Q(Exists(Coalition.leads.through.objects.filter(person=OuterRef("pk"))))


def leading_or_contact() -> Q:
    return leading() | Q(Exists(Coalition.objects.filter(bureau_contact=OuterRef("pk"))))


def leading_or_in_a_core() -> Q:
    in_core = RingMembership.objects.active().filter(
        person=OuterRef("pk"), ring__order=Ring.CORE_ORDER
    )
    return leading() | Q(Exists(in_core))


def ambassadors() -> Q:
    return Q(is_ambassador=True)


notify.register_kinds(
    notify.Kind(
        "ring_invitation",
        gettext_lazy("Invitations to a ring"),
        gettext_lazy("A lead invites you to a ring of their coalition."),
        template="coalitions/email/ring_invitation",
    ),
    notify.Kind(
        "membership_decision",
        gettext_lazy("The answer to your request for a ring"),
        template="coalitions/email/membership_decision",
        mandatory=True,
    ),
    notify.Kind(
        "membership_moved",
        gettext_lazy("A lead moved you to another ring"),
        template="coalitions/email/membership_moved",
        mandatory=True,
    ),
    notify.Kind(
        "membership_request",
        gettext_lazy("Requests to join your coalition (for leads)"),
        template="coalitions/email/membership_request",
        names_others=True,
        audience=leading,
    ),
    notify.Kind(
        "input_new",
        gettext_lazy("New input in your coalition (for leads)"),
        template="coalitions/email/input_new",
        names_others=True,
        audience=leading,
    ),
    notify.Kind(
        "input_answered",
        gettext_lazy("The answer to your input"),
        template="coalitions/email/input_answered",
    ),
    notify.Kind(
        "coalition_ending",
        gettext_lazy("Your coalition ends in a month (for leads and the bureau)"),
        template="coalitions/email/coalition_ending",
        audience=leading_or_contact,
    ),
    notify.Kind(
        "ring_below_minimum",
        gettext_lazy("A ring below its minimum (for leads and the bureau)"),
        template="coalitions/email/ring_below_minimum",
        audience=leading_or_contact,
    ),
)


notify.register_kinds(
    notify.Kind(
        "round_opened",
        gettext_lazy("A theme round opens"),
        gettext_lazy("Bring in a theme for next year's coalitions and support others."),
        template="coalitions/email/round_opened",
    ),
    notify.Kind(
        "round_closing",
        gettext_lazy("A theme round closes in a few days (for ambassadors)"),
        template="coalitions/email/round_closing",
        audience=ambassadors,
    ),
    notify.Kind(
        "proposal_decided",
        gettext_lazy("The decision on a theme you proposed or supported"),
        template="coalitions/email/proposal_decided",
    ),
    notify.Kind(
        "recruitment_opened",
        gettext_lazy("Recruitment opens for a coalition you are interested in"),
        template="coalitions/email/recruitment_opened",
    ),
    notify.Kind(
        "coalition_launched",
        gettext_lazy("Where you are placed when your coalition is launched"),
        template="coalitions/email/coalition_launched",
        mandatory=True,
    ),
    notify.Kind(
        "evaluation_due",
        gettext_lazy("Your coalition's evaluation is due (for leads and the Kern)"),
        template="coalitions/email/evaluation_due",
        audience=leading_or_in_a_core,
    ),
)


class MembershipError(Exception):
    """A ring rule said no; the message is for the person (Dutch through gettext)."""


class RingFull(MembershipError):
    pass


class TransitionError(Exception):
    pass


def _lock_coalition(pk: int) -> None:
    """Every change of a coalition, its rings or memberships locks the coalition first (its
    version moves when the change is logged, kwaliteitsnetwerk.caching; a launch locks the
    coalition, then its rings and memberships): one order of locks, so two changes never wait
    on each other in a circle."""
    list(Coalition.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True))


def _locked_ring(ring: Ring) -> Ring:
    _lock_coalition(ring.coalition_id)
    return Ring.objects.select_for_update().select_related("coalition").get(pk=ring.pk)


def _check_room(ring: Ring) -> None:
    if ring.is_full:
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
        if ring.joins_directly:
            _check_room(ring)
            membership = _create(person, ring, status=RingMembership.Status.ACTIVE, by=person)
            _log_membership("membership.joined", membership, by=person)
            return membership
        membership = _create(
            person, ring, status=RingMembership.Status.REQUESTED, by=person, motivation=motivation
        )
        _log_membership("membership.requested", membership, by=person)
        _tell_leads_of_request(membership)
        return membership


def invite_to_ring(person: Person, ring: Ring, *, by: Person | None) -> RingMembership:
    with transaction.atomic():
        ring = _locked_ring(ring)
        _check_open_coalition(ring.coalition)
        membership = _create(person, ring, status=RingMembership.Status.INVITED, by=by)
        _log_membership("membership.invited", membership, by=by)
        _tell(membership, "ring_invitation", by=by)
        return membership


def invite_by_address(
    ring: Ring, *, email: str, first_name: str = "", last_name: str = "", by: Person | None
) -> RingMembership:
    """A lead invites someone to a ring by address, as on the ring board: the person with that
    address, or a new contact at the member institution of its domain; someone without an
    account is also invited to make one. One transaction: a refused invitation leaves no new
    contact and no account invitation behind. Raises member_services.UnknownContact or
    MembershipError."""
    with transaction.atomic():
        person = member_services.find_or_register_contact(
            email, first_name=first_name, last_name=last_name, by=by
        )
        membership = invite_to_ring(person, ring, by=by)
        if person.user_id is None:
            member_services.invite(
                person,
                invited_by=by,
                message=_("You are invited to %(ring)s of the coalition %(coalition)s.")
                % {"ring": ring.name, "coalition": ring.coalition.name},
            )
    return membership


def _locked_membership(membership: RingMembership) -> RingMembership:
    _lock_coalition(membership.coalition_id)
    return (
        RingMembership.objects.select_for_update()
        .select_related("ring__coalition", "person")
        .get(pk=membership.pk)
    )


def _activate(
    membership: RingMembership, *, by: Person | None, expected: str, verb: str, response: str = ""
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
        _log_membership(verb, membership, by=by)
        return membership


def request_move(
    membership: RingMembership, ring: Ring, *, person: Person, motivation: str = ""
) -> RingMembership:
    """An active member asks to move to another ring of their coalition and stays where they
    are meanwhile. To an open ring they move at once (its capacity holds); to an on-request ring
    the leads decide (accept_request / decline_request); an invitation-only ring says no."""
    if membership.person_id != person.pk:
        raise MembershipError(_("You can only move yourself."))
    if ring.coalition_id != membership.coalition_id:
        raise MembershipError(_("A person can only move between rings of the same coalition."))
    with transaction.atomic():
        target = _locked_ring(ring)
        _check_open_coalition(target.coalition)
        membership = _locked_membership(membership)
        if not membership.is_active:
            raise MembershipError(_("Only an active member can ask to move."))
        if membership.ring_id == target.pk:
            raise MembershipError(_("You are already in %(ring)s.") % {"ring": target.name})
        if target.joins_directly:
            return move_member(membership, target, by=person)
        if not target.joins_on_request:
            raise MembershipError(_("%(ring)s is by invitation only.") % {"ring": target.name})
        now = timezone.now()
        membership.requested_ring = target
        membership.requested_at = now
        membership.motivation = motivation
        membership.changed_by = person
        membership.changed_at = now
        membership.save(
            update_fields=[
                "requested_ring",
                "requested_at",
                "motivation",
                "changed_by",
                "changed_at",
            ]
        )
        _log_membership("membership.move_requested", membership, by=person, to=target.name)
        _tell_leads_of_request(membership, ring=target)
        return membership


def withdraw_move(membership: RingMembership, *, person: Person) -> RingMembership:
    if membership.person_id != person.pk:
        raise MembershipError(_("You can only withdraw your own request."))
    return _clear_move(membership, by=person, verb="membership.move_withdrawn")


def _clear_move(membership: RingMembership, *, by: Person, verb: str, message: str = ""):
    with transaction.atomic():
        membership = _locked_membership(membership)
        if not membership.asks_to_move:
            raise MembershipError(_("This has already been dealt with."))
        target = membership.requested_ring
        membership.requested_ring = None
        membership.requested_at = None
        membership.response = message or membership.response
        membership.changed_by = by
        membership.changed_at = timezone.now()
        membership.save(
            update_fields=["requested_ring", "requested_at", "response", "changed_by", "changed_at"]
        )
        _log_membership(verb, membership, by=by, to=target.name)
        membership.declined_ring = target
        return membership


def _check_not_a_candidate(membership: RingMembership) -> None:
    if membership.is_kern_candidate:
        raise MembershipError(
            _("Choose the Kern on the candidates page: they are placed at the launch.")
        )


def accept_request(membership: RingMembership, *, by: Person, message: str = "") -> RingMembership:
    """A lead accepts a request: to join a ring, or (from an active member) to move to one."""
    _check_not_a_candidate(membership)
    if membership.asks_to_move:
        moved = move_member(membership, membership.requested_ring, by=by, as_requested=True)
        _tell(moved, "membership_decision", by=by, message=message, accepted=True, move=True)
        return moved
    membership = _activate(
        membership,
        by=by,
        expected=RingMembership.Status.REQUESTED,
        verb="membership.accepted",
        response=message,
    )
    _tell(membership, "membership_decision", by=by, message=message, accepted=True)
    return membership


def accept_invitation(membership: RingMembership, *, person: Person) -> RingMembership:
    if membership.person_id != person.pk:
        raise MembershipError(_("This invitation is for someone else."))
    return _activate(
        membership,
        by=person,
        expected=RingMembership.Status.INVITED,
        verb="membership.invitation_accepted",
    )


def _end(
    membership: RingMembership,
    *,
    by: Person | None,
    reason: str,
    expected: list[str],
    verb: str,
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
        membership.requested_ring = None  # an ended place asks for nothing
        membership.requested_at = None
        membership.changed_by = by
        membership.changed_at = now
        membership.save(
            update_fields=[
                "status",
                "ended_at",
                "end_reason",
                "response",
                "requested_ring",
                "requested_at",
                "changed_by",
                "changed_at",
            ]
        )
        _log_membership(verb, membership, by=by)
        return membership


def decline_request(membership: RingMembership, *, by: Person, message: str = "") -> RingMembership:
    """A lead declines a request: to join (the request ends), or to move (they stay where they
    are)."""
    _check_not_a_candidate(membership)
    if membership.asks_to_move:
        membership = _clear_move(
            membership, by=by, verb="membership.move_declined", message=message
        )
        values_ring = membership.declined_ring.name
        _tell(
            membership,
            "membership_decision",
            by=by,
            message=message,
            move=True,
            ring=values_ring,
            occasion_suffix=f":move:{timezone.now():%Y%m%d%H%M%S%f}",
        )
        return membership
    membership = _end(
        membership,
        by=by,
        reason=RingMembership.EndReason.DECLINED,
        expected=[RingMembership.Status.REQUESTED],
        verb="membership.declined",
        message=message,
    )
    _tell(membership, "membership_decision", by=by, message=message)
    return membership


def decline_invitation(membership: RingMembership, *, person: Person) -> RingMembership:
    if membership.person_id != person.pk:
        raise MembershipError(_("This invitation is for someone else."))
    return _end(
        membership,
        by=person,
        reason=RingMembership.EndReason.INVITATION_DECLINED,
        expected=[RingMembership.Status.INVITED],
        verb="membership.invitation_declined",
    )


def leave(membership: RingMembership, *, person: Person) -> RingMembership:
    """The member leaves (or withdraws a request)."""
    if membership.person_id != person.pk:
        raise MembershipError(_("You can only leave your own ring."))
    left = membership.is_active
    return _end(
        membership,
        by=person,
        reason=RingMembership.EndReason.LEFT if left else RingMembership.EndReason.WITHDRAWN,
        expected=RingMembership.OPEN_STATUSES,
        verb="membership.left" if left else "membership.withdrawn",
    )


def end_membership(membership: RingMembership, *, by: Person) -> RingMembership:
    """A lead ends someone's place, request or invitation."""
    return _end(
        membership,
        by=by,
        reason=RingMembership.EndReason.REMOVED,
        expected=RingMembership.OPEN_STATUSES,
        verb="membership.ended",
    )


def move_member(
    membership: RingMembership, ring: Ring, *, by: Person, as_requested: bool = False
) -> RingMembership:
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
        if as_requested and membership.requested_ring_id != target.pk:
            # Withdrawn or answered meanwhile: a stale accept moves nobody.
            raise MembershipError(_("This has already been dealt with."))
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
        membership.requested_ring = None  # a request to move is answered by the move
        membership.requested_at = None
        membership.changed_by = by
        membership.changed_at = now
        membership.save(
            update_fields=[
                "status",
                "ended_at",
                "end_reason",
                "requested_ring",
                "requested_at",
                "changed_by",
                "changed_at",
            ]
        )
        moved = RingMembership.objects.create(
            person=membership.person,
            ring=target,
            coalition=target.coalition,
            status=RingMembership.Status.ACTIVE,
            started_at=now,
            changed_by=by,
            changed_at=now,
        )
        activity.log(
            "membership.moved",
            by=by,
            target=moved,
            person=moved.person,
            scope=moved.coalition,
            **{"from": membership.ring.name, "to": target.name},
        )
        if by.pk != moved.person_id and not as_requested:
            # Someone else moved them: they hear it (an accepted request is told by its answer).
            _tell(
                moved,
                "membership_moved",
                by=by,
                ring=target.name,
                extra={"from": membership.ring.name},
            )
        return moved


def _erase(person: Person, *, by: Person | None) -> None:
    """Erasure, for coalitions: places and requests end through the one door (so a full ring has
    room again), and every copy of the person's words goes — the leads' notice of their request
    carried the motivation, the log of their input its title."""
    for membership in RingMembership.objects.open().filter(person=person):
        leave(membership, person=person)
    about_them = Q()
    for pk in RingMembership.objects.filter(person=person).values_list("pk", flat=True):
        occasion = f"coalitions.membership:{pk}"
        about_them |= Q(occasion=occasion) | Q(occasion__startswith=occasion + ":")
    inputs = Input.objects.filter(author=person).values("pk")
    for pk in inputs.values_list("pk", flat=True):
        occasion = f"coalitions.input:{pk}"
        about_them |= Q(occasion=occasion) | Q(occasion__startswith=occasion + ":")
    if about_them:
        notify.forget(person, about_them)
    Action.objects.filter(
        verb__startswith="input.", target_type__model="input", target_id__in=inputs
    ).update(data={})


member_services.register_erasure_step(_erase)


def _last_activity(now):
    """For retention: an open place or a running coalition one leads is activity today;
    otherwise the last change to one of their places."""
    open_place = RingMembership.objects.open().filter(person=OuterRef("pk"))
    leading = Coalition.leads.through.objects.filter(person=OuterRef("pk")).exclude(
        coalition__status=Coalition.Status.CLOSED
    )
    last_change = Subquery(
        RingMembership.objects.filter(person=OuterRef("pk"))
        .order_by("-changed_at")
        .values("changed_at")[:1],
        output_field=DateTimeField(),
    )
    return Case(
        When(Exists(open_place) | Exists(leading), then=Value(now)),
        default=last_change,
        output_field=DateTimeField(),
    )


retention.register_activity(_last_activity)


def _coalition_url(coalition: Coalition) -> str:
    return settings.SITE_URL + reverse("coalitions:detail", args=[coalition.pk])


def _tell(
    membership: RingMembership,
    kind: str,
    *,
    by: Person | None,
    message: str = "",
    ring: str = "",
    occasion_suffix: str = "",
    accepted: bool = False,
    move: bool = False,
    extra: dict | None = None,
) -> None:
    """Tell the person about a change to their membership, once (through the outbox)."""
    notify.queue(
        kind,
        membership.person,
        f"coalitions.membership:{membership.pk}{occasion_suffix}",
        {
            "ring": ring or membership.ring.name,
            "coalition": membership.coalition.name,
            "by": by.full_name if by else "",
            "message": message,
            "accepted": accepted,
            "move": move,
            "url": _coalition_url(membership.coalition),
        }
        | (extra or {}),
    )


def _tell_leads_of_request(membership: RingMembership, *, ring: Ring | None = None) -> None:
    """Tell the leads of a request to join `membership.ring`, or to move to `ring`."""
    occasion = f"coalitions.membership:{membership.pk}"
    if ring is not None:
        occasion += f":move:{membership.requested_at:%Y%m%d%H%M%S%f}"
    context = {
        "name": membership.person.full_name,
        "ring": (ring or membership.ring).name,
        "from": membership.ring.name,
        "coalition": membership.coalition.name,
        "move": ring is not None,
        "motivation": membership.motivation,
        "url": settings.SITE_URL + reverse("coalitions:board", args=[membership.coalition_id]),
    }
    notify.queue_many(
        "membership_request",
        [
            notify.Message(lead, occasion, context)
            for lead in membership.coalition.leads.select_related("user")
        ],
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
        if status == Coalition.Status.ACTIVE:
            # One door to "actief": the launch, with its rule and its placements.
            try:
                launch([coalition], by=by)
            except LaunchError as error:
                raise TransitionError(" ".join(error.problems)) from error
            coalition.refresh_from_db()
            return coalition
        previous = coalition.status
        coalition.status = status
        coalition.save(update_fields=["status"])
        activity.log(
            "coalition.status_changed",
            by=by,
            target=coalition,
            scope=coalition,
            **{"from": previous, "to": status},
        )
        if status == Coalition.Status.RECRUITING:
            _tell_the_interested(coalition)
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
    """A new coalition with its default rings (one transaction: never a coalition without rings)."""
    with transaction.atomic():
        coalition = Coalition.objects.create(**fields)
        if leads:
            coalition.leads.add(*leads)
        create_default_rings(coalition, followers=followers_ring)
        activity.log("coalition.created", by=by, target=coalition, scope=coalition)
    return coalition


def update_coalition(coalition: Coalition, *, by: Person | None, leads=None, **fields) -> Coalition:
    """Change a coalition's content (leads) or, for the bureau, its dates and leads. Its status
    changes only through `transition`."""
    if "status" in fields:
        raise TransitionError("The status changes through transition() only.")
    with transaction.atomic():
        # Compare with the row as stored: a form may already have set the new values on the
        # instance it was given.
        stored = Coalition.objects.select_for_update().get(pk=coalition.pk)
        changed = [name for name, value in fields.items() if getattr(stored, name) != value]
        before = activity.values(stored, changed)
        for name in changed:
            setattr(stored, name, fields[name])
            setattr(coalition, name, fields[name])
        if changed:
            stored.save(update_fields=changed)
        if leads is not None and set(leads) != set(stored.leads.all()):
            stored.leads.set(leads)
            coalition.__dict__.pop("_lead_ids", None)
            changed.append("leads")
        if changed:
            activity.log(
                "coalition.changed",
                by=by,
                target=coalition,
                scope=coalition,
                changes=activity.changes_between(before, activity.values(stored, changed)),
            )
    return coalition


class ThemeError(ValueError):
    """A theme change that cannot be; the message is for the bureau."""


def _check_theme_name(name: str, *, other_than: Theme | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise ThemeError(_("Give the theme a name."))
    clash = Theme.objects.filter(name__iexact=name)
    if other_than is not None:
        clash = clash.exclude(pk=other_than.pk)
    if clash.exists():
        raise ThemeError(
            _("The theme “%(name)s” already exists: merge into it instead.") % {"name": name}
        )
    return name


def create_theme(name: str, *, by: Person | None) -> Theme:
    with transaction.atomic():
        theme = Theme.objects.create(name=_check_theme_name(name))
        activity.log("theme.created", by=by, target=theme, name=theme.name)
    return theme


def rename_theme(theme: Theme, name: str, *, by: Person | None) -> Theme:
    with transaction.atomic():
        previous = theme.name
        theme.name = _check_theme_name(name, other_than=theme)
        theme.save(update_fields=["name"])
        activity.log("theme.renamed", by=by, target=theme, **{"from": previous, "to": theme.name})
    return theme


def merge_themes(theme: Theme, into: Theme, *, by: Person | None) -> Theme:
    """Two spellings of one theme become one: its coalitions move, the theme goes."""
    if theme.pk == into.pk:
        raise ThemeError(_("A theme cannot be merged into itself."))
    with transaction.atomic():
        Coalition.objects.filter(theme=theme).update(theme=into)
        activity.log("theme.merged", by=by, target=into, **{"from": theme.name, "to": into.name})
        theme.delete()
    return into


def save_ring(ring: Ring, *, by: Person | None) -> Ring:
    """Save a ring's rules (new or changed, as a form left them on the instance)."""
    created = ring.pk is None
    with transaction.atomic():
        ring.save()
        activity.log(
            "ring.created" if created else "ring.changed",
            by=by,
            target=ring,
            scope=ring.coalition,
            ring=ring.name,
        )
    return ring


def add_input(coalition: Coalition, *, by: Person, kind: str, title: str, body: str) -> Input:
    with transaction.atomic():
        item = Input.objects.create(
            coalition=coalition, author=by, kind=kind, title=title, body=body
        )
        activity.log("input.added", by=by, target=item, scope=coalition, title=title)
        context = {
            "coalition": coalition.name,
            "author": by.full_name,
            "item": item,
            "url": _coalition_url(coalition) + "#inbreng",
        }
        notify.queue_many(
            "input_new",
            [
                notify.Message(lead, f"coalitions.input:{item.pk}", context)
                for lead in coalition.leads.select_related("user").exclude(pk=by.pk)
            ],
        )
    return item


def answer_input(item: Input, *, by: Person, status: str, reply: str) -> Input:
    with transaction.atomic():
        item.status = status
        item.reply = reply
        item.replied_by = by
        item.replied_at = timezone.now()
        item.save(update_fields=["status", "reply", "replied_by", "replied_at"])
        activity.log(
            "input.answered",
            by=by,
            target=item,
            person=item.author,
            scope=item.coalition,
            title=item.title,
            status=status,
        )
        if item.author_id and item.author_id != by.pk:
            notify.queue(
                "input_answered",
                item.author,
                f"coalitions.input:{item.pk}:{item.replied_at:%Y%m%d%H%M%S%f}",
                {
                    "coalition": item.coalition.name,
                    "by": by.full_name,
                    "item": item,
                    "status": item.get_status_display().lower(),
                    "url": _coalition_url(item.coalition) + "#inbreng",
                },
            )
    return item


def add_output(output: Output, *, by: Person) -> Output:
    """Add an output (as the form left it on the instance: its file is checked there). The row
    and its file are saved together or not at all (uploads.FileNotStored: the disk refused)."""
    with uploads.stored_with_row(output.file):
        output.created_by = by
        output.save()
        activity.log(
            "output.added", by=by, target=output, scope=output.coalition, title=output.title
        )
    return output


# The yearly cycle: theme rounds, proposals, recruitment, launch, evaluation ---------------------


class CycleError(Exception):
    """A rule of the yearly cycle said no; the message is for the person."""


class LaunchError(CycleError):
    """One or more coalitions fail the launch rule: nothing is launched."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


def _check_round_open(theme_round: ThemeRound) -> None:
    now = timezone.now()
    if theme_round.is_upcoming(now):
        raise CycleError(_("This theme round has not opened yet."))
    if theme_round.is_closed(now):
        raise CycleError(_("This theme round is closed: proposals and support no longer change."))


def open_round(*, by: Person | None, **fields) -> ThemeRound:
    """The bureau sets up a theme round with the moments it opens and closes."""
    with transaction.atomic():
        theme_round = ThemeRound.objects.create(created_by=by, **fields)
        activity.log(
            "round.opened",
            by=by,
            target=theme_round,
            scope=theme_round,
            year=theme_round.school_year,
        )
    return theme_round


def change_round(theme_round: ThemeRound, *, by: Person | None, **fields) -> ThemeRound:
    with transaction.atomic():
        for name, value in fields.items():
            setattr(theme_round, name, value)
        theme_round.save(update_fields=list(fields))
        activity.log(
            "round.changed",
            by=by,
            target=theme_round,
            scope=theme_round,
            year=theme_round.school_year,
        )
    return theme_round


def close_round(theme_round: ThemeRound, *, by: Person | None) -> ThemeRound:
    """Close now (before its closing moment): the votes are counted as they stand."""
    with transaction.atomic():
        theme_round = ThemeRound.objects.select_for_update().get(pk=theme_round.pk)
        now = timezone.now()
        if theme_round.is_closed(now):
            raise CycleError(_("This theme round is already closed."))
        theme_round.closes_at = now
        if theme_round.opens_at >= now:
            theme_round.opens_at = now - dt.timedelta(seconds=1)
        theme_round.save(update_fields=["opens_at", "closes_at"])
        activity.log(
            "round.closed",
            by=by,
            target=theme_round,
            scope=theme_round,
            year=theme_round.school_year,
        )
    return theme_round


def propose(
    theme_round: ThemeRound,
    *,
    by: Person,
    title: str,
    question: str,
    why_now: str,
    desired_output: str,
) -> Proposal:
    """A member or ambassador brings in a theme while the round is open."""
    with transaction.atomic():
        theme_round = ThemeRound.objects.select_for_update().get(pk=theme_round.pk)
        _check_round_open(theme_round)
        proposal = Proposal.objects.create(
            round=theme_round,
            title=title,
            question=question,
            why_now=why_now,
            desired_output=desired_output,
            proposed_by=by,
            institution_id=by.institution_id,
        )
        activity.log("proposal.added", by=by, target=proposal, scope=theme_round, title=title)
    return proposal


def support(proposal: Proposal, *, person: Person) -> Support:
    """One vote for a proposal: once per proposal, at most the round's number per person, only
    while the round is open. The person's row is locked while their votes are counted, so two
    clicks at once cannot pass the limit together."""
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        proposal = Proposal.objects.select_related("round").get(pk=proposal.pk)
        theme_round = proposal.round
        _check_round_open(theme_round)
        if not proposal.is_open:
            raise CycleError(_("This proposal has been decided on."))
        mine = Support.objects.filter(person=person, proposal__round=theme_round)
        if mine.filter(proposal=proposal).exists():
            raise CycleError(_("You already support this proposal."))
        used = mine.count()
        if used >= theme_round.votes_per_person:
            raise CycleError(
                _(
                    "You have used your %(votes)s votes in this round. Withdraw one to support this proposal."
                )
                % {"votes": theme_round.votes_per_person}
            )
        try:
            with transaction.atomic():
                vote = Support.objects.create(proposal=proposal, person=person)
        except IntegrityError as exc:
            raise CycleError(_("You already support this proposal.")) from exc
        activity.log(
            "proposal.supported",
            by=person,
            target=proposal,
            scope=theme_round,
            title=proposal.title,
        )
        return vote


def withdraw_support(proposal: Proposal, *, person: Person) -> None:
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        proposal = Proposal.objects.select_related("round").get(pk=proposal.pk)
        _check_round_open(proposal.round)
        if not proposal.is_open:
            raise CycleError(_("This proposal has been decided on."))
        deleted, _rows = Support.objects.filter(proposal=proposal, person=person).delete()
        if not deleted:
            raise CycleError(_("You do not support this proposal."))
        activity.log(
            "proposal.support_withdrawn",
            by=person,
            target=proposal,
            scope=proposal.round,
            title=proposal.title,
        )


def comment_on(proposal: Proposal, *, by: Person, body: str) -> ProposalComment:
    with transaction.atomic():
        proposal = Proposal.objects.select_related("round").get(pk=proposal.pk)
        _check_round_open(proposal.round)
        comment = ProposalComment.objects.create(proposal=proposal, author=by, body=body)
        activity.log(
            "proposal.commented", by=by, target=proposal, scope=proposal.round, title=proposal.title
        )
        return comment


def _locked_open_proposal(proposal: Proposal) -> Proposal:
    proposal = (
        Proposal.objects.select_for_update(of=("self",))
        .select_related("round", "proposed_by__user")
        .get(pk=proposal.pk)
    )
    if not proposal.is_decidable():
        raise CycleError(
            _("This proposal has been decided on.")
            if not proposal.is_open
            else _("Decide on proposals once the round is closed and the votes counted.")
        )
    return proposal


def adopt_proposal(proposal: Proposal, *, by: Person | None, leads=(), **fields) -> Coalition:
    """The bureau turns a chosen theme into a coalition in "voorbereiding": the question becomes
    its assignment, why now its goal, the output asked for its intended output; the proposer and
    every supporter become interested people, who are told now and invited when recruitment
    opens. One transaction: never a chosen proposal without its coalition."""
    with transaction.atomic():
        proposal = _locked_open_proposal(proposal)
        fields.setdefault("assignment", proposal.question)
        fields.setdefault("goal", proposal.why_now)
        fields.setdefault("intended_output", proposal.desired_output)
        coalition = create_coalition(by=by, leads=leads, **fields)
        now = timezone.now()
        proposal.status = Proposal.Status.CHOSEN
        proposal.coalition = coalition
        proposal.decided_by = by
        proposal.decided_at = now
        proposal.save(update_fields=["status", "coalition", "decided_by", "decided_at"])
        interested = {
            s.person_id: s.person
            for s in proposal.supports.filter(person__erased_at__isnull=True)
            .select_related("person__user")
            .order_by("pk")
        }
        if proposal.proposed_by_id and proposal.proposed_by.erased_at is None:
            interested.setdefault(proposal.proposed_by_id, proposal.proposed_by)
        Interest.objects.bulk_create(
            [Interest(coalition=coalition, person=person) for person in interested.values()],
            ignore_conflicts=True,
        )
        activity.log(
            "proposal.chosen", by=by, target=proposal, scope=coalition, title=proposal.title
        )
        _tell_about_decision(proposal, list(interested.values()))
    return coalition


def decline_proposal(proposal: Proposal, *, by: Person | None, reason: str) -> Proposal:
    """Not chosen, with a reason the proposer and supporters read on the proposal."""
    reason = reason.strip()
    if not reason:
        raise CycleError(_("Give the reason: the proposer reads it."))
    with transaction.atomic():
        proposal = _locked_open_proposal(proposal)
        proposal.status = Proposal.Status.DECLINED
        proposal.decision_reason = reason
        proposal.decided_by = by
        proposal.decided_at = timezone.now()
        proposal.save(update_fields=["status", "decision_reason", "decided_by", "decided_at"])
        activity.log(
            "proposal.declined",
            by=by,
            target=proposal,
            scope=proposal.round,
            title=proposal.title,
        )
        people = [s.person for s in proposal.supports.select_related("person__user")]
        if proposal.proposed_by:
            people.append(proposal.proposed_by)
        _tell_about_decision(proposal, people)
    return proposal


def _tell_about_decision(proposal: Proposal, people: list[Person]) -> None:
    url = settings.SITE_URL + reverse("coalitions:proposal", args=[proposal.pk])
    notify.queue_many(
        "proposal_decided",
        [
            notify.Message(
                person,
                f"coalitions.proposal:{proposal.pk}:decided",
                {
                    "title": proposal.title,
                    "chosen": proposal.is_chosen,
                    "coalition": proposal.coalition.name if proposal.coalition else "",
                    "reason": proposal.decision_reason,
                    "proposer": person.pk == proposal.proposed_by_id,
                    "url": url,
                },
            )
            for person in people
        ],
    )


def _tell_the_interested(coalition: Coalition) -> None:
    """Recruitment opens: everyone interested (the supporters of its theme) is invited."""
    url = settings.SITE_URL + reverse("coalitions:recruitment")
    notify.queue_many(
        "recruitment_opened",
        [
            notify.Message(
                interest.person,
                f"coalitions.coalition:{coalition.pk}:recruitment",
                {"coalition": coalition.name, "url": url},
            )
            for interest in coalition.interested.select_related("person__user")
        ],
    )


def choose_candidates(coalition: Coalition, chosen: set[int], *, by: Person | None) -> int:
    """The leads (or the bureau) choose the Kern among the candidates while recruiting: the
    choice is kept on the requests, and placed at the launch. Returns how many are chosen."""
    with transaction.atomic():
        coalition = Coalition.objects.select_for_update().get(pk=coalition.pk)
        if not coalition.is_recruiting:
            raise CycleError(_("Candidates are chosen while the coalition is recruiting."))
        core = coalition.rings.core().first()
        if core is None:
            raise CycleError(_("%(name)s has no Kern.") % {"name": coalition.name})
        candidates = RingMembership.objects.filter(
            ring=core, status=RingMembership.Status.REQUESTED
        )
        candidates.filter(pk__in=chosen).update(chosen=True)
        candidates.exclude(pk__in=chosen).update(chosen=False)
        count = candidates.filter(chosen=True).count()
        activity.log(
            "coalition.candidates_chosen",
            by=by,
            target=coalition,
            scope=coalition,
            count=count,
            ring=core.name,
        )
    return count


def launch_problems(coalition: Coalition) -> list[str]:
    """The launch rule, for one coalition: recruiting, at least one lead, and a Kern (its
    members and the candidates chosen) within its minimum and capacity. The launch page shows
    these before anyone presses the button."""
    problems = []
    name = coalition.name
    if not coalition.is_recruiting:
        problems.append(_("%(name)s is not recruiting.") % {"name": name})
    if not coalition.lead_ids():
        problems.append(_("%(name)s has no lead yet.") % {"name": name})
    core = next((ring for ring in coalition.rings.all() if ring.is_core), None)
    if core is None:
        problems.append(_("%(name)s has no Kern.") % {"name": name})
        return problems
    # The Kern at the launch: its members now and the candidates chosen (Ring.room_left).
    chosen = sum(1 for m in core.memberships.all() if m.is_requested and m.chosen)
    kern = core.member_count + chosen
    if core.minimum_size and kern < core.minimum_size:
        problems.append(
            _(
                "%(name)s: the %(ring)s has %(count)s of at least %(minimum)s (choose more candidates or lower its minimum)."
            )
            % {"name": name, "ring": core.name, "count": kern, "minimum": core.minimum_size}
        )
    room = core.room_left()
    if room is not None and chosen > room:
        problems.append(
            _("%(name)s: %(count)s chosen for a %(ring)s of %(capacity)s places.")
            % {"name": name, "ring": core.name, "count": kern, "capacity": core.capacity}
        )
    return problems


def launchable() -> models.QuerySet:
    """The coalitions as launch_problems reads them (a fixed number of queries)."""
    return Coalition.objects.prefetch_related(
        "leads",
        models.Prefetch(
            "rings",
            queryset=Ring.objects.with_counts().prefetch_related(
                models.Prefetch("memberships", queryset=RingMembership.objects.open())
            ),
        ),
    )


def launch(coalitions, *, by: Person | None) -> list[Coalition]:
    """All chosen coalitions become active at once, or none: each is checked against the
    launch rule under its lock (and its Kern's requests under theirs); then the chosen
    candidates take their place in the Kern, the others are placed in the next ring out (or
    told there was no place), and everyone in a ring hears where they were placed. A rule that
    says no half-way (a ring filled meanwhile) undoes the whole launch."""
    ids = sorted({c.pk for c in coalitions})
    if not ids:
        raise LaunchError([_("Choose at least one coalition to launch.")])
    with transaction.atomic():
        list(Coalition.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        # The requests cannot be withdrawn or answered while they are counted and placed.
        list(
            RingMembership.objects.select_for_update()
            .filter(coalition__in=ids, status=RingMembership.Status.REQUESTED)
            .order_by("pk")
        )
        locked = list(launchable().filter(pk__in=ids).order_by(dutch("name")))
        problems = [problem for c in locked for problem in launch_problems(c)]
        if problems:
            raise LaunchError(problems)
        try:
            for coalition in locked:
                _launch_one(coalition, by=by)
        except MembershipError as error:
            raise LaunchError([str(error)]) from error
    return locked


def _launch_one(coalition: Coalition, *, by: Person | None) -> None:
    rings = sorted(coalition.rings.all(), key=lambda r: r.order)
    core = next(ring for ring in rings if ring.is_core)  # launch_problems made sure of it
    outer = next((ring for ring in rings if ring.order > core.order), None)
    if outer is not None:
        outer = _locked_ring(outer)
        room = outer.room_left()  # the locked row, not annotated: counts now
    for candidate in [m for m in core.memberships.all() if m.is_requested]:
        if candidate.chosen:
            _activate(
                candidate,
                by=by,
                expected=RingMembership.Status.REQUESTED,
                verb="membership.accepted",
            )
            continue
        # Not chosen for the Kern: the next ring out, where they still take part (if it has
        # room), else their request ends and they are told.
        placed = outer is not None and (room is None or room > 0)
        _end(
            candidate,
            by=by,
            reason=RingMembership.EndReason.MOVED if placed else RingMembership.EndReason.DECLINED,
            expected=[RingMembership.Status.REQUESTED],
            verb="membership.declined",
        )
        if placed:
            membership = _create(
                candidate.person, outer, status=RingMembership.Status.ACTIVE, by=by
            )
            _log_membership("membership.placed", membership, by=by)
            if room is not None:
                room -= 1
        else:
            _tell(candidate, "membership_decision", by=by, occasion_suffix=":launch")
    coalition.status = Coalition.Status.ACTIVE
    coalition.save(update_fields=["status"])
    activity.log(
        "coalition.status_changed",
        by=by,
        target=coalition,
        scope=coalition,
        **{"from": Coalition.Status.RECRUITING, "to": Coalition.Status.ACTIVE},
    )
    activity.log("coalition.launched", by=by, target=coalition, scope=coalition)
    url = _coalition_url(coalition)
    notify.queue_many(
        "coalition_launched",
        [
            notify.Message(
                m.person,
                f"coalitions.coalition:{coalition.pk}:launched",
                {
                    "coalition": coalition.name,
                    "ring": m.ring.name,
                    "core": m.ring.is_core,
                    "start": notify.day(coalition.start),
                    "url": url,
                },
            )
            for m in RingMembership.objects.active()
            .filter(coalition=coalition)
            .select_related("ring", "person__user")
        ],
    )


def save_evaluation(coalition: Coalition, *, by: Person, **fields) -> Evaluation:
    """The leads and the Kern write (and rewrite) what the coalition learned, in "evaluatie"."""
    if not coalition.may_evaluate(by, _open_membership(by, coalition)):
        raise CycleError(_("The leads and the Kern write the evaluation while it is due."))
    with transaction.atomic():
        evaluation, _created = Evaluation.objects.update_or_create(
            coalition=coalition,
            defaults={**fields, "updated_by": by, "updated_at": timezone.now()},
        )
        activity.log("evaluation.saved", by=by, target=evaluation, scope=coalition)
    return evaluation
