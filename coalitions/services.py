"""Workflows of coalitions and their rings: one door for every change of a membership.

Capacity is scarce: every change that can fill a ring locks the ring row first
(`select_for_update`), counts its active members, and only then writes, so concurrent requests
never overfill it. The partial unique constraint on RingMembership backs up "one open membership
per person per coalition" in the database.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, Exists, OuterRef, Q, Subquery, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members import activity, notify, retention
from members import services as member_services
from members.models import Action, Person

from .models import Coalition, Input, Output, Ring, RingMembership, Theme

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
        "membership_request",
        gettext_lazy("Requests to join your coalition (for leads)"),
        template="coalitions/email/membership_request",
        names_others=True,
    ),
    notify.Kind(
        "input_new",
        gettext_lazy("New input in your coalition (for leads)"),
        template="coalitions/email/input_new",
        names_others=True,
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
    ),
    notify.Kind(
        "ring_below_minimum",
        gettext_lazy("A ring below its minimum (for leads and the bureau)"),
        template="coalitions/email/ring_below_minimum",
    ),
    notify.Kind(
        "ring_agreement",
        gettext_lazy("When you missed what your ring agreed"),
        gettext_lazy("After the last two sessions of your ring passed without you."),
        template="coalitions/email/ring_agreement",
    ),
    notify.Kind(
        "ring_agreement_summary",
        gettext_lazy("Who keeps missing what their ring agreed (for leads)"),
        template="coalitions/email/ring_agreement_summary",
        names_others=True,
    ),
)


class MembershipError(Exception):
    """A ring rule said no; the message is for the person (Dutch through gettext)."""


class RingFull(MembershipError):
    pass


class TransitionError(Exception):
    pass


def _locked_ring(ring: Ring) -> Ring:
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


def _locked_membership(membership: RingMembership) -> RingMembership:
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


def accept_request(membership: RingMembership, *, by: Person, message: str = "") -> RingMembership:
    """A lead accepts a request: to join a ring, or (from an active member) to move to one."""
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
        },
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
        if status == Coalition.Status.ACTIVE and not coalition.leads.exists():
            raise TransitionError(
                _("A coalition needs at least one lead before it becomes active.")
            )
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
            labels = ", ".join(str(Coalition._meta.get_field(n).verbose_name) for n in changed)
            activity.log(
                "coalition.changed", by=by, target=coalition, scope=coalition, fields=labels
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
    """Add an output (as the form left it on the instance: its file is checked there)."""
    with transaction.atomic():
        output.created_by = by
        output.save()
        activity.log(
            "output.added", by=by, target=output, scope=output.coalition, title=output.title
        )
    return output
