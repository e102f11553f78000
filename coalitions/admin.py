from django.contrib import admin

from members.admin import ReadOnlyAdmin

from .models import Coalition


@admin.register(Coalition)
class CoalitionAdmin(ReadOnlyAdmin):
    """Read-only: a coalition changes only through coalitions.services (create_coalition,
    update_coalition, transition and the launch), which check the order of the phases, bump
    the versions of what shows it and log who changed what, on the coalition's own pages."""

    list_display = ["name", "school_year", "theme", "status"]
    list_filter = ["status", "school_year"]
    search_fields = ["name", "theme__name"]
