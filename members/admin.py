"""Django admin: a back door for superusers, not the bureau's interface.

Every change a service guards goes through that service or not through the admin at all: the
admin of people and institutions saves through `save_person` / `save_institution` (so the change
is logged), everything else a service guards is shown read-only (ReadOnlyAdmin) or not
registered. tests/test_admin.py holds each registered model to this.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import EmailDomain, Institution, Invitation, Person, User


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows the rows and changes none: their changes belong to a service (it locks, logs,
    tells people and bumps what depends on them), which the application's own pages call."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
    """Read-only: a domain decides who may sign up, and its changes are logged by the bureau's
    institution page (save_institution with its domains), which the admin's inline would skip."""

    model = EmailDomain
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "short_name", "city", "kind", "brin", "member_since", "member_until"]
    list_filter = ["kind"]
    search_fields = ["name", "short_name", "city", "brin"]
    inlines = [EmailDomainInline]

    def save_model(self, request, obj, form, change):
        from .services import save_institution

        save_institution(form, by=Person.objects.filter(user=request.user).first())

    def has_delete_permission(self, request, obj=None):
        # An institution's membership ends (end_institution_membership), its history stays.
        return False


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

    def has_delete_permission(self, request, obj=None):
        # A person is erased (erase_person: anonymised, the account deleted), never deleted.
        return False


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    """Invitations are made, replaced and used through members.services (invite,
    accept_invitation): one open link per person, its mail through the outbox."""

    list_display = ["person", "created_at", "expires_at", "used_at", "revoked_at"]
    exclude = ["token_hash"]
