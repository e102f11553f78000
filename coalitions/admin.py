from django.contrib import admin

from .models import Coalition


@admin.register(Coalition)
class CoalitionAdmin(admin.ModelAdmin):
    list_display = ["name", "school_year", "theme", "status"]
    list_filter = ["status", "school_year"]
    search_fields = ["name", "theme"]
    filter_horizontal = ["leads"]
