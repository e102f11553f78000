from django.contrib import admin

from .models import Session


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    """A back door: publishing and cancelling go through events.services (on the session
    page), which tell the people invited or signed up and log who did it."""

    list_display = ["title", "kind", "start", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["title"]
    filter_horizontal = ["coalitions"]
    readonly_fields = ["status"]
