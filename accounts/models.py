"""Roles, the people and clients that hold them, and the API keys of clients."""

from django.contrib.auth.models import AbstractUser
from django.db import models
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


class AuditEvent(models.Model):
    """One security-relevant event: a token issued or refused, revoked or introspected."""

    class Action(models.TextChoices):
        TOKEN_ISSUED = "token.issued", _("token issued")
        TOKEN_REFUSED = "token.refused", _("token refused")
        TOKEN_REVOKED = "token.revoked", _("token revoked")
        REVOCATION_REFUSED = "token.revocation_refused", _("revocation refused")
        TOKEN_INTROSPECTED = "token.introspected", _("token introspected")
        INTROSPECTION_REFUSED = "token.introspection_refused", _("introspection refused")

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    client = models.ForeignKey(
        Client, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    # The client_id as presented, kept even when it matched no client; never a secret.
    client_identifier = models.CharField(max_length=100, blank=True)
    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    requested_scope = models.CharField(max_length=500, blank=True)
    granted_scope = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=40, blank=True, help_text=_("The OAuth error code answered."))
    reason = models.CharField(max_length=200, blank=True, help_text=_("Why, for officers only."))
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.client_identifier} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"
