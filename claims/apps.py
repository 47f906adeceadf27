from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "claims"
    verbose_name = "Claims and customer data"

    def ready(self) -> None:
        from claims import checks, schema, signals  # noqa: F401  (checks and schema register themselves)

        signals.connect()
