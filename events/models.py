from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from coalitions.models import Coalition
from members.models import Institution


class SessionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=Session.Status.PUBLISHED)

    def upcoming(self):
        return self.filter(end__gte=timezone.now()).order_by("start")

    def past(self):
        return self.filter(end__lt=timezone.now()).order_by("-start")


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
    online_link = models.URLField(_("online link"), blank=True)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    signup_deadline = models.DateTimeField(_("sign-up deadline"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    coalitions = models.ManyToManyField(
        Coalition, related_name="sessions", blank=True, verbose_name=_("coalitions")
    )

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="session_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.title
