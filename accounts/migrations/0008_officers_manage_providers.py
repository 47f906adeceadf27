"""Security officers manage credential providers and their role mappings, and see forwarded
tokens (by checksum only)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OFFICERS_GROUP = "Security officers"
PERMISSIONS = {
    "provider": ("add", "change", "delete", "view"),
    "providerrolemapping": ("add", "change", "delete", "view"),
    "forwardedtoken": ("view",),
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=OFFICERS_GROUP)
    group.permissions.add(
        *(
            Permission.objects.get(content_type__app_label="accounts", codename=f"{verb}_{model}")
            for model, verbs in PERMISSIONS.items()
            for verb in verbs
        )
    )


def revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=OFFICERS_GROUP).first()
    if group is not None:
        group.permissions.remove(
            *group.permissions.filter(
                content_type__app_label="accounts",
                codename__in=[f"{verb}_{model}" for model, verbs in PERMISSIONS.items() for verb in verbs],
            )
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_providers")]

    operations = [migrations.RunPython(grant, revoke)]
