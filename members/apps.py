from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self):
        # The services name their activity-log verbs on import (members.activity).
        from allauth.account.signals import email_confirmed
        from allauth.mfa.signals import authenticator_added
        from django.db.backends.signals import connection_created

        from . import services  # noqa: F401
        from .forms import link_person_on_verification

        def _link(sender, request, email_address, **kwargs):
            link_person_on_verification(email_address.user)

        def _sqlite_collation(sender, connection, **kwargs):
            if connection.vendor == "sqlite":
                from .models import dutch_key

                connection.connection.create_collation(
                    "dutch",
                    lambda a, b: (dutch_key(a) > dutch_key(b)) - (dutch_key(a) < dutch_key(b)),
                )

        connection_created.connect(
            _sqlite_collation, weak=False, dispatch_uid="members.sqlite_dutch_collation"
        )

        def _ask_to_confirm(sender, request, user, **kwargs):
            from .second_factor import on_authenticator_added

            on_authenticator_added(request, user)

        authenticator_added.connect(
            _ask_to_confirm, weak=False, dispatch_uid="members.confirm_second_factor"
        )
        # weak=False: a local function is otherwise collected and the signal silently drops it.
        email_confirmed.connect(
            _link, weak=False, dispatch_uid="members.link_person_on_verification"
        )
