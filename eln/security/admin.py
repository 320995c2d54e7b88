"""API tokens and failed logins, for lab managers to look at: keys are never stored, so never
shown; a token is revoked by its owner (page API tokens, or the API)."""
from django.contrib import admin

from eln.admin import ReadOnlyAdminMixin
from eln.security.models import ApiToken, LoginFailure


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "label", "key_prefix", "state", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("user__username", "label", "key_prefix")
    list_select_related = ("user",)


@admin.register(LoginFailure)
class LoginFailureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("username", "address", "at")
    search_fields = ("username", "address")
