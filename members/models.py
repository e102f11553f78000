import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from .addresses import normalise_email
from .fields import NormalisedDomainField, NormalisedEmailField
from .limits import SHORT, length_checks


def has_second_factor(user_id: int) -> bool:
    """A second factor that counts for bureau powers and the Django admin: an authenticator app
    (TOTP) confirmed from the account's mailbox (members.second_factor). One set up with the
    password alone gives nothing until the mailbox says yes."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(
        user_id=user_id, type=Authenticator.Type.TOTP, confirmation__isnull=False
    ).exists()


def has_unconfirmed_second_factor(user_id: int) -> bool:
    """An authenticator app is set up but its confirmation from the mailbox is still due."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(
        user_id=user_id, type=Authenticator.Type.TOTP, confirmation__isnull=True
    ).exists()


class ConfirmedFactor(models.Model):
    """An authenticator app confirmed from its account's mailbox (members.second_factor). Only a
    confirmed one makes has_second_factor true; a new authenticator is a new row to confirm."""

    authenticator = models.OneToOneField(
        "mfa.Authenticator", on_delete=models.CASCADE, related_name="confirmation"
    )
    # The address the link was sent to and opened from.
    email = NormalisedEmailField(_("confirmed from"))
    confirmed_at = models.DateTimeField(_("confirmed"), default=timezone.now)

    class Meta:
        verbose_name = _("confirmed second factor")
        verbose_name_plural = _("confirmed second factors")

    def __str__(self) -> str:
        return f"{self.authenticator_id} ({self.confirmed_at:%Y-%m-%d})"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=normalise_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A login account. Who someone is in the network lives on Person."""

    username = None
    first_name = None
    last_name = None
    # Normalised once, compared exactly (members.addresses).
    email = NormalisedEmailField(_("e-mail address"), unique=True)
    language = models.CharField(
        _("language"), max_length=8, choices=[("nl", "Nederlands"), ("en", "English")], default="nl"
    )
    # The name given at sign-up, kept until the address is verified: only then is the account
    # linked to (or does it register) a Person (members.forms.link_person_on_verification).
    signup_name = models.JSONField(default=dict, blank=True, editable=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.email


class InstitutionQuerySet(models.QuerySet):
    def members_on(self, day=None):
        """Institutions that are members of the network on the given day (default today)."""
        day = day or timezone.localdate()
        return self.exclude(kind__in=[Institution.Kind.BUREAU, Institution.Kind.EXTERNAL]).filter(
            models.Q(member_since__isnull=True) | models.Q(member_since__lte=day),
            models.Q(member_until__isnull=True) | models.Q(member_until__gte=day),
        )


class Institution(models.Model):
    class Kind(models.TextChoices):
        ROC = "roc", _("ROC")
        AOC = "aoc", _("AOC")
        VAKINSTELLING = "vakinstelling", _("Vocational college")
        OTHER = "overig", _("Other")
        BUREAU = "bureau", _("Network office")
        EXTERNAL = "extern", _("Guests and external people")

    name = models.CharField(_("name"), max_length=200, unique=True)
    short_name = models.CharField(_("short name"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices, default=Kind.ROC)
    brin = models.CharField(
        _("BRIN code"),
        max_length=4,
        blank=True,
        validators=[
            RegexValidator(
                r"^[0-9]{2}[A-Z]{2}$",
                _("A BRIN code is two digits and two capital letters, like 25PZ."),
            )
        ],
    )
    website = models.URLField(_("website"), blank=True)
    member_since = models.DateField(_("member since"), null=True, blank=True)
    member_until = models.DateField(_("member until"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True, max_length=SHORT)
    # Moved on by every logged change of this institution (members.activity.log): the key of
    # cached fragments that list institutions (kwaliteitsnetwerk.caching).
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = InstitutionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")
        constraints = [
            *length_checks("institution", notes=SHORT),
            models.UniqueConstraint(
                fields=["brin"],
                condition=~models.Q(brin=""),
                name="institution_brin_unique_when_set",
            ),
            models.CheckConstraint(
                condition=models.Q(brin="") | models.Q(brin__regex=r"^[0-9]{2}[A-Z]{2}$"),
                name="institution_brin_format",
            ),
            models.CheckConstraint(
                condition=models.Q(member_until__isnull=True)
                | models.Q(member_since__isnull=True)
                | models.Q(member_until__gte=models.F("member_since")),
                name="institution_membership_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EmailDomain(models.Model):
    """An e-mail domain of an institution: sign-up from it links the account to that institution."""

    institution = models.ForeignKey(
        Institution,
        on_delete=models.CASCADE,
        related_name="email_domains",
        verbose_name=_("institution"),
    )
    domain = NormalisedDomainField(_("e-mail domain"), max_length=253)

    class Meta:
        ordering = ["domain"]
        verbose_name = _("e-mail domain")
        verbose_name_plural = _("e-mail domains")
        constraints = [
            models.UniqueConstraint(Lower("domain"), name="email_domain_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.domain


def dutch(field: str):
    """Text as a Dutch reader sorts it: case and accents do not matter ("mboRijnland" before
    "ROC de Leijgraaf", "Émile" with the E). ICU's Dutch collation on PostgreSQL; on SQLite the
    "dutch" collation members.apps registers on every connection."""
    from django.db import connection
    from django.db.models.functions import Collate

    if connection.vendor == "postgresql":
        return Collate(field, "nl-x-icu")
    if connection.vendor == "sqlite":
        return Collate(field, "dutch")
    return Lower(field)


def count_of(rows: models.QuerySet, by: str):
    """The number of `rows` for each row of the outer query (`rows` filtered on
    OuterRef("pk") through the field `by`), as one subquery per row shown: not a join over all
    rows grouped, and counted again for the pages. 0 when there are none."""
    return Coalesce(
        models.Subquery(rows.order_by().values(by).annotate(n=models.Count("pk")).values("n")),
        0,
    )


def dutch_key(text: str) -> str:
    """The SQLite collation's sort key: without accents, case folded."""
    import unicodedata

    return "".join(
        c for c in unicodedata.normalize("NFKD", text or "") if not unicodedata.combining(c)
    ).casefold()


class PersonQuerySet(models.QuerySet):
    def dutch_order(self):
        # Dutch alphabetical order: by last name without the infix ("de Vries" under V).
        return self.order_by(dutch("last_name"), dutch("first_name"), "pk")


class Person(models.Model):
    first_name = models.CharField(_("first name"), max_length=100)
    infix = models.CharField(
        _("infix"), max_length=30, blank=True, help_text=_("For example: van, de, van der")
    )
    last_name = models.CharField(_("last name"), max_length=150)
    email = NormalisedEmailField(_("e-mail address"))
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="people", verbose_name=_("institution")
    )
    function = models.CharField(_("function"), max_length=150, blank=True)
    is_bureau_staff = models.BooleanField(_("bureau staff"), default=False)
    is_ambassador = models.BooleanField(_("ambassador"), default=False)
    user = models.OneToOneField(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="person",
        verbose_name=_("account"),
    )
    notes = models.TextField(_("remarks"), blank=True, max_length=SHORT)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True, editable=False)
    overview_seen_at = models.DateTimeField(
        _("last looked at the overview"), null=True, blank=True, editable=False
    )
    # Moved on by every logged change of this person (members.activity.log): the keys of the
    # cached fragments that show people are built from it (kwaliteitsnetwerk.caching).
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = [Lower("last_name"), Lower("first_name")]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [
            *length_checks("person", notes=SHORT),
            models.UniqueConstraint(Lower("email"), name="person_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        if self.erased_at:
            return str(_("Erased person"))
        return " ".join(part for part in (self.first_name, self.infix, self.last_name) if part)

    @property
    def language(self) -> str:
        """The language to write to this person in: their account's choice, else Dutch."""
        return self.user.language if self.user_id else settings.LANGUAGE_CODE

    @property
    def has_bureau_rights(self) -> bool:
        """The one test of bureau powers in the application. Where BUREAU_REQUIRE_MFA is on
        (production) they come only with a second factor: a bureau account without one is a
        member like any other, on every page. (A superuser's powers are the Django admin's,
        which has its own guard in kwaliteitsnetwerk/urls.py and AdminSecondFactorMiddleware.)"""
        if not self.is_bureau_staff or self.erased_at is not None:
            return False
        return self.has_second_factor or not settings.BUREAU_REQUIRE_MFA

    @cached_property
    def has_second_factor(self) -> bool:
        return bool(self.user_id) and has_second_factor(self.user_id)

    @property
    def sort_name(self) -> str:
        """Last name first, infix after the first name: "Vries, Jan de"."""
        rest = " ".join(part for part in (self.first_name, self.infix) if part)
        return f"{self.last_name}, {rest}" if rest else self.last_name


class InvitationQuerySet(models.QuerySet):
    def open(self):
        return self.filter(used_at__isnull=True, revoked_at__isnull=True)


class Invitation(models.Model):
    """A single-use link that lets a registered Person make their account.

    Only a hash of the token is stored; the link itself exists only in the e-mail.
    """

    VALID_FOR_DAYS = 14
    ERASE_DELETE = True  # see members.services.erase_person

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("person")
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    message = models.TextField(_("personal message"), blank=True, max_length=SHORT)
    # The address the link was sent to: the invitation holds only for that address.
    email = NormalisedEmailField(_("sent to"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("replaced"), null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            *length_checks("invitation", message=SHORT),
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(used_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} ({self.created_at:%Y-%m-%d})"

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at


class NotificationQuerySet(models.QuerySet):
    def due(self, now=None):
        """What a sweep may send now: queued rows whose (next) attempt has come, and rows claimed
        longer than CLAIM_TIMEOUT ago and never marked (the worker died after claiming)."""
        now = now or timezone.now()
        return self.filter(
            models.Q(status=Notification.Status.QUEUED, next_attempt_at__lte=now)
            | models.Q(
                status=Notification.Status.SENDING,
                claimed_at__lt=now - Notification.CLAIM_TIMEOUT,
            )
        )


class Notification(models.Model):
    """The outbox: one row per (kind, person, occasion), so nothing is ever sent twice.

    members.notify renders and queues a row (subject, text and HTML in the person's language),
    or, for a kind with a `compose` function (a sign-up's confirmation), queues it unwritten
    (`written` False) in the change's transaction and lets the sender write it just before it
    goes out, so the change's locks are not held while a mail is rendered;
    members.tasks.deliver claims due rows (queued → sending, under SKIP LOCKED), mails them over
    one connection and marks them sent, or queued again with a later attempt after a temporary
    SMTP failure, or failed after a permanent one. A row left in "sending" longer than
    CLAIM_TIMEOUT (a worker killed after the claim) is due again, so nothing is lost.
    """

    ERASE_DELETE = True  # see members.services.erase_person
    # A claim older than this is a dead worker's: the sender renews its claim while it works
    # (members.tasks.deliver), so a live one is never taken over.
    CLAIM_TIMEOUT = dt.timedelta(minutes=1)
    MAX_ATTEMPTS = 7  # per-message refusals (4xx); an unreachable server counts none

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=50)
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("person")
    )
    occasion = models.CharField(
        _("occasion"), max_length=100, help_text=_("What it is about, e.g. events.session:12")
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"))
    html = models.TextField(_("message (HTML)"), blank=True)
    attachment_name = models.CharField(max_length=100, blank=True)
    attachment = models.TextField(blank=True)
    written = models.BooleanField(_("written"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "person", "occasion"], name="notification_once_per_occasion"
            ),
            models.CheckConstraint(
                condition=models.Q(status="sent", sent_at__isnull=False)
                | (~models.Q(status="sent") & models.Q(sent_at__isnull=True)),
                name="notification_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notification_queued",
                condition=models.Q(status="queued"),
            ),
            models.Index(
                fields=["claimed_at"],
                name="notification_sending",
                condition=models.Q(status="sending"),
            ),
            # The bureau's outbox, newest first.
            models.Index(fields=["-created_at", "-id"], name="notification_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.person} ({self.occasion})"

    # What the bureau may send again: a message that is done (sent or failed). One waiting or
    # being sent goes out anyway, so a double click queues it once.
    RESENDABLE = [Status.SENT, Status.FAILED]

    @property
    def may_resend(self) -> bool:
        """THE resend rule (members.notify.resend holds it, the outbox shows the button by
        it): done, and not a kind whose text was a personal link (blanked once sent)."""
        from .notify import KINDS

        spec = KINDS.get(self.kind)
        return self.status in self.RESENDABLE and not (spec and spec.secret)

    @property
    def waits_for_retry(self) -> bool:
        """Queued again after a failed attempt (the outbox shows when it is tried next)."""
        return self.status == self.Status.QUEUED and self.attempts > 0


class MailPreference(models.Model):
    """A person's choice for one kind of message, where it differs from the kind's default
    (members.notify.KINDS): unsubscribed from a kind, or opted in to the weekly digest."""

    ERASE_DELETE = True

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="mail_preferences")
    kind = models.CharField(_("kind"), max_length=50)
    wanted = models.BooleanField(_("wanted"))
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        verbose_name = _("mail preference")
        verbose_name_plural = _("mail preferences")
        constraints = [
            models.UniqueConstraint(fields=["person", "kind"], name="mail_preference_once")
        ]

    def __str__(self) -> str:
        return f"{self.person}: {self.kind} {'✓' if self.wanted else '✗'}"


class ActionQuerySet(models.QuerySet):
    def on(self, obj: models.Model):
        """What was done to this object."""
        return self.filter(
            target_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
            target_id=obj.pk,
        )

    def within(self, scope: str):
        """What was done inside a coalition or a session (see Action.scope)."""
        return self.filter(scope=scope)


class Action(models.Model):
    """The activity log: who did what, to which object, when. Written by every service that
    changes something on someone's behalf (members.activity.log), never edited afterwards.

    Erasing a person keeps the rows (the history of a ring or a session must add up) while the
    person in them shows as erased, because the name lives on Person, never in the row."""

    ERASE_KEEP = "who did what stays; names come from Person, which erasure anonymises"

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="actions_done",
        verbose_name=_("by"),
    )
    verb = models.CharField(_("what"), max_length=50)
    target_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, related_name="+", verbose_name=_("object type")
    )
    target_id = models.PositiveBigIntegerField(_("object"))
    person = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="actions_about",
        verbose_name=_("about"),
        help_text=_("The person the change is about, e.g. whose registration or place it was."),
    )
    # Where it happened, e.g. "coalitions.coalition:12" or "events.session:5": the ring board,
    # the registrations page and the coalition page read their history by scope.
    scope = models.CharField(_("where"), max_length=60, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    objects = ActionQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("action")
        verbose_name_plural = _("activity log")
        indexes = [
            models.Index(fields=["scope", "-at"], name="action_scope"),
            models.Index(fields=["target_type", "target_id"], name="action_target"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.verb}"

    @property
    def description(self) -> str:
        from .activity import describe

        return describe(self)


class RetentionPolicy(models.Model):
    """How long the network keeps personal data of people who no longer take part (AVG): the
    bureau sets it; one row (see members.retention)."""

    school_years = models.PositiveSmallIntegerField(
        _("school years to keep"),
        default=3,
        help_text=_("After the school year of someone's last membership, registration or login."),
    )
    changed_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    ERASE_KEEP = "a setting of the network; changed_by points at Person"

    class Meta:
        verbose_name = _("retention period")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(school_years__gte=1), name="retention_at_least_one_year"
            ),
        ]

    def __str__(self) -> str:
        return str(self.school_years)


class RetentionHold(models.Model):
    """The bureau keeps someone's data longer, until a date, with a reason."""

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="retention_holds", verbose_name=_("person")
    )
    until = models.DateField(_("keep until"))
    reason = models.CharField(_("reason"), max_length=300)
    by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("by")
    )
    created_at = models.DateTimeField(default=timezone.now)

    ERASE_DELETE = True  # erasing the person ends any reason to keep them

    class Meta:
        ordering = ["-until"]
        verbose_name = _("postponed erasure")

    def __str__(self) -> str:
        return f"{self.person} → {self.until}"
