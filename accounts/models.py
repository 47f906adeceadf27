"""Roles, the people and clients that hold them, the clients' API keys, and the credential
providers that authenticate clients (the built-in one and external OAuth servers)."""

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication

from claims.validators import identifier_validator


class Role(models.Model):
    """A named set of scopes; every client and, optionally, every user holds one."""

    name = models.CharField(
        max_length=40,
        unique=True,
        validators=[identifier_validator],
        help_text=_("Short name, e.g. 'manager'."),
    )
    description = models.CharField(max_length=200, blank=True, help_text=_("Who should hold this role."))
    scopes = models.ManyToManyField(
        "claims.Scope",
        related_name="roles",
        blank=True,
        help_text=_("The scopes a token of this role may carry."),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person: staff who manage the policy, or an end user of the authorization-code flow."""

    role = models.ForeignKey(
        Role,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        help_text=_("Decides the scopes of tokens issued to this person; none means no access."),
    )


class PersonRole(User):
    """People as security officers see them: only whose role is what, never their privileges."""

    class Meta:
        proxy = True
        verbose_name = _("person's role")
        verbose_name_plural = _("people's roles")


ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)


def _algorithms_validator(value: str) -> None:
    unknown = sorted(set(value.split()) - set(ASYMMETRIC_ALGORITHMS))
    if unknown or not value.split():
        raise ValidationError(
            _("Name one or more of: %(allowed)s (asymmetric signatures only; never 'none' or HS*)."),
            params={"allowed": " ".join(ASYMMETRIC_ALGORITHMS)},
        )


class Provider(models.Model):
    """Who checks a client's credentials and issues its tokens.

    The built-in provider (django-oauth-toolkit) always exists and is every client's default.
    An external provider is an OAuth server found through its issuer's metadata; our policy
    (role -> scopes -> claims) applies to its tokens as to ours.
    """

    class Kind(models.TextChoices):
        BUILTIN = "builtin", _("built-in (this service)")
        KEYCLOAK = "keycloak", _("Keycloak")
        AUTH0 = "auth0", _("Auth0")
        OKTA = "okta", _("Okta")
        ENTRA = "entra", _("Microsoft Entra ID")
        GOOGLE = "google", _("Google")
        CUSTOM = "custom", _("custom (any standards-compliant server)")

    class Validation(models.TextChoices):
        JWT = "jwt", _("JWT access tokens, checked against the provider's keys (JWKS)")
        INTROSPECTION = "introspection", _("opaque tokens, checked at its introspection endpoint")

    class AudienceParameter(models.TextChoices):
        NONE = "", _("none")
        AUDIENCE = "audience", _("audience (Auth0 and others)")
        RESOURCE = "resource", _("resource (RFC 8707)")

    name = models.CharField(
        max_length=40,
        unique=True,
        validators=[identifier_validator],
        help_text=_("Short name, e.g. 'corp_sso'."),
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CUSTOM)
    is_active = models.BooleanField(
        default=True, help_text=_("An inactive provider issues nothing and its tokens are refused.")
    )
    issuer = models.URLField(
        max_length=300,
        blank=True,
        help_text=_("The issuer identifier; its metadata is read from the well-known locations."),
    )
    audience = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("The 'aud' its access tokens must carry to be accepted by this API."),
    )
    audience_parameter = models.CharField(
        max_length=20,
        choices=AudienceParameter.choices,
        blank=True,
        default=AudienceParameter.NONE,
        help_text=_("How a token request names that audience to the provider."),
    )
    request_scope = models.CharField(
        max_length=500, blank=True, help_text=_("The scope to ask the provider for (its own names).")
    )
    validation = models.CharField(max_length=20, choices=Validation.choices, default=Validation.JWT)
    algorithms = models.CharField(
        max_length=100,
        default="RS256 ES256",
        validators=[_algorithms_validator],
        help_text=_("Signature algorithms accepted on its JWTs, separated by spaces."),
    )
    scopes_from_token = models.BooleanField(
        default=False,
        help_text=_(
            "Its tokens carry our scope names (scope or scp): a token then grants at most those. "
            "Otherwise the role decides alone."
        ),
    )
    role_claim = models.CharField(
        max_length=100,
        blank=True,
        help_text=_("A claim of its tokens (e.g. 'roles', 'groups') whose values map to our roles."),
    )
    introspection_client_id = models.CharField(
        max_length=200, blank=True, help_text=_("Our client at the provider, for introspection.")
    )
    # Fernet token of the secret, with a key from the environment; the admin never shows it.
    introspection_secret_encrypted = models.TextField(blank=True, editable=False)

    # What the metadata said, and how the last contact went: shown to officers.
    token_endpoint = models.URLField(max_length=300, blank=True, editable=False)
    jwks_uri = models.URLField(max_length=300, blank=True, editable=False)
    introspection_endpoint = models.URLField(max_length=300, blank=True, editable=False)
    token_endpoint_auth_methods = models.JSONField(default=list, blank=True, editable=False)
    metadata_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    jwks_key_ids = models.JSONField(default=list, blank=True, editable=False)
    jwks_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=300, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(kind="builtin"), name="provider_one_builtin"
            ),
            models.UniqueConstraint(
                fields=["issuer"], condition=~models.Q(issuer=""), name="provider_unique_issuer"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.kind == self.Kind.BUILTIN


def builtin_provider_id() -> int:
    """The default provider of a new client (created by migration, never deleted)."""
    return Provider.objects.only("pk").get(kind=Provider.Kind.BUILTIN).pk


class ProviderRoleMapping(models.Model):
    """A value of the provider's role claim that gives our role (lowest priority number wins)."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="role_mappings")
    value = models.CharField(max_length=200, help_text=_("e.g. 'manager' in roles, or a group name."))
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="provider_mappings")
    priority = models.PositiveSmallIntegerField(
        default=100, help_text=_("When a token carries several mapped values, the lowest number wins.")
    )

    class Meta:
        ordering = ["provider", "priority", "value"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "value"], name="provider_mapping_unique_value"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.value} -> {self.role}"


class Client(AbstractApplication):
    """An OAuth application (integration or browser app) and the role its tokens follow."""

    role = models.ForeignKey(
        Role,
        on_delete=models.PROTECT,
        related_name="clients",
        help_text=_("Decides the scopes of this client's tokens."),
    )
    is_active = models.BooleanField(
        default=True,
        help_text=_("A disabled client can neither get tokens nor use the ones it has."),
    )
    is_resource_server = models.BooleanField(
        default=False,
        help_text=_("May ask the introspection endpoint what other tokens grant."),
    )
    requires_api_key = models.BooleanField(
        default=True,
        help_text=_("Every token, revocation and introspection request must carry one of its API keys."),
    )
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text=_("Last successful authentication (to the minute).")
    )
    provider = models.ForeignKey(
        Provider,
        on_delete=models.PROTECT,
        related_name="clients",
        default=builtin_provider_id,
        help_text=_(
            "Who checks this client's secret and issues its tokens. For an external provider, "
            "the client_id is the one the provider knows."
        ),
    )
    may_exchange_tokens = models.BooleanField(
        default=False,
        help_text=_("May trade an external provider's access token for one of ours (RFC 8693)."),
    )

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name or self.client_id

    def is_usable(self, request) -> bool:
        """DOT's hook, checked at issuance and on every API call: a disabled client is out."""
        return self.is_active


class ApiKey(models.Model):
    """A second credential a client sends in `X-API-Key`; stored as a keyed hash only."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(
        max_length=16,
        unique=True,
        editable=False,
        help_text=_("The public start of the key, to tell keys apart; not a secret."),
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(max_length=100, blank=True, help_text=_("What this key is used for."))
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text=_("After this moment the key is refused; empty means never.")
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text=_("Last successful use (to the minute).")
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")

    def __str__(self) -> str:
        return f"{self.prefix}…"

    def is_usable(self, now=None) -> bool:
        """Neither revoked nor expired."""
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ForwardedToken(models.Model):
    """An external provider's access token handed out by our token endpoint.

    Kept (by SHA-256, never the token) so that what we answered holds at the API: the scope
    we granted, which may be narrower than the role's, and revocation through our endpoint.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="forwarded_tokens")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="forwarded_tokens")
    token_checksum = models.CharField(max_length=64, unique=True)
    scope = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(db_index=True)
    revoked = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.client} via {self.provider} (until {self.expires:%Y-%m-%d %H:%M})"


class AuditEvent(models.Model):
    """One security-relevant event: a token issued or refused, revoked or introspected."""

    class Action(models.TextChoices):
        TOKEN_ISSUED = "token.issued", _("token issued")
        TOKEN_REFUSED = "token.refused", _("token refused")
        TOKEN_REVOKED = "token.revoked", _("token revoked")
        REVOCATION_REFUSED = "token.revocation_refused", _("revocation refused")
        TOKEN_INTROSPECTED = "token.introspected", _("token introspected")
        INTROSPECTION_REFUSED = "token.introspection_refused", _("introspection refused")
        TOKEN_EXCHANGED = "token.exchanged", _("token exchanged")
        PROVIDER_REFUSED = "provider.refused", _("refused by the provider")
        PROVIDER_UNAVAILABLE = "provider.unavailable", _("provider unavailable")

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    client = models.ForeignKey(
        Client, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    # The client_id as presented, kept even when it matched no client; never a secret.
    client_identifier = models.CharField(max_length=100, blank=True)
    # Most events have neither a person nor a provider (client_credentials, introspection): the
    # indexes on these two hold only the events that do (Meta.indexes), so that the others,
    # written on every token, do not each add an entry to both.
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    provider = models.ForeignKey(
        Provider,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
        db_index=False,
    )
    requested_scope = models.CharField(max_length=500, blank=True)
    granted_scope = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=40, blank=True, help_text=_("The OAuth error code answered."))
    reason = models.CharField(max_length=200, blank=True, help_text=_("Why, for officers only."))
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["user"], name="audit_event_user", condition=Q(user__isnull=False)),
            models.Index(
                fields=["provider"], name="audit_event_provider", condition=Q(provider__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.client_identifier} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"
