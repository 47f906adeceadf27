"""Admin pages for roles, people's roles, clients, API keys, live tokens and the audit trail."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.template.response import TemplateResponse
from django.utils.html import format_html
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from accounts.admin_providers import role_mappings_html  # also registers the providers' pages
from accounts.admin_read_only import ReadOnlyAdminMixin
from accounts.audit import audit_record
from accounts.credentials import new_secret
from accounts.models import ApiKey, AuditEvent, PersonRole, Provider, Role, User
from accounts.services import (
    api_key_issue,
    api_key_revoke,
    client_secret_rotate,
    client_tokens_revoke,
    external_client_create,
)
from claims.admin_policy import ImpactConfirmationMixin, effective_access_html
from claims.policy import Policy, with_role
from claims.selectors import policy_get

Client = get_application_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

# django-oauth-toolkit registers pages of its own for these models; its application page offers
# the client secret as an editable field and its token pages search tokens. Ours replace them.
for dot_model in (Client, AccessToken, RefreshToken, get_grant_model(), get_id_token_model()):
    if admin.site.is_registered(dot_model):
        admin.site.unregister(dot_model)


def credentials_page(request, title: str, rows: list[dict]) -> TemplateResponse:
    """The one page that ever shows a secret or an API key in clear; never cached."""
    context = {**admin.site.each_context(request), "title": title, "rows": rows}
    response = TemplateResponse(request, "admin/accounts/credentials_once.html", context)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


# ------------------------------------------------------------------ roles


class RoleForm(forms.ModelForm):
    class Meta:
        model = Role
        fields = ["name", "description", "scopes"]

    def clean_scopes(self):
        scopes = self.cleaned_data["scopes"]
        if not scopes:
            raise forms.ValidationError(
                "A role needs at least one scope; a token of a role without scopes grants nothing."
            )
        return scopes


@admin.register(Role)
class RoleAdmin(ImpactConfirmationMixin, admin.ModelAdmin):
    form = RoleForm
    list_display = ["name", "description", "scope_list", "effective_access"]
    search_fields = ["name", "description"]
    filter_horizontal = ["scopes"]
    readonly_fields = ["effective_access"]
    fields = ["name", "description", "scopes", "effective_access"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("scopes")

    @admin.display(description="scopes")
    def scope_list(self, obj: Role) -> str:
        return " ".join(sorted(scope.name for scope in obj.scopes.all()))

    @admin.display(description="a token of this role gets, now")
    def effective_access(self, obj: Role | None) -> str:
        return effective_access_html(obj.name if obj and obj.pk else None, policy_get())

    def proposed_policy(self, form, obj: Role | None, current: Policy) -> Policy:
        if obj is not None and obj.name != form.cleaned_data["name"]:
            roles = {name: scopes for name, scopes in current.roles.items() if name != obj.name}
            current = Policy(scopes=current.scopes, roles=roles, attributes=current.attributes)
        return with_role(current, form.cleaned_data["name"], (s.name for s in form.cleaned_data["scopes"]))


# ------------------------------------------------------------------ people


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Superusers only: officers hold no permission on users (they use "people's roles")."""

    list_display = [*DjangoUserAdmin.list_display, "role", "is_active"]
    list_filter = [*DjangoUserAdmin.list_filter, "role"]
    fieldsets = [*DjangoUserAdmin.fieldsets, ("Access", {"fields": ["role"]})]


@admin.register(PersonRole)
class PersonRoleAdmin(admin.ModelAdmin):
    """Officers assign roles to people and can disable them; privileges stay out of reach."""

    list_display = ["username", "first_name", "last_name", "email", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "first_name", "last_name", "email"]
    fields = ["username", "first_name", "last_name", "email", "role", "is_active", "effective_access"]
    readonly_fields = ["username", "first_name", "last_name", "email", "effective_access"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="this person's tokens get, now")
    def effective_access(self, obj: PersonRole) -> str:
        return effective_access_html(obj.role.name if obj.role_id else None, policy_get())


# ------------------------------------------------------------------ clients and API keys


class ClientForm(forms.ModelForm):
    authorization_grant_type = forms.ChoiceField(
        choices=[
            (Client.GRANT_CLIENT_CREDENTIALS, "Integration: client credentials (secret + API key)"),
            (
                Client.GRANT_AUTHORIZATION_CODE,
                "Browser app for people: authorization code + PKCE (no secret)",
            ),
        ],
        help_text="How this client gets tokens.",
    )
    provider_client_id = forms.CharField(
        required=False,
        max_length=100,
        label="client_id at the provider",
        help_text=(
            "External providers only: the client_id this client has at its provider, which checks "
            "its secret (no secret is made here). Built-in clients get a generated client_id."
        ),
    )

    class Meta:
        model = Client
        fields = [
            "name",
            "role",
            "provider",
            "provider_client_id",
            "authorization_grant_type",
            "redirect_uris",
            "is_active",
            "is_resource_server",
            "may_exchange_tokens",
        ]
        help_texts = {
            "name": "Shown to officers and in the audit trail.",
            "redirect_uris": "Browser apps only: exact callback URLs, separated by spaces.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "provider" in self.fields:
            self.fields["provider"].required = False  # not given: the built-in provider

    def clean_provider(self):
        return self.cleaned_data.get("provider") or Provider.objects.get(kind=Provider.Kind.BUILTIN)

    def clean(self):
        cleaned = super().clean()
        adding = self.instance._state.adding
        provider = cleaned.get("provider") if adding else self.instance.provider
        grant_type = cleaned.get("authorization_grant_type", self.instance.authorization_grant_type)
        client_id = cleaned.get("provider_client_id", "")
        if provider is None:
            return cleaned
        if provider.is_builtin:
            if client_id:
                self.add_error("provider_client_id", "Only for clients of an external provider.")
            if cleaned.get("may_exchange_tokens") and grant_type != Client.GRANT_CLIENT_CREDENTIALS:
                self.add_error("may_exchange_tokens", "Only integrations exchange tokens.")
            return cleaned
        # An external provider checks the secret, and only at our token endpoint: such a client
        # has no secret of ours to introspect, exchange or sign people in with.
        if adding:
            if not client_id:
                self.add_error("provider_client_id", f"Give the client_id this client has at {provider}.")
            elif any(c.isspace() or not c.isprintable() for c in client_id):
                self.add_error("provider_client_id", "A client_id holds no spaces or control characters.")
            elif Client.objects.filter(client_id=client_id).exists():
                self.add_error("provider_client_id", "Another client already has this client_id.")
        if grant_type != Client.GRANT_CLIENT_CREDENTIALS:
            self.add_error("authorization_grant_type", "A client of an external provider is an integration.")
        if cleaned.get("redirect_uris"):
            self.add_error("redirect_uris", "Only browser apps of this service have redirect URIs.")
        if cleaned.get("is_resource_server"):
            self.add_error("is_resource_server", "It holds no secret of ours to introspect with.")
        if cleaned.get("may_exchange_tokens"):
            self.add_error("may_exchange_tokens", "It holds no secret of ours to exchange tokens with.")
        return cleaned


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ["prefix", "label", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "revoked_at", "last_used_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # issued through the action, so the key can be shown once


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    form = ClientForm
    list_display = [
        "name",
        "client_id",
        "role",
        "status",
        "kind",
        "provider",
        "is_resource_server",
        "last_used_at",
        "created",
    ]
    list_filter = ["role", "provider", "is_active", "is_resource_server", "authorization_grant_type"]
    search_fields = ["name", "client_id"]
    list_select_related = ["role", "provider"]
    readonly_fields = ["client_id", "effective_access", "last_used_at", "created"]
    inlines = [ApiKeyInline]
    actions = ["rotate_secret", "issue_api_key", "revoke_tokens", "disable"]

    def get_fields(self, request, obj=None):
        fields = ClientForm.Meta.fields
        if obj is None:
            return fields
        fields = [f for f in fields if f != "provider_client_id"]
        return ["client_id", *fields, "effective_access", "last_used_at", "created"]

    def get_readonly_fields(self, request, obj=None):
        # A client's provider is fixed: it decides what its client_id means and who holds its secret.
        if obj is None:
            return self.readonly_fields
        return [*self.readonly_fields, "authorization_grant_type", "provider"]

    @admin.display(description="status", boolean=False, ordering="is_active")
    def status(self, obj) -> str:
        return "active" if obj.is_active else "disabled"

    @admin.display(description="kind", ordering="authorization_grant_type")
    def kind(self, obj) -> str:
        return (
            "integration"
            if obj.authorization_grant_type == Client.GRANT_CLIENT_CREDENTIALS
            else "browser app"
        )

    @admin.display(description="a token of this client gets, now")
    def effective_access(self, obj) -> str:
        policy = policy_get()
        own = effective_access_html(obj.role.name, policy)
        mappings = "" if obj.provider.is_builtin else role_mappings_html(obj.provider, policy)
        if not mappings:
            return own
        return format_html(
            "{}<p>Its provider {} maps roles from its tokens:</p>{}", own, obj.provider.name, mappings
        )

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        if not obj.provider.is_builtin:
            self._external_client_add(request, obj, form)
            return
        is_integration = obj.authorization_grant_type == Client.GRANT_CLIENT_CREDENTIALS
        obj.client_type = Client.CLIENT_CONFIDENTIAL if is_integration else Client.CLIENT_PUBLIC
        obj.requires_api_key = is_integration
        secret = new_secret() if is_integration else ""
        obj.client_secret, obj.hash_client_secret = secret, is_integration
        super().save_model(request, obj, form, change)
        api_key = api_key_issue(client=obj, label="first key")[1] if is_integration else None
        request._issued_credentials = {"client": obj, "client_secret": secret or None, "api_key": api_key}

    def _external_client_add(self, request, obj, form) -> None:
        """A client of an external provider: no secret here, the officer gave its client_id."""
        issued = external_client_create(
            name=obj.name,
            role=obj.role,
            provider=obj.provider,
            client_id=form.cleaned_data["provider_client_id"],
        )
        client = issued.client
        if not obj.is_active:
            client.is_active = False
            client.save(update_fields=["is_active"])
        # The admin goes on with `obj` (its log entry, its redirect): make it the saved client.
        for field in Client._meta.concrete_fields:
            setattr(obj, field.attname, getattr(client, field.attname))
        obj._state.adding, obj._state.db = False, client._state.db
        request._issued_credentials = {"client": client, "client_secret": None, "api_key": issued.api_key}

    def response_add(self, request, obj, post_url_continue=None):
        issued = getattr(request, "_issued_credentials", None)
        if issued is None:
            return super().response_add(request, obj, post_url_continue)
        return credentials_page(request, f"Client “{obj}” created", [issued])

    @admin.action(description="Rotate the secret of the selected integrations (old secret stops at once)")
    def rotate_secret(self, request, queryset):
        confidential = queryset.filter(client_type=Client.CLIENT_CONFIDENTIAL)
        external = list(confidential.exclude(provider__kind=Provider.Kind.BUILTIN).select_related("provider"))
        for client in external:
            self.message_user(
                request,
                f"{client}: its secret is held by provider {client.provider}; rotate it there.",
                messages.ERROR,
            )
        rows = [
            {"client": client, "client_secret": client_secret_rotate(client=client), "api_key": None}
            for client in confidential.filter(provider__kind=Provider.Kind.BUILTIN)
        ]
        if not rows:
            if not external:
                self.message_user(request, "Only integrations have secrets.", messages.WARNING)
            return None
        return credentials_page(request, "New client secrets", rows)

    @admin.action(description="Issue a new API key for the selected clients")
    def issue_api_key(self, request, queryset):
        rows = [
            {
                "client": client,
                "client_secret": None,
                "api_key": api_key_issue(client=client, label="issued by officer")[1],
            }
            for client in queryset
        ]
        return credentials_page(request, "New API keys", rows)

    @admin.action(description="Revoke every token of the selected clients")
    def revoke_tokens(self, request, queryset):
        count = sum(
            client_tokens_revoke(client=client, actor=request.user.get_username()) for client in queryset
        )
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)

    @admin.action(description="Disable the selected clients (their tokens stop working at once)")
    def disable(self, request, queryset):
        for client in queryset:
            client.is_active = False
            client.save(update_fields=["is_active"])  # one by one, so each change is audited
        self.message_user(request, f"{queryset.count()} client(s) disabled.", messages.SUCCESS)


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["client", "label", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["prefix", "client", "label", "status", "created_at", "expires_at", "last_used_at"]
    list_filter = ["client", ("revoked_at", admin.EmptyFieldListFilter), "expires_at"]
    search_fields = ["prefix", "label", "client__name", "client__client_id"]
    list_select_related = ["client"]
    readonly_fields = ["prefix", "created_at", "revoked_at", "last_used_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["client", "label", "expires_at"]
        return ["prefix", "client", "label", "expires_at", "created_at", "revoked_at", "last_used_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else [*self.readonly_fields, "client"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the key's history stays in the trail

    @admin.display(description="status")
    def status(self, obj: ApiKey) -> str:
        if obj.revoked_at:
            return "revoked"
        return "usable" if obj.is_usable() else "expired"

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, clear = api_key_issue(client=obj.client, label=obj.label, expires_at=obj.expires_at)
        obj.pk, obj.prefix = key.pk, key.prefix
        request._issued_credentials = {"client": obj.client, "client_secret": None, "api_key": clear}

    def response_add(self, request, obj, post_url_continue=None):
        return credentials_page(request, "New API key", [request._issued_credentials])

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at=None):
            api_key_revoke(api_key=key)
        self.message_user(request, "API keys revoked.", messages.SUCCESS)


# ------------------------------------------------------------------ tokens


class TokenAdminBase(admin.ModelAdmin):
    """Live tokens, never their values: they are not stored, and nothing here searches them."""

    list_select_related = ["application", "user"]
    search_fields = ["application__name", "application__client_id", "user__username"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessToken)
class AccessTokenAdmin(TokenAdminBase):
    list_display = ["id", "application", "user", "scope", "created", "expires", "live"]
    list_filter = ["application", "expires"]
    fields = ["application", "user", "scope", "created", "expires"]
    readonly_fields = fields
    date_hierarchy = "created"

    @admin.display(boolean=True)
    def live(self, obj) -> bool:
        return not obj.is_expired()

    @admin.action(description="Revoke the selected tokens (and their refresh tokens)")
    def revoke(self, request, queryset):
        from oauth2_provider.models import revoke_access_token

        tokens = list(queryset.select_related("application"))
        for token in tokens:
            revoke_access_token(token)
            audit_record(
                action=AuditEvent.Action.TOKEN_REVOKED,
                client=token.application,
                user=token.user,
                granted_scope=token.scope,
                reason=f"revoked by officer {request.user.get_username()}",
            )
        self.message_user(request, f"{len(tokens)} token(s) revoked.", messages.SUCCESS)


@admin.register(RefreshToken)
class RefreshTokenAdmin(TokenAdminBase):
    list_display = ["id", "application", "user", "created", "revoked"]
    list_filter = ["application", ("revoked", admin.EmptyFieldListFilter)]
    fields = ["application", "user", "created", "revoked", "token_family"]
    readonly_fields = fields

    @admin.action(description="Revoke the selected refresh tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked=None):
            token.revoke()
        self.message_user(request, "Refresh tokens revoked.", messages.SUCCESS)


# ------------------------------------------------------------------ audit trail of the token service


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: token issuance, refusals, revocations and introspections."""

    list_display = [
        "occurred_at",
        "action",
        "client_identifier",
        "user",
        "granted_scope",
        "error",
        "reason",
        "source_ip",
    ]
    list_filter = ["action", "error", "client", "occurred_at"]
    search_fields = ["client_identifier", "reason", "requested_scope", "granted_scope", "source_ip"]
    date_hierarchy = "occurred_at"
    list_select_related = ["client", "user"]
