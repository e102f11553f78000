import secrets
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from coalitions.models import Coalition, Ring, RingMembership
from members.models import Institution, Person


class SessionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=Session.Status.PUBLISHED)

    def upcoming(self):
        return self.filter(end__gte=timezone.now()).order_by("start")

    def past(self):
        return self.filter(end__lt=timezone.now()).order_by("-start")

    def visible_to(self, person: Person | None, *, is_bureau: bool = False):
        """Drafts only for the bureau and the leads of the organising coalition."""
        if is_bureau:
            return self
        drafts = Q(status=Session.Status.DRAFT)
        if person is None:
            return self.exclude(drafts)
        return self.filter(~drafts | Q(organiser_coalition__leads=person)).distinct()

    def invited(self, person: Person | None):
        """Sessions this person may sign up for (see Session.invites)."""
        if person is None:
            return self.none()
        memberships = RingMembership.objects.active().filter(person=person)
        rings = memberships.values("ring")
        led = Coalition.objects.filter(leads=person).values("pk")
        open_parts = SessionPart.objects.filter(kind__in=SessionPart.OPEN_KINDS)
        return self.filter(
            (Q(parts__isnull=True) & ~Q(kind=Session.Kind.COALITION))
            | Q(parts__in=open_parts.filter(session__kind__in=Session.NETWORK_KINDS))
            | Q(parts__invited_rings__in=rings)
            | Q(parts__coalition__in=led)
            | Q(organiser_coalition__in=led)
            | Q(
                kind=Session.Kind.COALITION,
                parts__isnull=True,
                organiser_coalition__in=memberships.values("coalition"),
            )
        ).distinct()


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

    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices, default=Kind.NETWORK)
    description = models.TextField(_("description"), blank=True)
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
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sequence = models.PositiveIntegerField(
        default=0, editable=False, help_text="iCalendar SEQUENCE, raised on every change"
    )
    created_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        constraints = [
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
    def is_past(self) -> bool:
        return self.end < timezone.now()

    @property
    def deadline_passed(self) -> bool:
        return self.signup_deadline is not None and timezone.now() > self.signup_deadline


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

    class Meta:
        ordering = ["start", "pk"]
        verbose_name = _("programme part")
        verbose_name_plural = _("programme parts")
        constraints = [
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


class RegistrationQuerySet(models.QuerySet):
    def active(self):
        return self.exclude(status=Registration.Status.CANCELLED)

    def confirmed(self):
        return self.filter(status=Registration.Status.CONFIRMED)

    def waitlisted(self):
        return self.filter(status=Registration.Status.WAITLISTED).order_by("queued_at", "pk")


class Registration(models.Model):
    ERASE_FIELDS = (
        "remarks",
    )  # diet and accessibility are personal; see members.services.erase_person

    class Status(models.TextChoices):
        CONFIRMED = "bevestigd", _("Confirmed")
        WAITLISTED = "wachtlijst", _("On the waiting list")
        CANCELLED = "afgemeld", _("Cancelled")

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
