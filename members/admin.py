"""Django admin: a back door for superusers, not the bureau's interface."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import EmailDomain, Institution, Invitation, Person, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "is_active", "is_superuser", "last_login"]
    search_fields = ["email"]
    fieldsets = [
        (None, {"fields": ["email", "password", "language"]}),
        (
            "Rechten",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Data", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class EmailDomainInline(admin.TabularInline):
    model = EmailDomain
    extra = 0


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "short_name", "city", "kind", "brin", "member_since", "member_until"]
    list_filter = ["kind"]
    search_fields = ["name", "short_name", "city", "brin"]
    inlines = [EmailDomainInline]

    def save_model(self, request, obj, form, change):
        from .services import save_institution

        save_institution(form, by=Person.objects.filter(user=request.user).first())


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = [
        "last_name",
        "first_name",
        "email",
        "institution",
        "is_bureau_staff",
        "is_ambassador",
    ]
    list_filter = ["is_bureau_staff", "is_ambassador"]
    search_fields = ["first_name", "last_name", "email"]
    list_select_related = ["institution"]
    raw_id_fields = ["user", "institution"]

    def save_model(self, request, obj, form, change):
        # Through the one door, so a change here (bureau rights above all) is in the log too.
        from .services import save_person

        save_person(form, by=Person.objects.filter(user=request.user).first())


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["person", "created_at", "expires_at", "used_at", "revoked_at"]
    raw_id_fields = ["person", "invited_by"]
    readonly_fields = ["token_hash"]
