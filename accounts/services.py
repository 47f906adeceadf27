"""Writes of the accounts app: clients, their credentials, and roles."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.credentials import keyed_hash, new_api_key, new_secret
from accounts.exceptions import RoleInUse, RoleNotFound
from accounts.models import ApiKey, Client, ForwardedToken, Provider, Role, User


@dataclass(frozen=True)
class IssuedClient:
    """A new client with its credentials in clear: they exist only in this object, once."""

    client: Client
    client_secret: str
    api_key: str | None


def role_get_by_name(*, name: str) -> Role:
    """The role called `name`, or RoleNotFound listing the roles that exist."""
    try:
        return Role.objects.get(name=name)
    except Role.DoesNotExist:
        raise RoleNotFound(name, list(Role.objects.values_list("name", flat=True))) from None


@transaction.atomic
def client_create(
    *,
    name: str,
    role: Role,
    with_api_key: bool = True,
    is_resource_server: bool = False,
) -> IssuedClient:
    """A confidential client_credentials client of `role`, its secret and (usually) an API key."""
    secret = new_secret()
    client = Client(name=name, role=role, is_resource_server=is_resource_server, client_secret=secret)
    return IssuedClient(client=client, client_secret=secret, api_key=_integration_save(client, with_api_key))


def _integration_save(client: Client, with_api_key: bool) -> str | None:
    """Save a new confidential client_credentials client; its first API key, when it needs keys."""
    client.requires_api_key = with_api_key
    client.client_type = Client.CLIENT_CONFIDENTIAL
    client.authorization_grant_type = Client.GRANT_CLIENT_CREDENTIALS
    # The secret is hashed on save by DOT's ClientSecretField with our keyed hasher.
    client.hash_client_secret = True
    client.full_clean()
    client.save()
    return api_key_issue(client=client)[1] if with_api_key else None


@transaction.atomic
def external_client_create(
    *, name: str, role: Role, provider: Provider, client_id: str, with_api_key: bool = True
) -> IssuedClient:
    """A client that an external provider authenticates: we hold no secret of it, only its
    client_id at that provider, its role and (usually) an API key of ours."""
    if provider.is_builtin:
        raise ValueError("an external client needs an external provider")
    # The secret is never checked (the provider checks it); random, so that it matches nothing.
    client = Client(name=name, role=role, provider=provider, client_id=client_id, client_secret=new_secret())
    return IssuedClient(client=client, client_secret="", api_key=_integration_save(client, with_api_key))


def external_person_sync(*, provider_name: str, subject: str, role_id: int | None) -> User:
    """The person behind an external subject (token exchange), holding the mapped role.

    The role is set again at every exchange, so the provider's mapping stays the source; an
    officer disables the person to stop further exchanges. Such a person has no password.
    """
    username = f"{provider_name}:{subject}"[:150]
    with transaction.atomic():
        person, created = User.objects.select_for_update().get_or_create(
            username=username, defaults={"role_id": role_id}
        )
        if created:
            person.set_unusable_password()
            person.save(update_fields=["password"])
        elif person.role_id != role_id:
            person.role_id = role_id
            person.save(update_fields=["role"])
    return person


@transaction.atomic
def browser_app_create(*, name: str, role: Role, redirect_uris: list[str]) -> Client:
    """A public client for people signing in (authorization code + PKCE, no secret).

    Tokens it obtains follow the signed-in person's role; the app's own role bounds what it
    may ask for on the consent page.
    """
    client = Client(
        name=name,
        role=role,
        requires_api_key=False,
        client_type=Client.CLIENT_PUBLIC,
        authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(redirect_uris),
        client_secret="",
        hash_client_secret=False,
    )
    client.full_clean()
    client.save()
    return client


def api_key_issue(
    *, client: Client, label: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new API key for `client`; the clear key is returned this once and never stored."""
    key, prefix = new_api_key()
    api_key = ApiKey.objects.create(
        client=client, prefix=prefix, key_hash=keyed_hash(key), label=label, expires_at=expires_at
    )
    return api_key, key


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Refuse this key from now on; the row stays for the audit trail."""
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])


@transaction.atomic
def client_secret_rotate(*, client: Client) -> str:
    """A new secret for a confidential client; the old one stops working at once."""
    secret = new_secret()
    client.client_secret = secret  # hashed on save by DOT's ClientSecretField
    client.hash_client_secret = True
    client.save(update_fields=["client_secret", "hash_client_secret", "updated"])
    return secret


@transaction.atomic
def client_tokens_revoke(*, client: Client, actor: str = "") -> int:
    """Revoke every access and refresh token of a client; returns how many access tokens."""
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model, revoke_access_token

    from accounts.audit import audit_record
    from accounts.models import AuditEvent

    tokens = list(get_access_token_model().objects.filter(application=client))
    for token in tokens:
        revoke_access_token(token)
    for refresh in get_refresh_token_model().objects.filter(application=client, revoked=None):
        refresh.revoke()
    # Tokens of an external provider that our endpoint handed out: refused here from now on.
    ForwardedToken.objects.filter(client=client, revoked=None).update(revoked=timezone.now())
    audit_record(
        action=AuditEvent.Action.TOKEN_REVOKED,
        client=client,
        reason=f"all tokens of the client revoked by {actor or 'an officer'} ({len(tokens)} access tokens)",
    )
    return len(tokens)


OFFICERS_GROUP = "Security officers"


@transaction.atomic
def officer_create(*, username: str, password: str, email: str = "") -> User:
    """A staff account (never superuser) in the officers' group; ValidationError if taken."""
    from django.contrib.auth.models import Group
    from django.core.exceptions import ValidationError

    if User.objects.filter(username=username).exists():
        raise ValidationError(f"a user named {username!r} exists already")
    officer = User.objects.create_user(username=username, email=email, password=password, is_staff=True)
    officer.groups.add(Group.objects.get(name=OFFICERS_GROUP))
    return officer


def role_delete(*, role: Role) -> None:
    """Delete a role nobody holds; RoleInUse otherwise."""
    try:
        role.delete()
    except ProtectedError:
        raise RoleInUse(role.name, clients=role.clients.count(), users=role.users.count()) from None
