from django.contrib import admin

from .models import Coalition


@admin.register(Coalition)
class CoalitionAdmin(admin.ModelAdmin):
    """A back door: the lifecycle moves only through coalitions.services.transition (on the
    coalition page), which checks the order of the phases and logs who moved it."""

    list_display = ["name", "school_year", "theme", "status"]
    list_filter = ["status", "school_year"]
    search_fields = ["name", "theme__name"]
    filter_horizontal = ["leads"]
    readonly_fields = ["status"]
