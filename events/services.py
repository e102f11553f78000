"""Sign-up, cancelling with the waiting list, the programme, attendance: one door for each.

Places are scarce: every change that can take or free a place locks the session row first and
then the rows of the parts involved (always in that order, parts by id), counts, and only then
writes. So a hundred people pressing "Aanmelden" at once never overfill a session or a part, and a
cancellation promotes the first person on the waiting list in the same transaction.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, Exists, F, Func, OuterRef, Q, Subquery, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override

from coalitions.models import Coalition, Output, Ring, RingMembership, school_year_of
from members import activity, notify, retention
from members import services as member_services
from members.models import Person

from .models import (
    PartChoice,
    Presentation,
    Registration,
    Session,
    SessionPart,
    ring_invitations,
)

activity.register_verbs(
    {
        "session.created": gettext_lazy("created the session"),
        "session.changed": gettext_lazy("changed the session (%(fields)s)"),
        "session.published": gettext_lazy("published the session"),
        "session.cancelled": gettext_lazy("cancelled the session"),
        "session.coalitions_added": gettext_lazy("added the coalitions %(coalitions)s"),
        "part.created": gettext_lazy("added the part “%(part)s”"),
        "part.changed": gettext_lazy("changed the part “%(part)s” (%(fields)s)"),
        "registration.signed_up": gettext_lazy("signed up"),
        "registration.signed_up_by": gettext_lazy("signed up on their behalf"),
        "registration.waitlisted": gettext_lazy("signed up, on the waiting list"),
        "registration.cancelled": gettext_lazy("cancelled the registration"),
        "registration.promoted": gettext_lazy("moved up from the waiting list"),
        "registration.present": gettext_lazy("marked present"),
        "registration.absent": gettext_lazy("marked absent"),
        "registration.walk_in": gettext_lazy("checked in at the door"),
        "session.presentations_chosen": gettext_lazy("chose the outputs presented (%(count)s)"),
    }
)

# Changes to these fields change what people signed up for: they are told at once.
CHANGES_PEOPLE_ARE_TOLD_OF = ("start", "end", "address", "room", "online_link", "form")
PART_CHANGES_PEOPLE_ARE_TOLD_OF = ("start", "end", "room")


class RegistrationError(Exception):
    """A rule said no; the message is for the person (Dutch through gettext)."""


def _log_registration(verb: str, registration: Registration, *, by: Person | None) -> None:
    activity.log(
        verb,
        by=by,
        target=registration,
        person=registration.person,
        scope=registration.session,
    )


# Who is invited ----------------------------------------------------------------------------------


def invited_parts(session: Session, person: Person | None) -> list[SessionPart]:
    """The parts of the programme this person may choose (SessionPart.objects.open_to)."""
    if not session.has_parts:  # most sessions: no programme to choose from
        return []
    return list(session.parts.open_to(person))


def time_slots(parts) -> list[list[SessionPart]]:
    """Group parts that overlap in time: a person picks one part per slot."""
    slots: list[list[SessionPart]] = []
    slot_end = None
    for part in sorted(parts, key=lambda p: (p.start, p.pk)):
        if slots and slot_end is not None and part.start < slot_end:
            slots[-1].append(part)
            slot_end = max(slot_end, part.end)
        else:
            slots.append([part])
            slot_end = part.end
    return slots


def default_parts(session: Session, person: Person) -> list[SessionPart]:
    """What the sign-up form ticks for this person: each invited part alone in its time slot,
    so a place booked on someone's behalf counts in the parts as their own sign-up would."""
    return [slot[0] for slot in time_slots(invited_parts(session, person)) if len(slot) == 1]


def _check_choices(
    session: Session, person: Person, parts: list[SessionPart], *, on_behalf: bool
) -> None:
    allowed = {p.pk for p in invited_parts(session, person)} if parts else set()
    for part in parts:
        if part.session_id != session.pk:
            raise RegistrationError(_("That part belongs to another session."))
        if part.pk not in allowed and not on_behalf:
            raise RegistrationError(_("You are not invited to %(part)s.") % {"part": part.title})
    for i, first in enumerate(parts):
        for second in parts[i + 1 :]:
            if first.overlaps(second):
                raise RegistrationError(
                    _("%(a)s and %(b)s run at the same time: choose one.")
                    % {"a": first.title, "b": second.title}
                )


def check_open_for_signup(session: Session, *, on_behalf: bool = False) -> None:
    if session.is_cancelled:
        raise RegistrationError(_("This session has been cancelled."))
    if not session.is_published:
        raise RegistrationError(_("This session is not open for sign-up yet."))
    if session.is_past:
        raise RegistrationError(_("This session has already taken place."))
    if session.deadline_passed and not on_behalf:
        raise RegistrationError(
            _("Signing up for this session closed on %(date)s.")
            % {"date": timezone.localtime(session.signup_deadline).strftime("%d-%m-%Y %H.%M")}
        )


# Sign up and cancel ------------------------------------------------------------------------------


def _lock_session(session: Session) -> Session:
    """Every change of a session, its programme or its registrations locks the session first
    (its version moves when the change is logged, kwaliteitsnetwerk.caching): one order of
    locks, so two changes never wait on each other in a circle."""
    return Session.objects.select_for_update().get(pk=session.pk)


def _lock_parts(part_ids) -> dict[int, SessionPart]:
    part_ids = sorted(set(part_ids))
    if not part_ids:
        return {}  # most sign-ups choose no part: no query to build
    return {
        p.pk: p
        for p in SessionPart.objects.select_for_update().filter(pk__in=part_ids).order_by("pk")
    }


def _session_has_room(session: Session) -> bool:
    return not session.is_full  # a locked row, not annotated: counts now


def _part_has_room(part: SessionPart) -> bool:
    return not part.is_full


def register(
    person: Person, session: Session, *, parts=(), remarks: str = "", by: Person | None = None
) -> Registration:
    """Sign a person up. Confirmed while there is room, otherwise on the waiting list (for the
    session, or for a full part). `by` is set when a lead or the bureau signs someone up."""
    on_behalf = by is not None and by.pk != person.pk
    parts = list(parts)
    check_open_for_signup(session, on_behalf=on_behalf)
    if not on_behalf and not session.invites(person):
        raise RegistrationError(_("You are not invited to this session."))
    _check_choices(session, person, parts, on_behalf=on_behalf)
    with transaction.atomic():
        session = _lock_session(session)
        locked_parts = _lock_parts(p.pk for p in parts)
        # Already signed up: the insert below meets the partial unique constraint (one query
        # less under the session's lock than asking first).
        status = (
            Registration.Status.CONFIRMED
            if _session_has_room(session)
            else Registration.Status.WAITLISTED
        )
        now = timezone.now()
        try:
            with transaction.atomic():
                registration = Registration.objects.create(
                    person=person,
                    session=session,
                    status=status,
                    remarks=remarks,
                    queued_at=now,
                    registered_by=by if on_behalf else None,
                )
        except IntegrityError as exc:
            raise RegistrationError(
                _("%(name)s is already signed up for this session.") % {"name": person.full_name}
            ) from exc
        for part in locked_parts.values():
            confirmed = status == Registration.Status.CONFIRMED and _part_has_room(part)
            PartChoice.objects.create(
                registration=registration,
                part=part,
                queued_at=now,
                status=Registration.Status.CONFIRMED
                if confirmed
                else Registration.Status.WAITLISTED,
            )
        if on_behalf:
            verb = "registration.signed_up_by"
        elif registration.is_confirmed:
            verb = "registration.signed_up"
        else:
            verb = "registration.waitlisted"
        _log_registration(verb, registration, by=by or person)
        # The confirmation is an outbox row in this transaction (it commits with the place, or
        # neither does), written unrendered: only the count and the inserts hold the session's
        # lock; the sender writes its text and calendar file just before it goes out.
        notify.queue_unwritten("registration", person, f"events.registration:{registration.pk}")
    return registration


def cancel(registration: Registration, *, by: Person | None) -> list[Registration]:
    """Cancel (Afmelden). Frees the place and promotes the first on the waiting list, in the
    same transaction; the people promoted are told. Returns the promoted registrations."""
    with transaction.atomic():
        session = _lock_session(registration.session)
        registration = Registration.objects.select_for_update().get(pk=registration.pk)
        if registration.is_cancelled:
            raise RegistrationError(_("This registration was already cancelled."))
        choices = list(registration.choices.all())
        parts = _lock_parts(c.part_id for c in choices)
        was_confirmed = registration.is_confirmed
        registration.status = Registration.Status.CANCELLED
        registration.cancelled_at = timezone.now()
        registration.save(update_fields=["status", "cancelled_at"])
        registration.choices.update(status=Registration.Status.CANCELLED)
        _log_registration("registration.cancelled", registration, by=by)
        promoted = _promote(session, parts) if was_confirmed or parts else []
    return promoted


def _promote(session: Session, freed_parts: dict[int, SessionPart]) -> list[Registration]:
    """Fill free places from the waiting lists, first come first served. Caller holds the locks."""
    promoted: list[Registration] = []
    while _session_has_room(session):
        first = session.registrations.waitlisted().select_for_update().first()
        if first is None:
            break
        first.status = Registration.Status.CONFIRMED
        first.promoted_at = timezone.now()
        first.save(update_fields=["status", "promoted_at"])
        promoted.append(first)
        more = _lock_parts(first.choices.values_list("part_id", flat=True))
        for part_id, part in more.items():
            freed_parts.setdefault(part_id, part)
    for part in freed_parts.values():
        while _part_has_room(part):
            choice = (
                part.choices.filter(
                    status=Registration.Status.WAITLISTED,
                    registration__status=Registration.Status.CONFIRMED,
                )
                .select_for_update()
                .order_by("queued_at", "pk")
                .first()
            )
            if choice is None:
                break
            choice.status = Registration.Status.CONFIRMED
            choice.save(update_fields=["status"])
            if choice.registration not in promoted:
                promoted.append(choice.registration)
    for registration in promoted:
        _log_registration("registration.promoted", registration, by=None)
        _queue_promotion(registration, session)
    return promoted


def waitlist_position(registration: Registration) -> int | None:
    if registration.status != Registration.Status.WAITLISTED:
        return None
    ahead = (
        Registration.objects.filter(session_id=registration.session_id)
        .waitlisted()
        .filter(
            Q(queued_at__lt=registration.queued_at)
            | Q(queued_at=registration.queued_at, pk__lt=registration.pk)
        )
        .count()
    )
    return ahead + 1


# Notifications -----------------------------------------------------------------------------------


notify.register_kinds(
    notify.Kind(
        "registration",
        gettext_lazy("Confirmation of your sign-up"),
        template="events/email/registration",
        mandatory=True,
        compose=lambda row: _compose_confirmation(row),
    ),
    notify.Kind(
        "promotion",
        gettext_lazy("A place from the waiting list"),
        template="events/email/promotion",
        mandatory=True,
    ),
    notify.Kind(
        "session_changed",
        gettext_lazy("A session you signed up for changes"),
        template="events/email/session_changed",
        mandatory=True,
    ),
    notify.Kind(
        "session_cancelled",
        gettext_lazy("A session you signed up for is cancelled"),
        template="events/email/session_cancelled",
        mandatory=True,
    ),
    notify.Kind(
        "session_invitation",
        gettext_lazy("Invitations to sessions"),
        gettext_lazy("When a session you are invited to is published."),
        template="events/email/session_invitation",
    ),
    notify.Kind(
        "session_deadline",
        gettext_lazy("Sign-up closes soon"),
        gettext_lazy("A few days before the deadline of a session you have not answered."),
        template="events/email/session_deadline",
    ),
    notify.Kind(
        "session_reminder",
        gettext_lazy("Reminders before a session"),
        gettext_lazy("Before a session you signed up for, with the programme and the place."),
        template="events/email/session_reminder",
    ),
)


def session_url(session: Session) -> str:
    return settings.SITE_URL + reverse("events:detail", args=[session.pk])


def place_of(session: Session) -> str:
    return ", ".join(
        part
        for part in (
            session.host_institution.name if session.host_institution_id else "",
            session.address,
            session.room,
        )
        if part
    )


def mail_context(session: Session, registration: Registration | None = None) -> dict:
    """What every message about a session says (in the active language): when, where, the
    link, and the programme with the parts this registration chose. Uses `session.parts` and
    `registration.choices` as prefetched by the caller."""
    choices = registration.choices.all() if registration is not None else []
    chosen = {choice.part_id for choice in choices if choice.is_confirmed}
    waiting = {choice.part_id for choice in choices if choice.is_waitlisted}
    programme = [
        {
            "title": part.title,
            "room": part.room,
            "when": notify.times(part.start, part.end),
            "chosen": part.pk in chosen,
            "waiting": part.pk in waiting,
        }
        for part in session.parts.all()
    ]
    return {
        "session": session,
        "when": notify.when(session.start, session.end),
        "place": place_of(session) if session.form != Session.Form.ONLINE else "",
        "online_link": session.online_link if session.form != Session.Form.IN_PERSON else "",
        "url": session_url(session),
        "deadline": notify.when(session.signup_deadline) if session.signup_deadline else "",
        "programme": programme,
        "chosen": [item for item in programme if item["chosen"]],
        "confirmed": registration is not None and registration.is_confirmed,
    }


def _confirmation(registration: Registration) -> notify.Message:
    from .calendar import session_ics

    session, person = registration.session, registration.person
    with override(person.language):
        context = mail_context(session, registration)
    return notify.Message(
        person,
        f"events.registration:{registration.pk}",
        context,
        attachment_name="bijeenkomst.ics" if registration.is_confirmed else "",
        attachment=session_ics(session).decode() if registration.is_confirmed else "",
    )


def _compose_confirmation(row) -> notify.Message | None:
    """Writes the confirmation queued by `register` when it is sent, as things are then: a
    sign-up cancelled before its confirmation went out gets none."""
    registration = (
        Registration.objects.select_related("person__user", "session__host_institution")
        .prefetch_related("choices", "session__parts")
        .filter(pk=int(row.occasion.rsplit(":", 1)[1]))
        .first()
    )
    if registration is None or registration.is_cancelled:
        return None
    return _confirmation(registration)


def _queue_confirmation(registration: Registration) -> None:
    """The confirmation written at once (events.tasks.queue_confirmation, for tasks published
    before confirmations were outbox rows)."""
    message = _confirmation(registration)
    notify.queue(
        "registration",
        message.person,
        message.occasion,
        message.context,
        attachment_name=message.attachment_name,
        attachment=message.attachment,
    )


def _queue_promotion(registration: Registration, session: Session) -> None:
    from .calendar import session_ics

    person = registration.person
    with override(person.language):
        context = mail_context(session, registration)
    notify.queue(
        "promotion",
        person,
        f"events.registration:{registration.pk}:{timezone.now():%Y%m%d%H%M%S%f}",
        context,
        attachment_name="bijeenkomst.ics",
        attachment=session_ics(session, registration).decode(),
    )


# The session and its programme -------------------------------------------------------------------


def touch(session: Session) -> None:
    """A change to the session: calendars must see a higher SEQUENCE."""
    Session.objects.filter(pk=session.pk).update(
        sequence=F("sequence") + 1, updated_at=timezone.now()
    )
    session.refresh_from_db(fields=["sequence", "updated_at"])


def invited_session_ids(person: Person | None, sessions=None) -> frozenset[int]:
    """The sessions (of `sessions`, default all) this person is invited to
    (Session.objects.invited, THE rule)."""
    if person is None:
        return frozenset()
    sessions = Session.objects.all() if sessions is None else sessions
    return frozenset(sessions.invited(person).values_list("pk", flat=True))


def coming_invited_ids(person: Person | None) -> frozenset[int]:
    """The coming published sessions this person is invited to: asked once per page and
    handed to coming_sessions_for (the overview also lists the unanswered ones from it)."""
    return invited_session_ids(person, Session.objects.published().upcoming())


def coming_sessions_for(
    person: Person, *, pks=None, limit: int = 8, invited: frozenset[int] | None = None
) -> list[Session]:
    """The coming published sessions this person is invited to (`invited`, from
    coming_invited_ids, asked here when not given) or signed up for (the overview), each with
    `my_registration` (and its `position` on the waiting list) and `has_choices` (a programme to
    choose from: sign up on the session's page). Three queries."""
    if invited is None:
        invited = coming_invited_ids(person)
    sessions = (
        Session.objects.published()
        .upcoming()
        .filter(
            Q(pk__in=invited)
            | Q(pk__in=Registration.objects.active().filter(person=person).values("session"))
        )
        .annotate(has_choices=Exists(SessionPart.objects.filter(session=OuterRef("pk"))))
        .select_related("host_institution")
    )
    if pks is not None:
        sessions = sessions.filter(pk__in=pks)
    sessions = list(sessions[:limit])
    mine = {
        r.session_id: r
        for r in with_waitlist_positions(
            Registration.objects.active().filter(
                person=person, session__in=[s.pk for s in sessions]
            )
        )
    }
    for session in sessions:
        session.my_registration = mine.get(session.pk)
    return sessions


def with_waitlist_positions(registrations):
    """Annotate `position`: the place on the session's waiting list (as waitlist_position
    counts it), for many registrations in one query; None for a confirmed place."""
    ahead = (
        Registration.objects.filter(
            session=OuterRef("session"), status=Registration.Status.WAITLISTED
        )
        .filter(
            Q(queued_at__lt=OuterRef("queued_at"))
            | Q(queued_at=OuterRef("queued_at"), pk__lt=OuterRef("pk"))
        )
        .order_by()
        .annotate(n=Func(F("pk"), function="COUNT"))
        .values("n")
    )
    return registrations.annotate(
        position=Case(
            When(status=Registration.Status.WAITLISTED, then=Subquery(ahead) + 1),
            default=None,
        )
    )


def still_invited(registrations):
    """The registrations whose person the session still invites (Session.objects.invited), or
    whom an organiser signed up (a guest): who left the ring hears no more about its meetings."""
    invited = Session.objects.filter(pk=OuterRef("session_id")).invited(OuterRef("person_id"))
    return registrations.filter(
        Exists(invited) | (Q(registered_by__isnull=False) & ~Q(registered_by=F("person")))
    )


def people_invited(session: Session | OuterRef, *, with_account: bool = True):
    """Everyone who may sign up, with an account (for the invitation mail on publishing): the
    same rule as Session.objects.invited, asked the other way round. `with_account=False`:
    the invited who have no account yet, so get no mail (what publishing says beside it).
    `session`: a Session, or OuterRef("pk") inside a query of sessions (to count them there,
    as the bureau's signal of invitations with few answers does)."""
    pk = OuterRef(session) if isinstance(session, OuterRef) else session.pk
    return Person.objects.filter(
        Exists(Session.objects.filter(pk=pk).invited(OuterRef("pk"))),
        erased_at__isnull=True,
        user__isnull=not with_account,
    )


def create_session(*, by: Person | None, **fields) -> Session:
    """A new session (a draft until published). A coalition meeting counts its organising
    coalition among the coalitions taking part."""
    with transaction.atomic():
        session = Session.objects.create(created_by=by, **fields)
        if session.organiser_coalition_id:
            session.coalitions.add(session.organiser_coalition_id)
        activity.log("session.created", by=by, target=session, scope=session)
    return session


def change_session(session: Session, *, by: Person | None, **fields) -> list[str]:
    """Change a session's details: the one door, so calendars see a new SEQUENCE, a raised
    capacity first fills places from the waiting list, and a new time or place reaches
    `session_changed` (where the message to the people signed up will be sent: it comes with
    the reminders). Its status changes only through publish and cancel_session. Returns the
    names of the fields that changed."""
    if "status" in fields:
        raise RegistrationError("The status changes through publish() or cancel_session().")
    with transaction.atomic():
        locked = _lock_session(session)
        changed = [name for name, value in fields.items() if getattr(locked, name) != value]
        if not changed:
            return []
        previous_organiser = locked.organiser_coalition_id
        before = activity.values(locked, changed)
        for name in changed:
            setattr(locked, name, fields[name])
            setattr(session, name, fields[name])
        locked.save(update_fields=changed)
        if "organiser_coalition" in changed:
            # The former organiser no longer takes part, unless it has a part of its own here.
            if (
                previous_organiser
                and not locked.parts.filter(coalition_id=previous_organiser).exists()
            ):
                locked.coalitions.remove(previous_organiser)
            if locked.organiser_coalition_id:
                locked.coalitions.add(locked.organiser_coalition_id)
        touch(locked)
        session.sequence, session.updated_at = locked.sequence, locked.updated_at
        if "capacity" in changed:
            # More places: the waiting list goes first, before any newcomer.
            _promote(locked, {})
        activity.log(
            "session.changed",
            by=by,
            target=locked,
            scope=locked,
            changes=activity.changes_between(before, activity.values(locked, changed)),
        )
        told_of = [name for name in changed if name in CHANGES_PEOPLE_ARE_TOLD_OF]
        if told_of:
            session_changed(locked, told_of)
    return changed


def session_changed(session: Session, fields: list[str]) -> None:
    """The time or place of a session changed: everyone signed up or waiting is told at once,
    with the calendar file that updates the event they hold (a higher SEQUENCE)."""
    if session.is_past or session.is_cancelled:
        return  # nothing to tell about what is over
    _tell_signed_up(
        session,
        "session_changed",
        f"events.session:{session.pk}:v{session.sequence}",
        fields=_field_labels(Session, fields),
    )


def part_changed(part: SessionPart, fields: list[str]) -> None:
    """The time or room of a part changed: who chose it (and still holds the choice) is told."""
    session = part.session
    if session.is_past or session.is_cancelled:
        return
    _tell_signed_up(
        session,
        "session_changed",
        f"events.part:{part.pk}:v{session.sequence}",
        fields=_field_labels(SessionPart, fields),
        part=part,
    )


def _tell_signed_up(session: Session, kind: str, occasion: str, *, part=None, **extra) -> int:
    """One message to everyone signed up or waiting (for a part: who chose it), each with the
    calendar file of their own place (a waiting-list place is tentative)."""
    from .calendar import session_ics_cached

    registrations = session.registrations.active().select_related("person__user")
    if kind != "session_cancelled":
        registrations = still_invited(registrations)
    if part is not None:
        registrations = registrations.filter(
            choices__part=part,
            choices__status__in=[Registration.Status.CONFIRMED, Registration.Status.WAITLISTED],
        )
    session = (
        Session.objects.select_related("host_institution")
        .prefetch_related("parts")
        .get(pk=session.pk)
    )
    messages, files = [], {}
    for registration in registrations.prefetch_related("choices"):
        with override(registration.person.language):
            context = mail_context(session, registration) | extra
            if part is not None:
                context |= {"part": part, "part_when": notify.when(part.start, part.end)}
        registration.session = session
        messages.append(
            notify.Message(
                registration.person,
                occasion,
                context,
                attachment_name="bijeenkomst.ics",
                attachment=session_ics_cached(session, registration, files),
            )
        )
    return notify.queue_many(kind, messages)


def save_part(
    part: SessionPart, *, by: Person | None, invited_rings=None, fields=()
) -> SessionPart:
    """Save a programme part as a form left it on the instance (new or changed)."""
    created = part.pk is None
    with transaction.atomic():
        _lock_session(part.session)
        fields = list(fields)
        stored = None if created else SessionPart.objects.filter(pk=part.pk).first()
        values_before = activity.values(stored, fields) if stored else {}
        before = _invited_before(part.session)
        part.save()
        if invited_rings is not None:
            part.invited_rings.set(invited_rings)
        _invite_newcomers(part.session, before)
        touch(part.session)
        if "capacity" in fields and not created:
            _promote(part.session, _lock_parts([part.pk]))
        told_of = [name for name in fields if name in PART_CHANGES_PEOPLE_ARE_TOLD_OF]
        if told_of and not created:
            part_changed(part, told_of)
        activity.log(
            "part.created" if created else "part.changed",
            by=by,
            target=part,
            scope=part.session,
            part=part.title,
            changes=activity.changes_between(values_before, activity.values(part, fields)),
        )
    return part


def _field_labels(model, names: list[str]) -> str:
    return ", ".join(str(model._meta.get_field(name).verbose_name) for name in names)


def invitation_preview(session: Session, person: Person | None) -> tuple[str, str]:
    """The invitation mail on publishing as this person would get it (shown to the bureau
    before it goes out): subject and text."""
    person = person or Person(first_name="…")
    with override(person.language):
        context = mail_context(session)
    subject, text, _html = notify.render("session_invitation", person, context)
    return subject, text


def _invitations(session: Session, people=None) -> list[notify.Message]:
    if people is None:
        people = people_invited(session)
    people = list(people.select_related("user"))
    messages = []
    for person in people:
        with override(person.language):
            messages.append(
                notify.Message(person, f"events.session:{session.pk}", mail_context(session))
            )
    return messages


def _invited_before(session: Session) -> frozenset[int] | None:
    """Who a published, coming session invites now (under its lock), to compare after a change
    of its programme; None when there is nobody to tell (a draft, over, or cancelled)."""
    session = Session.objects.get(pk=session.pk)
    if session.status != Session.Status.PUBLISHED or session.is_past:
        return None
    return frozenset(people_invited(session).values_list("pk", flat=True))


def _invite_newcomers(session: Session, before: frozenset[int] | None) -> int:
    """A published session that now invites more people (a ring added to a part, a coalition
    taking part) sends them the invitation publishing sent the others: the same message, the same
    occasion, so nobody gets it twice."""
    if before is None:
        return 0
    session = Session.objects.get(pk=session.pk)
    newcomers = people_invited(session).exclude(pk__in=before)
    return notify.queue_many("session_invitation", _invitations(session, newcomers))


def publish(session: Session, *, by: Person | None) -> Session:
    with transaction.atomic():
        session = _lock_session(session)
        if session.status != Session.Status.DRAFT:
            raise RegistrationError(_("Only a draft can be published."))
        session.status = Session.Status.PUBLISHED
        session.save(update_fields=["status"])
        touch(session)
        activity.log("session.published", by=by, target=session, scope=session)
        notify.queue_many("session_invitation", _invitations(session))
    return session


def cancel_session(session: Session, *, by: Person | None) -> Session:
    """Cancel the whole session: everyone signed up is told, with a cancelled calendar event."""
    with transaction.atomic():
        session = _lock_session(session)
        if session.is_cancelled:
            raise RegistrationError(_("This session has already been cancelled."))
        session.status = Session.Status.CANCELLED
        session.save(update_fields=["status"])
        touch(session)
        activity.log("session.cancelled", by=by, target=session, scope=session)
        _tell_signed_up(session, "session_cancelled", f"events.session:{session.pk}")
    return session


def add_coalitions(session: Session, coalitions, *, by: Person | None) -> list[SessionPart]:
    """The coalitions taking part: each gets its own work part, for its core ring by default."""
    created = []
    coalitions = list(coalitions)
    with transaction.atomic():
        _lock_session(session)
        before = _invited_before(session)
        for coalition in coalitions:
            session.coalitions.add(coalition)
            part, made = SessionPart.objects.get_or_create(
                session=session,
                coalition=coalition,
                kind=SessionPart.Kind.WORK,
                defaults={
                    "title": _("Working in the coalition %(name)s") % {"name": coalition.name},
                    "start": session.start,
                    "end": session.end,
                },
            )
            if made:
                part.invited_rings.add(*coalition.rings.core())
                created.append(part)
        touch(session)
        if coalitions:
            activity.log(
                "session.coalitions_added",
                by=by,
                target=session,
                scope=session,
                coalitions=", ".join(c.name for c in coalitions),
            )
        _invite_newcomers(session, before)
    return created


# Results at the conference ----------------------------------------------------------------------


def presentable_outputs(session: Session):
    """The outputs a session can show: those the network may read, of the coalitions of its
    school year and the one before (a conference in October shows the year just ended)."""
    year = school_year_of(timezone.localtime(session.start).date())
    first = int(year[:4])
    return (
        Output.objects.for_network()
        .filter(coalition__school_year__in=[year, f"{first - 1}-{first}"])
        .filter(Q(presentation__isnull=True) | Q(presentation__session=session))
        .select_related("coalition")
        .order_by("coalition__name", "title")
    )


def choose_presentations(session: Session, outputs, *, by: Person | None) -> int:
    """The outputs presented at this conference (replacing the earlier choice)."""
    if not session.is_conference:
        raise RegistrationError(_("Outputs are presented at the annual conference."))
    outputs = list(presentable_outputs(session).filter(pk__in=[o.pk for o in outputs]))
    with transaction.atomic():
        session.presentations.exclude(output__in=outputs).delete()
        Presentation.objects.bulk_create(
            [Presentation(session=session, output=o, added_by=by) for o in outputs],
            ignore_conflicts=True,
        )
        activity.log(
            "session.presentations_chosen", by=by, target=session, scope=session, count=len(outputs)
        )
    return len(outputs)


# Attendance --------------------------------------------------------------------------------------


def mark_attendance(
    registration: Registration, *, attended: bool, by: Person | None
) -> Registration:
    with transaction.atomic():
        # The session first, as every change of it (its version moves when the mark is logged):
        # a mark beside a cancellation then never waits on it in a circle.
        _lock_session(registration.session)
        registration.attended = attended
        registration.checked_in_at = timezone.now() if attended else None
        registration.save(update_fields=["attended", "checked_in_at"])
        _log_registration(
            "registration.present" if attended else "registration.absent", registration, by=by
        )
    return registration


def walk_in(session: Session, person: Person, *, by: Person | None) -> Registration:
    """Someone at the door who did not sign up: present, whatever the capacity (they are here)."""
    with transaction.atomic():
        session = _lock_session(session)
        registration = session.registrations.active().filter(person=person).first()
        if registration is None:
            registration = Registration.objects.create(
                person=person,
                session=session,
                status=Registration.Status.CONFIRMED,
                walk_in=True,
                registered_by=by,
            )
            _log_registration("registration.walk_in", registration, by=by)
        elif registration.is_waitlisted:
            registration.status = Registration.Status.CONFIRMED
            registration.save(update_fields=["status"])
        return mark_attendance(registration, attended=True, by=by)


def add_guest(session: Session, *, by: Person | None, **guest) -> Person:
    """Someone at the door who is not in the system: registered as a guest (members.services.
    register_guest) and marked present, in one transaction: never a guest without their place
    at the door. Raises member_services.GuestError."""
    with transaction.atomic():
        person = member_services.register_guest(by=by, **guest)
        walk_in(session, person, by=by)
    return person


def _erase(person: Person, *, by: Person | None) -> None:
    """Erasure, for sessions: places in sessions still to come are given back through `cancel`,
    so the first person waiting moves up (and is told)."""
    for registration in Registration.objects.active().filter(
        person=person, session__end__gte=timezone.now()
    ):
        cancel(registration, by=by)


member_services.register_erasure_step(_erase)


def _last_activity(now):
    """For retention: the end of the latest session someone signed up for (one still to come
    counts as activity until it has taken place)."""
    return Subquery(
        Registration.objects.filter(person=OuterRef("pk"))
        .order_by("-session__end")
        .values("session__end")[:1],
        output_field=DateTimeField(),
    )


retention.register_activity(_last_activity)


# Keeping the ring's agreements -------------------------------------------------------------------


MISSED_IN_A_ROW = 2  # sessions of their ring missed one after the other that ask for a word
PRESENCE_GRACE = dt.timedelta(days=3)  # a session counts once its organisers could record who came
# Up to this many people, commitment asks for their attendance by name; beyond it (the whole
# network, for the bureau's signal and the nudge) it reads the sessions' attendance, which is
# cheaper than a list of thousands of names in the query.
FEW_PEOPLE = 200


@dataclass
class Commitment:
    """How a person keeps their ring's attendance agreement this school year: counted over the
    held sessions that invited their ring since they joined it."""

    invited: int
    attended: int
    expected: int | None
    missed_in_a_row: int
    is_core: bool
    last_invited: int | None = None  # the latest held session that invited their ring

    @property
    def keeps(self) -> bool:
        return self.expected is None or self.attended >= min(self.expected, self.invited)

    @property
    def missed_last_two(self) -> bool:
        """Keeps missing: missed (at least) the last MISSED_IN_A_ROW sessions their ring was
        invited to (the ring board's flag, the bureau's signal)."""
        return self.missed_in_a_row >= MISSED_IN_A_ROW

    @property
    def just_missed_two(self) -> bool:
        """Has just come to MISSED_IN_A_ROW missed in a row: the nudge comes when it happens,
        not again at every further miss."""
        return self.missed_in_a_row == MISSED_IN_A_ROW

    @property
    def core_candidate(self) -> bool:
        """Outside the core, and came to every session (at least two) their ring was invited to."""
        return not self.is_core and self.invited >= 2 and self.attended == self.invited


def held_sessions(*, today: dt.date | None = None, held_before: dt.datetime | None = None):
    """The sessions that count for commitment: held this school year (of `today`), ended
    before `held_before` (default now), neither cancelled nor a draft."""
    today = today or timezone.localdate()
    since = timezone.make_aware(dt.datetime(int(school_year_of(today)[:4]), 9, 1))
    return (
        Session.objects.filter(start__gte=since, end__lt=held_before or timezone.now())
        .exclude(status__in=[Session.Status.CANCELLED, Session.Status.DRAFT])
        .order_by("start")
    )


def commitment(
    memberships,
    *,
    today: dt.date | None = None,
    held_before: dt.datetime | None = None,
    by_membership: bool = False,
    rings: dict | None = None,
) -> dict[int, Commitment]:
    """THE commitment rule, per active membership (keyed by person id — one coalition's
    memberships — or by membership id across coalitions): the ring board shows it, the
    reminders nudge with it, the overviews count it. A session counts once it ended before
    `held_before` (default now). Four queries, whatever the number of people, rings or
    sessions. `rings`: {ring id: Ring} when the memberships come without their ring."""
    memberships = [m for m in memberships if m.is_active]
    if not memberships:
        return {}
    held = held_sessions(today=today, held_before=held_before)
    rings = rings if rings is not None else {m.ring_id: m.ring for m in memberships}
    starts = dict(held.values_list("pk", "start"))
    invitations = ring_invitations(rings.values(), held)
    all_sessions = set().union(*invitations.values())
    attended: dict[int, set[int]] = {}
    people = {m.person_id for m in memberships}
    present = Registration.objects.filter(session_id__in=all_sessions, attended=True)
    if len(people) <= FEW_PEOPLE:  # a coalition's ring board: ask for its people only
        present = present.filter(person_id__in=people)
    for person_id, session_id in present.values_list("person_id", "session_id"):
        if person_id in people:
            attended.setdefault(person_id, set()).add(session_id)
    result = {}
    for m in memberships:
        joined = m.started_at or m.created_at
        invited = sorted(
            (pk for pk in invitations[m.ring_id] if starts[pk] >= joined), key=starts.get
        )
        came = attended.get(m.person_id, set())
        missed = 0
        for pk in reversed(invited):
            if pk in came:
                break
            missed += 1
        result[m.pk if by_membership else m.person_id] = Commitment(
            invited=len(invited),
            attended=len(came & set(invited)),
            expected=rings[m.ring_id].sessions_expected,
            missed_in_a_row=missed,
            is_core=rings[m.ring_id].is_core,
            last_invited=invited[-1] if invited else None,
        )
    return result


def keep_missing(
    now: dt.datetime, *, today: dt.date | None = None
) -> list[tuple[RingMembership, Commitment]]:
    """THE list of who keeps missing what their ring agreed, by the commitment rule: active
    members (not erased) of a ring of an active coalition that expects attendance, who missed
    the last sessions their ring was invited to (Commitment.missed_last_two). A session counts
    once its organisers had PRESENCE_GRACE to record who came. The nudge
    (events.reminders.ring_agreement) tells those who just missed two
    (Commitment.just_missed_two); the bureau's signal lists them all. Seven queries, whatever
    the size of the network; in the memberships' order (ring, last name). The rule is counted
    over light rows (what it reads, nothing more); only the people it lists are loaded whole,
    so the bureau's start page stays light however many take part."""
    memberships = list(
        RingMembership.objects.active()
        .filter(
            coalition__status=Coalition.Status.ACTIVE,
            ring__sessions_expected__gt=0,
            person__erased_at__isnull=True,
        )
        .only("pk", "person_id", "ring_id", "status", "started_at", "created_at")
        .order_by()  # sorted below, only the ones listed
    )
    kept = commitment(
        memberships,
        today=today or timezone.localdate(now),
        held_before=now - PRESENCE_GRACE,
        by_membership=True,
        rings=Ring.objects.in_bulk({m.ring_id for m in memberships}),
    )
    listed = [m.pk for m in memberships if m.pk in kept and kept[m.pk].missed_last_two]
    whole = RingMembership.objects.select_related("ring", "coalition", "person__user").in_bulk(
        listed
    )
    return sorted(
        ((whole[pk], kept[pk]) for pk in listed),
        key=lambda row: (row[0].ring.order, row[0].person.last_name, row[0].pk),
    )
