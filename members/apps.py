from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self):
        # The services name their activity-log verbs on import (members.activity).
        from allauth.account.signals import email_confirmed

        from . import services  # noqa: F401
        from .forms import link_person_on_verification

        def _link(sender, request, email_address, **kwargs):
            link_person_on_verification(email_address.user)

        email_confirmed.connect(_link, dispatch_uid="members.link_person_on_verification")
