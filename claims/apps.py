from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "claims"
    verbose_name = "Claims and customer data"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from claims import checks, schema, signals  # noqa: F401  (checks and schema register themselves)
        from claims.models import Claim, ClaimCategory, Scope

        signals.connect()
        auditlog.register(ClaimCategory)
        auditlog.register(Claim)
        auditlog.register(Scope, m2m_fields={"claims"})
