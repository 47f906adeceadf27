"""Admin pages for credential providers: the registry with its status, presets, the discovery
check shown before saving, the role mappings, and the tokens handed out through providers."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.forms.formsets import all_valid
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.debug import sensitive_post_parameters

from accounts.admin_read_only import ReadOnlyAdminMixin
from accounts.models import ForwardedToken, Provider, ProviderRoleMapping
from accounts.provider_forms import (
    CONFIRMED,
    FOUND,
    SEALED_SECRET,
    SECRET_FIELD,
    BuiltinProviderForm,
    Found,
    Kind,
    ProviderForm,
)
from claims.admin_policy import effective_access_html
from claims.policy import Policy
from claims.selectors import policy_get
from tokensvc.providers.errors import ProviderUnavailable
from tokensvc.providers.jwks import forget_keys
from tokensvc.providers.secret_box import seal
from tokensvc.providers.services import (
    ENDPOINT_FIELDS,
    provider_metadata_apply,
    provider_refresh,
    provider_secret_set,
)

STATUS_FIELDS = (*ENDPOINT_FIELDS, "metadata_fetched_at", "jwks_key_ids", "jwks_fetched_at")
# What officers see of a provider's metadata and health (read-only).
STATUS_DISPLAY = (
    "token_endpoint",
    "jwks_uri",
    "introspection_endpoint",
    "auth_methods",
    "metadata_fetched_at",
    "key_ids",
    "jwks_fetched_at",
    "last_error",
    "last_error_at",
    "client_count",
)


def role_mappings_html(provider: Provider, policy: Policy) -> str:
    """What each of the provider's role mappings gives a token, best first; "" without any."""
    mappings = list(provider.role_mappings.select_related("role"))
    if not mappings:
        return ""
    claim = provider.role_claim or "(no role claim set, so this mapping is not used)"
    items = format_html_join(
        "",
        "<li>tokens carrying {}={} get role {}: {}</li>",
        (
            (claim, mapping.value, mapping.role.name, effective_access_html(mapping.role.name, policy))
            for mapping in mappings
        ),
    )
    return format_html(
        '<ul class="role-mappings">{}</ul><p>Tokens carrying none of these values get their '
        "client's role.</p>",
        items,
    )


# ------------------------------------------------------------------ admin pages


class ProviderRoleMappingInline(admin.TabularInline):
    model = ProviderRoleMapping
    fields = ["value", "role", "priority"]
    extra = 1
    verbose_name = "role mapping"
    verbose_name_plural = "role mappings: a value of the role claim that gives one of our roles"


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = [
        "name",
        "kind",
        "issuer",
        "is_active",
        "metadata_fetched_at",
        "key_ids",
        "last_error_display",
        "client_count",
    ]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "issuer"]
    actions = ["refresh"]
    inlines = [ProviderRoleMappingInline]
    confirm_template = "admin/accounts/provider_confirm.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(client_total=Count("clients"))

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.is_builtin:
            return [(None, {"fields": ["name", "kind", "builtin_note", "client_count"]})]
        fieldsets = [
            (None, {"fields": ["name", "kind", "is_active"]}),
            (
                "Where it is",
                {
                    "fields": [
                        "issuer",
                        "keycloak_url",
                        "keycloak_realm",
                        "auth0_domain",
                        "okta_domain",
                        "okta_authorization_server",
                        "entra_tenant",
                    ],
                    "description": (
                        "Custom: the issuer URL. Keycloak: server URL and realm. Auth0: tenant domain. "
                        "Okta: domain and authorization server. Entra ID: tenant. Google: nothing. "
                        "On saving, the provider's metadata is read and shown for confirmation."
                    ),
                },
            ),
            (
                "Its tokens",
                {
                    "fields": [
                        "audience",
                        "audience_parameter",
                        "request_scope",
                        "validation",
                        "algorithms",
                        "scopes_from_token",
                        "role_claim",
                    ]
                },
            ),
            (
                "Introspection (opaque tokens)",
                {
                    "fields": [
                        "introspection_client_id",
                        SECRET_FIELD,
                        *(["secret_stored", "forget_introspection_secret"] if obj else []),
                    ]
                },
            ),
        ]
        if obj is not None:
            fieldsets += [
                (
                    "What its metadata said, and how the last contact went",
                    {"fields": list(STATUS_DISPLAY)},
                ),
                ("Role mappings in effect", {"fields": ["role_mappings_preview"]}),
            ]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_builtin:
            return ["kind", "builtin_note", "client_count"]
        return [
            "secret_stored",
            *STATUS_DISPLAY,
            "role_mappings_preview",
        ]

    def get_inlines(self, request, obj):
        return [] if obj is not None and obj.is_builtin else self.inlines

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and obj.is_builtin:
            kwargs["form"] = BuiltinProviderForm
        form = super().get_form(request, obj, change, **kwargs)
        # One discovery per issuer and request, however often the form is validated.
        form.discoveries = request.__dict__.setdefault("_provider_discoveries", {})
        return form

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_builtin:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if any(obj.is_builtin for obj in objs):
            perms_needed = {*perms_needed, "the built-in provider (it is always present)"}
        return deleted, model_count, perms_needed, protected

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset.exclude(kind=Kind.BUILTIN))

    def delete_model(self, request, obj) -> None:
        if obj.is_builtin:
            raise PermissionDenied
        super().delete_model(request, obj)

    # -- columns and read-only fields

    @admin.display(description="clients", ordering="client_total")
    def client_count(self, obj: Provider) -> int:
        total = getattr(obj, "client_total", None)
        return obj.clients.count() if total is None else total

    @admin.display(description="JWKS key ids")
    def key_ids(self, obj: Provider) -> str:
        return ", ".join(obj.jwks_key_ids or []) or "—"

    @admin.display(description="token endpoint auth methods")
    def auth_methods(self, obj: Provider) -> str:
        return ", ".join(obj.token_endpoint_auth_methods or []) or "—"

    @admin.display(description="last error", ordering="last_error_at")
    def last_error_display(self, obj: Provider) -> str:
        if not obj.last_error:
            return "—"
        if obj.last_error_at is None:
            return obj.last_error
        return f"{obj.last_error} ({timezone.localtime(obj.last_error_at):%Y-%m-%d %H:%M:%S})"

    @admin.display(description="introspection secret stored")
    def secret_stored(self, obj: Provider) -> str:
        return "yes (encrypted; never shown)" if obj.introspection_secret_encrypted else "no"

    @admin.display(description="what it is")
    def builtin_note(self, obj: Provider) -> str:
        return (
            "This service's own OAuth server (django-oauth-toolkit): it checks the secrets of its "
            "clients and issues their tokens. It is always present and cannot be deleted."
        )

    @admin.display(description="tokens of its clients get, now")
    def role_mappings_preview(self, obj: Provider) -> str:
        html = role_mappings_html(obj, policy_get())
        return html or "No role mapping: every token gets its client's role."

    # -- the discovery check before saving

    @method_decorator(sensitive_post_parameters(SECRET_FIELD, SEALED_SECRET))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and CONFIRMED not in request.POST:
            confirmation = self._confirmation_if_needed(request, object_id)
            if confirmation is not None:
                return confirmation
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _confirmation_if_needed(self, request, object_id) -> HttpResponse | None:
        """The confirmation page when the posted provider is valid and its metadata was read;
        None to let the admin go on (errors, a built-in or inactive provider, no permission)."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        if object_id and obj is None:
            return None
        allowed = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        if not allowed:
            return None
        form = self.get_form(request, obj, change=obj is not None)(request.POST, request.FILES, instance=obj)
        formsets, _ = self._create_formsets(request, form.instance, change=obj is not None)
        if not form.is_valid() or getattr(form, "found", None) is None or not all_valid(formsets):
            return None
        return self._confirmation(request, obj, form, form.found)

    def _confirmation(self, request, obj: Provider | None, form: ProviderForm, found: Found) -> HttpResponse:
        methods = found.metadata.token_endpoint_auth_methods
        warnings = []
        if not {"client_secret_basic", "client_secret_post"} & set(methods):
            warnings.append(
                "It accepts neither client_secret_basic nor client_secret_post: the token endpoint "
                "cannot forward its clients' requests (its tokens are still accepted by the API)."
            )
        if found.metadata.jwks_uri and not found.key_ids:
            warnings.append("Its key set holds no key with a key id.")
        skipped = {"csrfmiddlewaretoken", SECRET_FIELD, SEALED_SECRET, FOUND, CONFIRMED}
        post_items = [
            (key, value) for key, values in request.POST.lists() if key not in skipped for value in values
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Confirm what the provider's metadata says",
            "object": obj,
            "name": form.cleaned_data["name"],
            "opts": self.opts,
            "found": found,
            "metadata": found.metadata,
            "warnings": warnings,
            "post_items": post_items,
            "found_signed": found.signed(obj.pk if obj else None),
            "sealed_secret": seal(form.new_secret) if form.new_secret else "",
            "confirmed_name": CONFIRMED,
            "found_name": FOUND,
            "sealed_name": SEALED_SECRET,
        }
        response = TemplateResponse(request, self.confirm_template, context)
        response["Cache-Control"] = "no-store"
        return response

    def save_model(self, request, obj: Provider, form, change: bool) -> None:
        if obj.is_builtin:
            super().save_model(request, obj, form, change)
            return
        found = form.found
        if found is not None and not form.confirmed:
            raise PermissionDenied  # never saved without the officer having seen what was found
        update_fields = [f.name for f in Provider._meta.concrete_fields if f.name in form.fields]
        if found is not None:
            provider_metadata_apply(obj, found.metadata, fetched_at=found.fetched_at)
            obj.jwks_key_ids, obj.jwks_fetched_at = found.key_ids, found.fetched_at
            update_fields += STATUS_FIELDS
        elif change and Provider.objects.values_list("issuer", flat=True).get(pk=obj.pk) != obj.issuer:
            # A new issuer saved unasked (inactive): the old issuer's endpoints must not stay.
            for name in STATUS_FIELDS:
                setattr(obj, name, Provider._meta.get_field(name).get_default())
            update_fields += STATUS_FIELDS
        # On a change, only what the form and the confirmed metadata hold: the status fields
        # written meanwhile (key ids, last error) and a concurrently set secret stay.
        obj.save(update_fields=update_fields if change else None)
        if form.new_secret is not None:
            provider_secret_set(obj, form.new_secret)
        forget_keys()

    # -- actions

    @admin.action(description="Refresh metadata and keys", permissions=["change"])
    def refresh(self, request, queryset) -> None:
        for provider in queryset:
            if provider.is_builtin:
                self.message_user(request, f"{provider}: built in, nothing to fetch.", messages.INFO)
                continue
            try:
                metadata = provider_refresh(provider)
            except ProviderUnavailable as error:
                self.message_user(request, f"{provider}: {error.reason}", messages.ERROR)
                continue
            keys = ", ".join(provider.jwks_key_ids) or "none"
            self.message_user(
                request,
                f"{provider}: token endpoint {metadata.token_endpoint}; key ids {keys}.",
                messages.SUCCESS,
            )
        # This process's key sets are read again at the next token; other processes see new
        # endpoints through the registry and new keys at the next unknown key id.
        forget_keys()


@admin.register(ForwardedToken)
class ForwardedTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Tokens of external providers that our token endpoint handed out: never the token (only
    its checksum is stored, and not shown); read-only, revoked through the client's actions."""

    list_display = ["id", "provider", "client", "scope", "created", "expires", "revoked"]
    list_filter = ["provider", ("revoked", admin.EmptyFieldListFilter), "expires"]
    search_fields = ["client__name", "client__client_id"]
    list_select_related = ["provider", "client"]
    fields = ["provider", "client", "scope", "created", "expires", "revoked"]
    readonly_fields = fields
