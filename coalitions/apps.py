from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoalitionsConfig(AppConfig):
    name = "coalitions"
    verbose_name = _("Coalitions")

    def ready(self):
        # The services name their activity-log verbs on import (members.activity).
        # The reminders register their rules with members.notify.
        from . import reminders, services  # noqa: F401
