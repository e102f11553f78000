from django.contrib import admin

from members.admin import ReadOnlyAdmin

from .models import Session


@admin.register(Session)
class SessionAdmin(ReadOnlyAdmin):
    """Read-only: a session changes only through events.services (create_session,
    change_session, publish, cancel_session, add_coalitions), which raise the calendar's
    SEQUENCE, give added places to the waiting list first, tell the people signed up and log
    who did it. The session's own pages are where the bureau changes it."""

    list_display = ["title", "kind", "start", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["title"]
