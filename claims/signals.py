"""Bump the policy revision whenever a model the policy is built from changes."""

import secrets

from django.db.models.signals import m2m_changed, post_delete, post_save

from claims.models import Claim, ClaimCategory, PolicyRevision, Scope


def policy_changed(**kwargs) -> None:
    """Bumped inside the same transaction as the change, so the two commit together."""
    if kwargs.get("action", "post_").startswith("pre_"):
        return
    PolicyRevision.objects.update_or_create(pk=1, defaults={"tag": secrets.randbits(62)})


def connect() -> None:
    from accounts.models import Provider, ProviderRoleMapping, Role

    # Providers travel with the policy: the registry of providers is rebuilt on the same tag.
    for model in (ClaimCategory, Claim, Scope, Role, Provider, ProviderRoleMapping):
        post_save.connect(policy_changed, sender=model, dispatch_uid=f"policy-save-{model.__name__}")
        post_delete.connect(policy_changed, sender=model, dispatch_uid=f"policy-delete-{model.__name__}")
    for through in (Scope.claims.through, Role.scopes.through):
        m2m_changed.connect(policy_changed, sender=through, dispatch_uid=f"policy-m2m-{through.__name__}")
