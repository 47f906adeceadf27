"""The configured providers, as the hot paths read them: built once per policy revision.

Saving a provider or a role mapping moves the policy revision (claims.signals), so every
process rebuilds this at its next request, as it does the policy. Status fields (last error,
key ids) are written with `update()`, which leaves the revision alone.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from accounts.models import Provider
from claims.selectors import policy_revision


@dataclass(frozen=True)
class ProviderConfig:
    pk: int
    name: str
    kind: str
    is_active: bool
    issuer: str
    audience: str
    audience_parameter: str
    request_scope: str
    validation: str
    algorithms: frozenset[str]
    scopes_from_token: bool
    role_claim: str
    # (claim value, role id), best first.
    role_mapping: tuple[tuple[str, int], ...]
    token_endpoint: str
    jwks_uri: str
    introspection_endpoint: str
    token_endpoint_auth_methods: tuple[str, ...]
    introspection_client_id: str
    introspection_secret_sealed: str

    @property
    def is_builtin(self) -> bool:
        return self.kind == Provider.Kind.BUILTIN


@dataclass(frozen=True)
class Registry:
    by_pk: Mapping[int, ProviderConfig]
    # Active external providers by issuer, and those whose tokens are opaque.
    by_issuer: Mapping[str, ProviderConfig]
    introspecting: tuple[ProviderConfig, ...]


def _config(provider: Provider) -> ProviderConfig:
    mappings = sorted(provider.role_mappings.all(), key=lambda m: (m.priority, m.value))
    return ProviderConfig(
        pk=provider.pk,
        name=provider.name,
        kind=provider.kind,
        is_active=provider.is_active,
        issuer=provider.issuer,
        audience=provider.audience,
        audience_parameter=provider.audience_parameter,
        request_scope=provider.request_scope,
        validation=provider.validation,
        algorithms=frozenset(provider.algorithms.split()),
        scopes_from_token=provider.scopes_from_token,
        role_claim=provider.role_claim,
        role_mapping=tuple((m.value, m.role_id) for m in mappings),
        token_endpoint=provider.token_endpoint,
        jwks_uri=provider.jwks_uri,
        introspection_endpoint=provider.introspection_endpoint,
        token_endpoint_auth_methods=tuple(provider.token_endpoint_auth_methods or ()),
        introspection_client_id=provider.introspection_client_id,
        introspection_secret_sealed=provider.introspection_secret_encrypted,
    )


def registry_build() -> Registry:
    configs = [_config(p) for p in Provider.objects.prefetch_related("role_mappings")]
    external = [c for c in configs if c.is_active and not c.is_builtin and c.issuer]
    return Registry(
        by_pk={c.pk: c for c in configs},
        by_issuer={c.issuer: c for c in external},
        introspecting=tuple(c for c in external if c.validation == Provider.Validation.INTROSPECTION),
    )


_cached: tuple[int, Registry] | None = None


def registry_get() -> Registry:
    """The providers as configured now (rebuilt when the policy revision moved)."""
    global _cached
    revision = policy_revision()
    cached = _cached
    if cached is not None and cached[0] == revision:
        return cached[1]
    registry = registry_build()
    _cached = (revision, registry)
    return registry
