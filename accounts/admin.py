"""Admin pages for roles, people, clients and API keys."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from oauth2_provider.models import get_application_model

from accounts.models import ApiKey, Role, User

Client = get_application_model()


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]
    filter_horizontal = ["scopes"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = [*DjangoUserAdmin.list_display, "role"]
    list_filter = [*DjangoUserAdmin.list_filter, "role"]
    fieldsets = [*DjangoUserAdmin.fieldsets, ("Access", {"fields": ["role"]})]


# django-oauth-toolkit registers its own page for the application model, which offers the
# client secret as an editable field; clients get this page instead.
if admin.site.is_registered(Client):
    admin.site.unregister(Client)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "client_id", "role", "is_active", "is_resource_server", "created"]
    list_filter = ["role", "is_active", "is_resource_server"]
    search_fields = ["name", "client_id"]
    fields = [
        "name",
        "client_id",
        "role",
        "is_active",
        "is_resource_server",
        "client_type",
        "authorization_grant_type",
        "redirect_uris",
    ]
    readonly_fields = ["client_id"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "client", "label", "created_at", "expires_at", "revoked_at"]
    list_filter = ["client"]
    search_fields = ["prefix", "label", "client__name"]
    readonly_fields = ["prefix", "created_at", "revoked_at"]
