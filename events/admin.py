from django.contrib import admin

from .models import Session


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "start", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["title"]
    filter_horizontal = ["coalitions"]
