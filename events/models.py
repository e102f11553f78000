import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from coalitions.models import Coalition, Output, Ring, RingMembership
from kwaliteitsnetwerk.caching import versions_of, versions_through
from members.activity import scope_of
from members.limits import LONG, SHORT, length_checks
from members.models import Action, Institution, Person, count_of


def _deeper(person):
    """The same person seen from one subquery further in: a Person (or pk) stays itself, a
    reference to an outer query (OuterRef) gets one level more. So each rule below is written
    once and serves both directions: "which sessions is this person invited to" and "which
    people are invited to this session" (events.services.people_invited)."""
    return OuterRef(person) if isinstance(person, OuterRef) else person


def _leads(person, coalition) -> Exists:
    """The person leads the coalition (a value or a reference to the query this filters): the
    organising coalition's leads see its drafts, are invited to its meetings and to every part
    of them, each asked through this one condition."""
    return Exists(Coalition.leads.through.objects.filter(person=person, coalition=coalition))


def _acts_for(lead: Person, *, person, session) -> Q:
    """THE rule of what a lead may do for someone at a session (sign them up, cancel, mark
    present, see their e-mail and remarks): the lead leads a coalition that organises or takes
    part in the session, and the person is active in one of its rings or leads it too.
    `person` and `session` are values or references to the query this Q filters."""
    involved = Q(coalition__sessions=session) | Q(coalition__organised_sessions=session)
    return Exists(
        RingMembership.objects.active().filter(involved, person=person, coalition__leads=lead)
    ) | Exists(
        Coalition.leads.through.objects.filter(person=person)
        .filter(coalition__leads=lead)
        .filter(involved)
    )


def reminder_offsets(value: str) -> list[int]:
    """ "7, 1" → [7, 1]; ValueError for anything else."""
    return sorted({int(part) for part in value.replace(" ", "").split(",") if part}, reverse=True)


def validate_reminder_days(value: str) -> None:
    try:
        days = reminder_offsets(value)
    except ValueError:
        raise ValidationError(
            _("Write whole days separated by commas, for example 7,1."), code="invalid"
        ) from None
    if len(days) > 4 or any(not 1 <= day <= Session.MAX_REMINDER_DAYS for day in days):
        raise ValidationError(
            _("At most four reminders, each between 1 and %(max)s days before the start."),
            code="invalid",
            params={"max": Session.MAX_REMINDER_DAYS},
        )


class SessionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=Session.Status.PUBLISHED)

    def upcoming(self):
        return self.filter(end__gte=timezone.now()).order_by("start")

    def past(self):
        return self.filter(end__lt=timezone.now()).order_by("-start")

    def visible_to(self, person: Person | None):
        """Drafts only for the bureau (Person.has_bureau_rights, read here) and the leads of
        the organising coalition."""
        drafts = Q(status=Session.Status.DRAFT)
        if person is None:
            return self.exclude(drafts)
        if person.has_bureau_rights:
            return self
        return self.filter(~drafts | _leads(person, OuterRef("organiser_coalition")))

    def invited(self, person):
        """THE invitation rule for a whole session: a part of it is open to the person
        (SessionPart.objects.open_to); or it has no parts and is a network session (everyone)
        or a meeting of a coalition they are active in; or they lead the organising coalition.
        `person`: a Person, or OuterRef("pk") inside a query of people."""
        if person is None:
            return self.none()
        who = _deeper(person)
        parts = SessionPart.objects.filter(session=OuterRef("pk"))
        in_organiser = RingMembership.objects.active().filter(
            person=who, coalition=OuterRef("organiser_coalition")
        )
        return self.filter(
            Exists(parts.open_to(who))
            | (~Exists(parts) & (Q(kind__in=Session.NETWORK_KINDS) | Exists(in_organiser)))
            | _leads(who, OuterRef("organiser_coalition"))
        )

    def with_places(self):
        """Annotate confirmed_count (what is_full reads without a query) and waiting_count:
        the places taken and the waiting list of each session, a subquery each (not a join
        over all sign-ups, grouped)."""
        of_session = Registration.objects.filter(session=OuterRef("pk"))
        return self.annotate(
            confirmed_count=count_of(of_session.confirmed(), "session"),
            waiting_count=count_of(
                of_session.filter(status=Registration.Status.WAITLISTED), "session"
            ),
        )

    def editable_by(self, person: Person | None):
        """Bureau staff change any session; a lead the meetings their coalition organises."""
        if person is None:
            return self.none()
        if person.has_bureau_rights:
            return self
        return self.filter(
            organiser_coalition__in=Coalition.objects.organising_for(person).values("pk")
        )

    def organised_by(self, person: Person | None):
        """Who may open the registrations, check-in and presence list (each then shows only the
        registrations that person manages): the bureau, and the leads of the coalitions that
        organise or take part."""
        if person is None:
            return self.none()
        if person.has_bureau_rights:
            return self
        led = Coalition.objects.led_by(person).values("pk")
        return self.filter(
            Q(organiser_coalition__in=led)
            | Exists(
                Session.coalitions.through.objects.filter(session=OuterRef("pk"), coalition__in=led)
            )
        )


class Session(models.Model):
    class Kind(models.TextChoices):
        NETWORK = "netwerkbijeenkomst", _("Network session of coalitions")
        COALITION = "coalitiebijeenkomst", _("Coalition meeting")
        CONFERENCE = "jaarconferentie", _("Annual conference")
        THEME = "themabijeenkomst", _("Theme meeting")

    class Form(models.TextChoices):
        IN_PERSON = "fysiek", _("In person")
        ONLINE = "online", _("Online")
        HYBRID = "hybride", _("Hybrid")

    class Status(models.TextChoices):
        DRAFT = "concept", _("Draft")
        PUBLISHED = "gepubliceerd", _("Published")
        CANCELLED = "geannuleerd", _("Cancelled")

    NETWORK_KINDS = [Kind.NETWORK, Kind.CONFERENCE, Kind.THEME]
    MAX_REMINDER_DAYS = 60

    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices, default=Kind.NETWORK)
    description = models.TextField(_("description"), blank=True, max_length=LONG)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    form = models.CharField(_("form"), max_length=10, choices=Form.choices, default=Form.IN_PERSON)
    host_institution = models.ForeignKey(
        Institution,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="hosted_sessions",
        verbose_name=_("host institution"),
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    room = models.CharField(_("room"), max_length=100, blank=True)
    online_link = models.URLField(
        _("online link"), blank=True, help_text=_("Shown only to confirmed participants.")
    )
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, help_text=_("Empty: no maximum.")
    )
    signup_deadline = models.DateTimeField(_("sign-up deadline"), null=True, blank=True)
    reminder_days = models.CharField(
        _("reminders (days before)"),
        max_length=30,
        default="7,1",
        blank=True,
        validators=[validate_reminder_days],
        help_text=_(
            "When the people signed up get a reminder, in days before the start, separated by "
            "commas (e.g. 7,1). Empty: no reminders."
        ),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    coalitions = models.ManyToManyField(
        Coalition, related_name="sessions", blank=True, verbose_name=_("coalitions")
    )
    organiser_coalition = models.ForeignKey(
        Coalition,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="organised_sessions",
        verbose_name=_("organised by coalition"),
    )
    ERASE_KEEP = "the session is the network's; created_by points at Person"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sequence = models.PositiveIntegerField(
        default=0, editable=False, help_text="iCalendar SEQUENCE, raised on every change"
    )
    created_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    # Moved on by every logged change of the session, its programme or its registrations
    # (members.activity.log, in the change's transaction): the key of its cached fragments.
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        constraints = [
            *length_checks("session", description=LONG),
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="session_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=1),
                name="session_capacity_positive",
            ),
            models.CheckConstraint(
                condition=~Q(kind="coalitiebijeenkomst") | Q(organiser_coalition__isnull=False),
                name="session_coalition_meeting_has_coalition",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def reminder_offsets(self) -> list[int]:
        """The days before the start at which the people signed up are reminded, latest first."""
        try:
            return reminder_offsets(self.reminder_days)
        except ValueError:
            return []

    @property
    def is_past(self) -> bool:
        return self.end < timezone.now()

    @property
    def online_link_shown(self) -> bool:
        """The link matters for online and hybrid sessions (shown to confirmed people only)."""
        return self.form != self.Form.IN_PERSON

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED

    @cached_property
    def versions(self) -> str:
        """What its cached fragments show moves one of these (kwaliteitsnetwerk.caching): the
        session's version (itself, its programme, its registrations) and those of the
        coalitions taking part in it, organising it or presenting an output at it (their names,
        rings, leads and outputs)."""
        coalitions = Coalition.objects.filter(
            Q(pk__in=self.coalitions.values("pk"))
            | Q(pk=self.organiser_coalition_id)
            | Q(pk__in=self.presentations.values("output__coalition"))
        )
        return f"{self.pk}.{self.version}.{versions_of(coalitions)}"

    @cached_property
    def people_versions(self) -> str:
        """The versions of the people its registration lists and door show (kwaliteitsnetwerk.
        caching): who signed up, who signed them up and who did what here (names,
        institutions, addresses)."""
        registrations = Registration.objects.filter(session=self)
        return versions_through(
            self,
            people=(registrations, "person__version"),
            by=(registrations, "registered_by__version"),
            actors=(Action.objects.within(scope_of(self)), "actor__version"),
        )

    @cached_property
    def has_parts(self) -> bool:
        """Has a programme of parts (asked once per request by the sign-up's checks)."""
        return self.parts.exists()

    def invites(self, person: Person | None) -> bool:
        if person is None:
            return False
        # What the rule (SessionQuerySet.invited) says at once for a network session without a
        # programme: everyone. Asked for every sign-up, so not built as a nested query.
        if self.kind in Session.NETWORK_KINDS and not self.has_parts:
            return True
        return Session.objects.filter(pk=self.pk).invited(person).exists()

    def is_editable_by(self, person: Person | None) -> bool:
        if person is None:
            return False
        if person.has_bureau_rights:
            return True
        # Asked once per person and object (the session page and its remarks both ask).
        answers = self.__dict__.setdefault("_editable_by", {})
        if person.pk not in answers:
            answers[person.pk] = Session.objects.filter(pk=self.pk).editable_by(person).exists()
        return answers[person.pk]

    def remarks_visible_to(self, person: Person | None) -> bool:
        """THE rule of who reads the diet and accessibility remarks of the people they manage
        here (Registration.objects.manageable_by): those who organise the session itself (may
        edit it: the bureau, the leads of the organising coalition), not the leads of a
        coalition that only takes part. Registration.remarks_visible_to asks it per row."""
        return self.is_editable_by(person)

    def is_organised_by(self, person: Person | None) -> bool:
        if person is not None and person.has_bureau_rights:
            return True
        return Session.objects.filter(pk=self.pk).organised_by(person).exists()

    def people_to_act_for(self, lead: Person | None):
        """The people `lead` may sign up, cancel for or mark present here (see _acts_for)."""
        people = Person.objects.filter(erased_at__isnull=True)
        if lead is None:
            return people.none()
        if lead.has_bureau_rights:
            return people
        here = Session.objects.filter(pk=self.pk).filter(
            _acts_for(lead, person=OuterRef(OuterRef("pk")), session=OuterRef("pk"))
        )
        return people.filter(Exists(here))

    def lets_act_for(self, lead: Person | None, person: Person) -> bool:
        return self.people_to_act_for(lead).filter(pk=person.pk).exists()

    @property
    def is_conference(self) -> bool:
        return self.kind == self.Kind.CONFERENCE

    def presented(self):
        """The outputs presented here that the network may read, with their coalitions (one
        query): an output narrowed later no longer shows."""
        return self.presentations.filter(output__in=Output.objects.for_network()).select_related(
            "output__coalition"
        )

    def _confirmed(self) -> int:
        count = getattr(self, "confirmed_count", None)
        if count is None:  # not annotated: count now (under the session lock in services)
            count = self.registrations.filter(status=Registration.Status.CONFIRMED).count()
        return count

    @property
    def is_full(self) -> bool:
        return self.capacity is not None and self._confirmed() >= self.capacity

    @property
    def deadline_passed(self) -> bool:
        return self.signup_deadline is not None and timezone.now() > self.signup_deadline


def ring_invitations(rings, sessions) -> dict[int, set[int]]:
    """THE rule of which sessions invited a ring as a ring (what the commitment rule counts),
    as {ring id: {session ids}} among `sessions`, in two queries:
    - a part of the session invites the ring (the coalition's work part: the core this time,
      the flexible ring too another time);
    - the ring's coalition takes part in (or organises) the session without a work part of its
      own, and the session has no parts or a plenary or exchange part: all its rings are invited.
    A person of the flexible ring is still welcome at a network session's plenary (open_to),
    but a session that invited only the core does not count against their ring's agreement."""
    rings = list(rings)
    result: dict[int, set[int]] = {ring.pk: set() for ring in rings}
    for ring_id, session_id in SessionPart.invited_rings.through.objects.filter(
        ring_id__in=result, sessionpart__session__in=sessions
    ).values_list("ring_id", "sessionpart__session_id"):
        result[ring_id].add(session_id)
    parts = SessionPart.objects.filter(session=OuterRef("session"))
    whole: dict[int, set[int]] = {}
    for coalition_id, session_id in (
        Session.coalitions.through.objects.filter(
            coalition_id__in={ring.coalition_id for ring in rings}, session__in=sessions
        )
        .filter(~Exists(parts.filter(kind=SessionPart.Kind.WORK, coalition=OuterRef("coalition"))))
        .filter(~Exists(parts) | Exists(parts.filter(kind__in=SessionPart.OPEN_KINDS)))
        .values_list("coalition_id", "session_id")
    ):
        whole.setdefault(coalition_id, set()).add(session_id)
    for ring in rings:
        result[ring.pk] |= whole.get(ring.coalition_id, set())
    return result


class SessionPartQuerySet(models.QuerySet):
    def open_to(self, person):
        """THE invitation rule, per part — the session list, "am I invited", the sign-up form and
        the people to invite all derive from it:
        - a plenary or exchange part of a network session is for everyone;
        - a plenary or exchange part of a coalition meeting is for the coalition's rings;
        - a coalition's work part is for the rings invited to it this time, and its leads;
        - the leads of the organising coalition may join every part of their meeting.
        `person`: a Person, or a reference to an outer query of people (see _deeper)."""
        if person is None:
            return self.none()
        who = _deeper(person)
        in_ring = RingMembership.objects.active().filter(person=who)
        organiser = OuterRef("session__organiser_coalition")
        return self.filter(
            Q(kind__in=SessionPart.OPEN_KINDS, session__kind__in=Session.NETWORK_KINDS)
            | Q(kind__in=SessionPart.OPEN_KINDS) & Exists(in_ring.filter(coalition=organiser))
            | Exists(in_ring.filter(ring__session_parts=OuterRef("pk")))
            | _leads(who, OuterRef("coalition"))
            | _leads(who, organiser)
        )


class SessionPart(models.Model):
    """A part of the programme: between coalitions (plenary, exchange) or within one (work)."""

    class Kind(models.TextChoices):
        PLENARY = "plenair", _("Plenary")
        EXCHANGE = "uitwisseling", _("Exchange between coalitions")
        WORK = "werken", _("Work within the coalition")

    OPEN_KINDS = [Kind.PLENARY, Kind.EXCHANGE]

    session = models.ForeignKey(
        Session, on_delete=models.CASCADE, related_name="parts", verbose_name=_("session")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.PLENARY)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=SHORT)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    room = models.CharField(_("room"), max_length=100, blank=True)
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, help_text=_("Empty: no maximum.")
    )
    coalition = models.ForeignKey(
        Coalition,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="session_parts",
        verbose_name=_("coalition"),
    )
    invited_rings = models.ManyToManyField(
        Ring,
        blank=True,
        related_name="session_parts",
        verbose_name=_("invited rings"),
        help_text=_("For a coalition's own part: which rings are invited this time."),
    )

    objects = SessionPartQuerySet.as_manager()

    class Meta:
        ordering = ["start", "pk"]
        verbose_name = _("programme part")
        verbose_name_plural = _("programme parts")
        constraints = [
            *length_checks("session_part", description=SHORT),
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="part_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~Q(kind="werken") | Q(coalition__isnull=False),
                name="part_work_has_coalition",
            ),
            models.UniqueConstraint(
                fields=["session", "coalition"],
                condition=Q(kind="werken"),
                name="part_one_work_part_per_coalition",
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=1),
                name="part_capacity_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def overlaps(self, other: "SessionPart") -> bool:
        return self.start < other.end and other.start < self.end

    @property
    def is_work_part(self) -> bool:
        return self.kind == self.Kind.WORK

    def _confirmed(self) -> int:
        count = getattr(self, "confirmed_count", None)
        if count is None:  # not annotated: count now (under the part lock in services)
            count = self.choices.filter(status=Registration.Status.CONFIRMED).count()
        return count

    @property
    def is_full(self) -> bool:
        return self.capacity is not None and self._confirmed() >= self.capacity

    def is_editable_by(self, person: Person | None) -> bool:
        """Who edits this part: whoever may edit the session; and the leads of a coalition
        taking part, for their coalition's own work part only (its rings, capacity and
        description: see events.forms.LeadPartForm)."""
        return self.session.is_editable_by(person) or self.is_steered_by(person)

    def is_steered_by(self, person: Person | None, *, taking_part: set[int] | None = None) -> bool:
        """A lead's say over their own coalition's work part in someone else's session.
        `taking_part`: the ids of the session's coalitions, when the caller has them."""
        if not (self.is_work_part and self.coalition is not None):
            return False
        if not self.coalition.is_led_by(person):
            return False
        if taking_part is not None:
            return self.coalition_id in taking_part
        return self.session.coalitions.filter(pk=self.coalition_id).exists()


class RegistrationQuerySet(models.QuerySet):
    def active(self):
        return self.exclude(status=Registration.Status.CANCELLED)

    def manageable_by(self, person: Person | None):
        """The registrations this person may cancel, mark present or absent, and see with
        e-mail address and remarks: every one for the bureau; for a lead, those of the people
        of the coalitions they lead at sessions these coalitions organise or take part in."""
        if person is None:
            return self.none()
        if person.has_bureau_rights:
            return self
        # A guest a lead added at the door stays theirs to manage.
        return self.filter(
            _acts_for(person, person=OuterRef("person"), session=OuterRef("session"))
            | Q(walk_in=True, registered_by=person)
        )

    def confirmed(self):
        return self.filter(status=Registration.Status.CONFIRMED)

    def waitlisted(self):
        return self.filter(status=Registration.Status.WAITLISTED).order_by("queued_at", "pk")


class Registration(models.Model):
    # Diet and accessibility are personal (see members.services.erase_person); the chosen parts
    # belong in the person's data download.
    ERASE_FIELDS = ("remarks",)
    EXPORT_WITH = ("choices",)

    class Status(models.TextChoices):
        CONFIRMED = "bevestigd", _("Confirmed")
        WAITLISTED = "wachtlijst", _("On the waiting list")
        # "Afgemeld": a sign-up one withdrew, not a session that was called off (Geannuleerd).
        CANCELLED = "afgemeld", pgettext_lazy("registration", "Cancelled")

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="registrations", verbose_name=_("person")
    )
    session = models.ForeignKey(
        Session, on_delete=models.CASCADE, related_name="registrations", verbose_name=_("session")
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    remarks = models.TextField(_("remarks (diet, accessibility)"), blank=True, max_length=1000)
    queued_at = models.DateTimeField(
        _("signed up"), default=timezone.now, help_text="Arrival order for the waiting list"
    )
    registered_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signed up by"),
    )
    promoted_at = models.DateTimeField(_("moved up"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    attended = models.BooleanField(_("attended"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("checked in"), null=True, blank=True)
    walk_in = models.BooleanField(_("walk-in"), default=False)

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["queued_at", "pk"]
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        constraints = [
            *length_checks("registration", remarks=1000),
            models.UniqueConstraint(
                fields=["person", "session"],
                condition=~Q(status="afgemeld"),
                name="registration_one_active_per_person",
            ),
        ]
        indexes = [
            models.Index(fields=["session", "status", "queued_at"], name="registration_queue")
        ]

    def __str__(self) -> str:
        return f"{self.person} – {self.session} ({self.get_status_display()})"

    @property
    def is_confirmed(self) -> bool:
        return self.status == self.Status.CONFIRMED

    @property
    def is_waitlisted(self) -> bool:
        return self.status == self.Status.WAITLISTED

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED

    @property
    def gives_up_scarce_place(self) -> bool:
        """Cancelling it hands a place to someone else for good: a confirmed place in a session
        that is full or has people waiting (so the cancel asks first)."""
        return self.is_confirmed and (
            self.session.is_full or self.session.registrations.waitlisted().exists()
        )

    def remarks_visible_to(self, person: Person | None) -> bool:
        """Their own remarks for the person themselves; for anyone else only where the session
        shows remarks to them (Session.remarks_visible_to) and they manage this registration."""
        if person is None:
            return False
        if person.pk == self.person_id:
            return True
        return (
            self.session.remarks_visible_to(person)
            and Registration.objects.filter(pk=self.pk).manageable_by(person).exists()
        )


class PartChoice(models.Model):
    """A part of the programme someone chose, with its own place or waiting-list position."""

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="choices")
    part = models.ForeignKey(
        SessionPart,
        on_delete=models.CASCADE,
        related_name="choices",
        verbose_name=_("programme part"),
    )
    status = models.CharField(_("status"), max_length=12, choices=Registration.Status.choices)
    queued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["part__start", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["registration", "part"], name="choice_once_per_part"),
        ]
        indexes = [models.Index(fields=["part", "status", "queued_at"], name="choice_queue")]

    def __str__(self) -> str:
        return f"{self.registration.person} – {self.part} ({self.status})"

    @property
    def is_confirmed(self) -> bool:
        return self.status == Registration.Status.CONFIRMED

    @property
    def is_waitlisted(self) -> bool:
        return self.status == Registration.Status.WAITLISTED

    @property
    def is_cancelled(self) -> bool:
        return self.status == Registration.Status.CANCELLED


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


class CalendarFeed(models.Model):
    """A person's secret calendar address with their sessions; renewing it breaks the old one."""

    ERASE_DELETE = True

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.person}"


class Presentation(models.Model):
    """A coalition's output shown at a session (the annual conference): the library shows the
    outputs of a conference as that year's harvest."""

    ERASE_KEEP = "a product of a coalition shown at a session; added_by points at Person"

    session = models.ForeignKey(
        Session, on_delete=models.CASCADE, related_name="presentations", verbose_name=_("session")
    )
    output = models.OneToOneField(
        "coalitions.Output",
        on_delete=models.CASCADE,
        related_name="presentation",
        verbose_name=_("output"),
    )
    added_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("added by")
    )
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["session", "output__coalition__name", "output__title"]
        verbose_name = _("presentation")
        verbose_name_plural = _("presentations")

    def __str__(self) -> str:
        return f"{self.output} @ {self.session}"
