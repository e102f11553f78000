"""Sign-up, cancelling with the waiting list, the programme, attendance: one door for each.

Places are scarce: every change that can take or free a place locks the session row first and
then the rows of the parts involved (always in that order, parts by id), counts, and only then
writes. So a hundred people pressing "Aanmelden" at once never overfill a session or a part, and a
cancellation promotes the first person on the waiting list in the same transaction.
"""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from coalitions.models import Coalition, Ring, RingMembership
from members import notify
from members.models import Person

from .models import PartChoice, Registration, Session, SessionPart


class RegistrationError(Exception):
    """A rule said no; the message is for the person (Dutch through gettext)."""


# Who is invited ----------------------------------------------------------------------------------


def invited_parts(session: Session, person: Person, parts=None) -> list[SessionPart]:
    """The parts of the programme this person may choose.

    Plenary and exchange parts of a network session are for everyone; a coalition's own part is
    for the rings invited to it this time (and the coalition's leads)."""
    parts = list(parts if parts is not None else session.parts.prefetch_related("invited_rings"))
    rings = set(
        RingMembership.objects.active().filter(person=person).values_list("ring_id", flat=True)
    )
    led = set(Coalition.objects.filter(leads=person).values_list("pk", flat=True))
    allowed = []
    for part in parts:
        if (
            part.kind in SessionPart.OPEN_KINDS
            and session.kind in Session.NETWORK_KINDS
            or part.coalition_id in led
            or rings & {ring.pk for ring in part.invited_rings.all()}
        ):
            allowed.append(part)
    return allowed


def is_invited(session: Session, person: Person, parts=None) -> bool:
    parts = list(parts if parts is not None else session.parts.prefetch_related("invited_rings"))
    if not parts:
        if session.kind == Session.Kind.COALITION:
            return session.organiser_coalition_id is not None and (
                RingMembership.objects.active()
                .filter(person=person, coalition_id=session.organiser_coalition_id)
                .exists()
                or session.organiser_coalition.leads.filter(pk=person.pk).exists()
            )
        return True
    return bool(invited_parts(session, person, parts))


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


def _check_choices(
    session: Session, person: Person, parts: list[SessionPart], *, on_behalf: bool
) -> None:
    allowed = {p.pk for p in invited_parts(session, person)}
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
    if session.status == Session.Status.CANCELLED:
        raise RegistrationError(_("This session has been cancelled."))
    if session.status != Session.Status.PUBLISHED:
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
    return Session.objects.select_for_update().get(pk=session.pk)


def _lock_parts(part_ids) -> dict[int, SessionPart]:
    return {
        p.pk: p
        for p in SessionPart.objects.select_for_update()
        .filter(pk__in=sorted(set(part_ids)))
        .order_by("pk")
    }


def _session_has_room(session: Session) -> bool:
    return session.capacity is None or session.registrations.confirmed().count() < session.capacity


def _part_has_room(part: SessionPart) -> bool:
    return (
        part.capacity is None
        or part.choices.filter(status=Registration.Status.CONFIRMED).count() < part.capacity
    )


def register(
    person: Person, session: Session, *, parts=(), remarks: str = "", by: Person | None = None
) -> Registration:
    """Sign a person up. Confirmed while there is room, otherwise on the waiting list (for the
    session, or for a full part). `by` is set when a lead or the bureau signs someone up."""
    on_behalf = by is not None and by.pk != person.pk
    parts = list(parts)
    check_open_for_signup(session, on_behalf=on_behalf)
    if not on_behalf and not is_invited(session, person):
        raise RegistrationError(_("You are not invited to this session."))
    _check_choices(session, person, parts, on_behalf=on_behalf)
    with transaction.atomic():
        session = _lock_session(session)
        locked_parts = _lock_parts(p.pk for p in parts)
        if session.registrations.active().filter(person=person).exists():
            raise RegistrationError(
                _("%(name)s is already signed up for this session.") % {"name": person.full_name}
            )
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
        _queue_confirmation(registration)
    return registration


def cancel(registration: Registration, *, by: Person | None) -> list[Registration]:
    """Cancel (Afmelden). Frees the place and promotes the first on the waiting list, in the
    same transaction; the people promoted are told. Returns the promoted registrations."""
    with transaction.atomic():
        session = _lock_session(registration.session)
        registration = Registration.objects.select_for_update().get(pk=registration.pk)
        if registration.status == Registration.Status.CANCELLED:
            raise RegistrationError(_("This registration was already cancelled."))
        choices = list(registration.choices.all())
        parts = _lock_parts(c.part_id for c in choices)
        was_confirmed = registration.status == Registration.Status.CONFIRMED
        registration.status = Registration.Status.CANCELLED
        registration.cancelled_at = timezone.now()
        registration.save(update_fields=["status", "cancelled_at"])
        registration.choices.update(status=Registration.Status.CANCELLED)
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
        _queue_promotion(registration, session)
    return promoted


def waitlist_position(registration: Registration) -> int | None:
    if registration.status != Registration.Status.WAITLISTED:
        return None
    ahead = (
        registration.session.registrations.waitlisted()
        .filter(queued_at__lt=registration.queued_at)
        .count()
        + registration.session.registrations.waitlisted()
        .filter(queued_at=registration.queued_at, pk__lt=registration.pk)
        .count()
    )
    return ahead + 1


def part_waitlist_position(choice: PartChoice) -> int | None:
    if choice.status != Registration.Status.WAITLISTED:
        return None
    return (
        choice.part.choices.filter(status=Registration.Status.WAITLISTED)
        .filter(queued_at__lt=choice.queued_at)
        .count()
        + 1
    )


# Notifications -----------------------------------------------------------------------------------


def _session_url(session: Session) -> str:
    from django.conf import settings

    return settings.SITE_URL + reverse("events:detail", args=[session.pk])


def _language(person: Person) -> str:
    from django.conf import settings

    return person.user.language if person.user_id else settings.LANGUAGE_CODE


def _when(session: Session) -> str:
    start, end = timezone.localtime(session.start), timezone.localtime(session.end)
    return f"{start:%d-%m-%Y}, {start:%H.%M}–{end:%H.%M}"


def _queue_confirmation(registration: Registration) -> None:
    from .calendar import session_ics

    session, person = registration.session, registration.person
    with override(_language(person)):
        if registration.status == Registration.Status.CONFIRMED:
            subject = _("Confirmed: %(title)s") % {"title": session.title}
            intro = _("You are signed up for %(title)s on %(when)s.") % {
                "title": session.title,
                "when": _when(session),
            }
        else:
            subject = _("Waiting list: %(title)s") % {"title": session.title}
            intro = _(
                "%(title)s is full. You are on the waiting list; we will tell you when a place becomes free."
            ) % {"title": session.title}
        body = f"{intro}\n\n{_session_url(session)}\n"
    notify.queue(
        "registration",
        person,
        f"events.registration:{registration.pk}",
        subject=subject,
        body=body,
        attachment_name="bijeenkomst.ics"
        if registration.status == Registration.Status.CONFIRMED
        else "",
        attachment=session_ics(session).decode()
        if registration.status == Registration.Status.CONFIRMED
        else "",
    )


def _queue_promotion(registration: Registration, session: Session) -> None:
    from .calendar import session_ics

    person = registration.person
    with override(_language(person)):
        subject = _("A place has become available: %(title)s") % {"title": session.title}
        body = (
            _(
                "Good news: a place has become available and you are now signed up for %(title)s on %(when)s."
            )
            % {"title": session.title, "when": _when(session)}
            + f"\n\n{_session_url(session)}\n"
        )
    notify.queue(
        "promotion",
        person,
        f"events.registration:{registration.pk}:{timezone.now():%Y%m%d%H%M%S%f}",
        subject=subject,
        body=body,
        attachment_name="bijeenkomst.ics",
        attachment=session_ics(session).decode(),
    )


# The session and its programme -------------------------------------------------------------------


def touch(session: Session) -> None:
    """A change to the session: calendars must see a higher SEQUENCE."""
    Session.objects.filter(pk=session.pk).update(
        sequence=F("sequence") + 1, updated_at=timezone.now()
    )
    session.refresh_from_db(fields=["sequence", "updated_at"])


def people_invited(session: Session):
    """Everyone who may sign up (for the invitation mail on publishing)."""
    people = Person.objects.filter(erased_at__isnull=True, user__isnull=False)
    parts = list(session.parts.prefetch_related("invited_rings"))
    if (
        any(p.kind in SessionPart.OPEN_KINDS for p in parts)
        and session.kind in Session.NETWORK_KINDS
    ):
        return people
    if not parts:
        if session.kind in Session.NETWORK_KINDS:
            return people
        rings = Ring.objects.filter(coalition_id=session.organiser_coalition_id)
    else:
        rings = Ring.objects.filter(session_parts__in=parts)
    coalitions = {p.coalition_id for p in parts if p.coalition_id} | (
        {session.organiser_coalition_id} - {None}
    )
    return people.filter(
        pk__in=RingMembership.objects.active().filter(ring__in=rings).values("person")
    ) | people.filter(led_coalitions__in=coalitions)


def publish(session: Session, *, by: Person | None) -> Session:
    with transaction.atomic():
        session = _lock_session(session)
        if session.status != Session.Status.DRAFT:
            raise RegistrationError(_("Only a draft can be published."))
        session.status = Session.Status.PUBLISHED
        session.save(update_fields=["status"])
        touch(session)
        subject = _("Invitation: %(title)s") % {"title": session.title}
        body = _("You are invited to %(title)s on %(when)s. Sign up here:") % {
            "title": session.title,
            "when": _when(session),
        }
        notify.queue_many(
            "session_invitation",
            people_invited(session).distinct(),
            f"events.session:{session.pk}",
            subject=subject,
            body=f"{body}\n{_session_url(session)}\n",
        )
    return session


def cancel_session(session: Session, *, by: Person | None) -> Session:
    """Cancel the whole session: everyone signed up is told, with a cancelled calendar event."""
    from .calendar import session_ics

    with transaction.atomic():
        session = _lock_session(session)
        if session.status == Session.Status.CANCELLED:
            raise RegistrationError(_("This session has already been cancelled."))
        session.status = Session.Status.CANCELLED
        session.save(update_fields=["status"])
        touch(session)
        ics = session_ics(session).decode()
        for registration in session.registrations.active().select_related("person__user"):
            person = registration.person
            with override(_language(person)):
                subject = _("Cancelled: %(title)s") % {"title": session.title}
                body = _("%(title)s on %(when)s does not go ahead. We are sorry.") % {
                    "title": session.title,
                    "when": _when(session),
                }
            notify.queue(
                "session_cancelled",
                person,
                f"events.session:{session.pk}",
                subject=subject,
                body=body,
                attachment_name="bijeenkomst.ics",
                attachment=ics,
            )
    return session


def add_coalitions(session: Session, coalitions, *, by: Person | None) -> list[SessionPart]:
    """The coalitions taking part: each gets its own work part, for its core ring by default."""
    created = []
    with transaction.atomic():
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
                core = coalition.rings.order_by("order").first()
                if core is not None:
                    part.invited_rings.add(core)
                created.append(part)
        touch(session)
    return created


# Attendance --------------------------------------------------------------------------------------


def mark_attendance(
    registration: Registration, *, attended: bool, by: Person | None
) -> Registration:
    registration.attended = attended
    registration.checked_in_at = timezone.now() if attended else None
    registration.save(update_fields=["attended", "checked_in_at"])
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
        elif registration.status == Registration.Status.WAITLISTED:
            registration.status = Registration.Status.CONFIRMED
            registration.save(update_fields=["status"])
        return mark_attendance(registration, attended=True, by=by)
