from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Person


def school_year_of(day) -> str:
    """The school year (September to August) a date falls in, written as 2025-2026."""
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}-{first + 1}"


class CoalitionQuerySet(models.QuerySet):
    def led_by(self, person: Person | None):
        if person is None:
            return self.none()
        return self.filter(leads=person)

    def running(self):
        return self.filter(
            status__in=[
                Coalition.Status.RECRUITING,
                Coalition.Status.ACTIVE,
                Coalition.Status.EVALUATING,
            ]
        )


class Coalition(models.Model):
    class Status(models.TextChoices):
        PREPARING = "voorbereiding", _("In preparation")
        RECRUITING = "werving", _("Recruiting")
        ACTIVE = "actief", _("Active")
        EVALUATING = "evaluatie", _("Evaluating")
        CLOSED = "afgerond", _("Closed")

    name = models.CharField(_("name"), max_length=200)
    theme = models.CharField(_("theme"), max_length=100)
    assignment = models.TextField(_("assignment"))
    goal = models.TextField(_("goal"), blank=True)
    intended_output = models.TextField(_("intended output"), blank=True)
    needs = models.TextField(_("what it needs"), blank=True)
    school_year = models.CharField(_("school year"), max_length=9)
    start = models.DateField(_("start"))
    planned_end = models.DateField(_("planned end"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PREPARING
    )
    leads = models.ManyToManyField(
        Person, related_name="led_coalitions", blank=True, verbose_name=_("leads")
    )
    bureau_contact = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supported_coalitions",
        verbose_name=_("bureau contact"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    objects = CoalitionQuerySet.as_manager()

    class Meta:
        ordering = ["-school_year", "name"]
        verbose_name = _("coalition")
        verbose_name_plural = _("coalitions")
        constraints = [
            models.UniqueConstraint(
                fields=["name", "school_year"], name="coalition_name_unique_per_year"
            ),
            models.CheckConstraint(
                condition=models.Q(planned_end__gt=models.F("start")),
                name="coalition_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(school_year__regex=r"^[0-9]{4}-[0-9]{4}$"),
                name="coalition_school_year_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.school_year})"
