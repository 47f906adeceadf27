"""The provider form of the admin: presets that fill in the issuer, the write-only secret, and
the metadata read from the issuer (`Found`) that the officer confirms before anything is saved."""

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import unquote as url_unquote

from django import forms
from django.core import signing
from django.utils import timezone

from accounts.models import ASYMMETRIC_ALGORITHMS, Provider
from tokensvc.providers.discovery import Metadata, metadata_fetch
from tokensvc.providers.errors import ProviderUnavailable
from tokensvc.providers.jwks import KEY_TYPE
from tokensvc.providers.outbound import url_problem
from tokensvc.providers.presets import PresetError, PresetInputs, preset_issuer
from tokensvc.providers.secret_box import SecretUnreadable, unseal
from tokensvc.providers.services import (
    jwks_key_ids_fetch,
)

Kind = Provider.Kind
PRESET_KINDS = (Kind.KEYCLOAK, Kind.AUTH0, Kind.OKTA, Kind.ENTRA, Kind.GOOGLE)

# The confirmation page carries what was found, signed, so that the confirmed save stores
# exactly what the officer saw; after this long it must be looked at again.
FOUND_SALT = "accounts.admin_providers.found"
FOUND_MAX_AGE_SECONDS = 15 * 60
CONFIRMED = "_provider_confirmed"
FOUND = "_provider_found"
SEALED_SECRET = "_introspection_secret_sealed"  # noqa: S105 (a field name)
SECRET_FIELD = "introspection_secret"  # noqa: S105 (a field name)

# Preset inputs, read back from a stored issuer so that the change form shows them again.
_PRESET_ISSUERS = {
    Kind.KEYCLOAK: re.compile(r"^(?P<keycloak_url>https?://.+)/realms/(?P<keycloak_realm>[^/]+)$"),
    Kind.AUTH0: re.compile(r"^https://(?P<auth0_domain>[^/]+)/$"),
    Kind.OKTA: re.compile(r"^https://(?P<okta_domain>[^/]+)/oauth2/(?P<okta_authorization_server>[^/]+)$"),
    Kind.ENTRA: re.compile(r"^https://login\.microsoftonline\.com/(?P<entra_tenant>[^/]+)/v2\.0$"),
}


@dataclass(frozen=True)
class Found:
    """What the issuer's metadata and key set said, at `fetched_at`."""

    metadata: Metadata
    key_ids: list[str]
    fetched_at: datetime

    def signed(self, provider_pk: int | None) -> str:
        payload = {
            "pk": provider_pk,
            "metadata": asdict(self.metadata),
            "key_ids": self.key_ids,
            "fetched_at": self.fetched_at.isoformat(),
        }
        return signing.dumps(payload, salt=FOUND_SALT, compress=True)

    @classmethod
    def from_signed(cls, value: str, *, provider_pk: int | None, issuer: str) -> "Found | None":
        try:
            payload = signing.loads(value, salt=FOUND_SALT, max_age=FOUND_MAX_AGE_SECONDS)
        except signing.BadSignature:
            return None
        if payload.get("pk") != provider_pk or payload["metadata"].get("issuer") != issuer:
            return None
        return cls(
            metadata=Metadata(**payload["metadata"]),
            key_ids=list(payload["key_ids"]),
            fetched_at=datetime.fromisoformat(payload["fetched_at"]),
        )


def discover(issuer: str) -> Found | str:
    """The issuer's metadata and key ids, or why they could not be read."""
    try:
        metadata = metadata_fetch(issuer)
        key_ids = jwks_key_ids_fetch(metadata.jwks_uri) if metadata.jwks_uri else []
    except ProviderUnavailable as error:
        return error.reason
    return Found(metadata=metadata, key_ids=key_ids, fetched_at=timezone.now())


class BuiltinProviderForm(forms.ModelForm):
    """The built-in provider: only its name; it is always there and always this service."""

    class Meta:
        model = Provider
        fields = ["name"]


class ProviderForm(forms.ModelForm):
    """An external provider. Preset kinds fill in the issuer; on save its metadata is read
    (`found`), and the admin asks the officer to confirm it before anything is stored."""

    # Plain text: for preset kinds whatever is typed here is replaced, and the model checks the URL.
    issuer = forms.CharField(
        required=False,
        max_length=300,
        label="Issuer URL",
        help_text="Custom providers: the issuer URL. Preset kinds fill it in from the fields below.",
    )
    keycloak_url = forms.CharField(
        required=False, label="Keycloak server URL", help_text="e.g. https://sso.example.com"
    )
    keycloak_realm = forms.CharField(required=False, label="Keycloak realm")
    auth0_domain = forms.CharField(
        required=False, label="Auth0 tenant domain", help_text="e.g. example.eu.auth0.com"
    )
    okta_domain = forms.CharField(required=False, label="Okta domain", help_text="e.g. example.okta.com")
    okta_authorization_server = forms.CharField(
        required=False, initial="default", label="Okta authorization server id"
    )
    entra_tenant = forms.CharField(
        required=False, label="Entra tenant", help_text="The directory (tenant) id, or its domain."
    )
    introspection_secret = forms.CharField(
        required=False,
        strip=False,
        label="Introspection client secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the current one. Stored encrypted and never shown again.",
    )
    forget_introspection_secret = forms.BooleanField(
        required=False, label="Forget the stored introspection secret"
    )

    # Set by the admin: discoveries already made in this request (issuer -> Found or error).
    discoveries: dict | None = None

    class Meta:
        model = Provider
        fields = [
            "name",
            "kind",
            "is_active",
            "issuer",
            "audience",
            "audience_parameter",
            "request_scope",
            "validation",
            "algorithms",
            "scopes_from_token",
            "role_claim",
            "introspection_client_id",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.found: Found | None = None
        self.confirmed = False
        self.new_secret: str | None = None  # None: keep; "": forget; else the new secret
        if "kind" in self.fields:
            self.fields["kind"].choices = [c for c in self.fields["kind"].choices if c[0] != Kind.BUILTIN]
        pattern = _PRESET_ISSUERS.get(self.instance.kind) if self.instance.pk else None
        match = pattern.match(self.instance.issuer) if pattern else None
        if match:
            self.initial.update({name: url_unquote(value) for name, value in match.groupdict().items()})

    def clean_algorithms(self) -> str:
        algorithms = list(dict.fromkeys(self.cleaned_data["algorithms"].split()))
        unknown = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS or a not in KEY_TYPE]
        if unknown or not algorithms:
            raise forms.ValidationError(
                "Name one or more of: %(allowed)s (asymmetric signatures only; never 'none' or HS*).",
                params={"allowed": " ".join(a for a in ASYMMETRIC_ALGORITHMS if a in KEY_TYPE)},
            )
        return " ".join(algorithms)

    @staticmethod
    def _preset_inputs(kind: str, cleaned: dict) -> PresetInputs:
        return PresetInputs(
            base_url=cleaned.get("keycloak_url", ""),
            realm=cleaned.get("keycloak_realm", ""),
            domain=cleaned.get("okta_domain" if kind == Kind.OKTA else "auth0_domain", ""),
            authorization_server=cleaned.get("okta_authorization_server", "") or "default",
            tenant=cleaned.get("entra_tenant", ""),
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind in PRESET_KINDS:
            try:
                cleaned["issuer"] = preset_issuer(kind, self._preset_inputs(kind, cleaned))
            except PresetError as error:
                self.add_error(None, str(error))
        elif kind == Kind.CUSTOM and not cleaned.get("issuer"):
            self.add_error("issuer", "Give the issuer URL of a custom provider.")
        issuer = cleaned.get("issuer")
        if issuer and "issuer" not in self.errors:
            problem = url_problem(issuer)
            if problem:
                self.add_error("issuer", f"{issuer}: {problem}.")
            elif Provider.objects.exclude(pk=self.instance.pk).filter(issuer=issuer).exists():
                self.add_error("issuer", f"Another provider already has the issuer {issuer}.")
        if not cleaned.get("audience"):
            self.add_error(
                "audience", "An external provider needs the audience its tokens carry for this API."
            )
        self._clean_secret(cleaned)
        return cleaned

    def _clean_secret(self, cleaned: dict) -> None:
        secret = cleaned.get(SECRET_FIELD) or ""
        sealed = self.data.get(SEALED_SECRET)
        if not secret and sealed:
            # Carried through the confirmation page encrypted, never in clear.
            try:
                secret = unseal(sealed)
            except SecretUnreadable:
                self.add_error(SECRET_FIELD, "Type the introspection secret again.")
                return
        forget = cleaned.get("forget_introspection_secret")
        if secret and forget:
            self.add_error(SECRET_FIELD, "Either give a new secret or forget the stored one, not both.")
            return
        self.new_secret = secret or ("" if forget else None)
        if cleaned.get("validation") == Provider.Validation.INTROSPECTION:
            has_secret = bool(secret) or (bool(self.instance.introspection_secret_encrypted) and not forget)
            if not cleaned.get("introspection_client_id"):
                self.add_error(
                    "introspection_client_id",
                    "Opaque tokens are checked at introspection: give our client_id.",
                )
            if not has_secret:
                self.add_error(SECRET_FIELD, "Opaque tokens are checked at introspection: give our secret.")

    def full_clean(self) -> None:
        super().full_clean()
        # Only a form that is valid otherwise asks the provider; an inactive one is not asked
        # (an officer must be able to switch off a provider that is down).
        if self.is_bound and not self.errors and self.cleaned_data.get("is_active"):
            self._check_issuer(self.cleaned_data["issuer"])

    def _check_issuer(self, issuer: str) -> None:
        if CONFIRMED in self.data:
            found = Found.from_signed(self.data.get(FOUND, ""), provider_pk=self.instance.pk, issuer=issuer)
            if found is None:
                self.add_error(
                    None,
                    "The confirmation expired or no longer matches this provider: save again to read "
                    "its metadata again.",
                )
                return
            self.confirmed = True
        else:
            discoveries = self.discoveries if self.discoveries is not None else {}
            if issuer not in discoveries:
                discoveries[issuer] = discover(issuer)
            found = discoveries[issuer]
            if isinstance(found, str):
                self.add_error(None, f"Nothing saved: the provider's metadata could not be read: {found}")
                return
        validation = self.cleaned_data["validation"]
        if validation == Provider.Validation.JWT and not found.metadata.jwks_uri:
            self.add_error("validation", "Its metadata names no jwks_uri: its JWTs cannot be verified here.")
        elif validation == Provider.Validation.INTROSPECTION and not found.metadata.introspection_endpoint:
            self.add_error("validation", "Its metadata names no introspection_endpoint.")
        else:
            self.found = found
