"""Security officers may read (not change) the record of failed and locked-out sign-ins."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OFFICERS_GROUP = "Security officers"
CODENAMES = ["view_accessattempt", "view_accessfailurelog", "view_accesslog"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("axes")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.get(name=OFFICERS_GROUP)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="axes", codename__in=CODENAMES))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.get(name=OFFICERS_GROUP)
    group.permissions.remove(
        *Permission.objects.filter(content_type__app_label="axes", codename__in=CODENAMES)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_security_officer_permissions"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
