from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Roles, clients and API keys"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.db.backends.signals import connection_created

        from tokensvc.wal_checkpoints import on_connection_created

        # The service's database plumbing (tokensvc) has no app of its own to connect it.
        connection_created.connect(on_connection_created, dispatch_uid="wal-checkpoints")

        from accounts.models import ApiKey, Client, PersonRole, Provider, ProviderRoleMapping, Role, User

        # Every change an officer makes is an audit entry with before and after; secrets and
        # their hashes never are, and neither is the last-use stamp.
        auditlog.register(Role, m2m_fields={"scopes"})
        auditlog.register(Client, exclude_fields=["client_secret", "last_used_at", "updated"])
        auditlog.register(ApiKey, exclude_fields=["key_hash", "last_used_at"])
        people = {"include_fields": ["username", "role", "is_active", "is_staff", "is_superuser"]}
        auditlog.register(User, m2m_fields={"groups", "user_permissions"}, **people)
        auditlog.register(PersonRole, **people)
        # A provider's configuration, not its sealed secret nor what the service itself writes
        # as it talks to the provider (endpoints from the metadata, key ids, last error).
        status = [
            # The endpoints stay in the trail: clients' secrets are forwarded to the token endpoint.
            "metadata_fetched_at",
            "jwks_key_ids",
            "jwks_fetched_at",
            "last_error",
            "last_error_at",
        ]
        auditlog.register(Provider, exclude_fields=["introspection_secret_encrypted", *status])
        auditlog.register(ProviderRoleMapping)
