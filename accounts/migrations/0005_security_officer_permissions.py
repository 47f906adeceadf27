"""Give the "Security officers" group exactly the permissions to run the policy day to day.

Policy (categories, claims, scopes, roles), clients, API keys, people's roles, live tokens, and
reading both audit trails. Nothing on users, groups or permissions: an officer can neither make
anyone a superuser nor grant themselves more. The list is copied here so the migration means
the same thing forever.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OFFICERS_GROUP = "Security officers"

PERMISSIONS = {
    "claims": {"claimcategory": "acdv", "claim": "acdv", "scope": "acdv"},
    "accounts": {"role": "acdv", "client": "acdv", "apikey": "acv", "personrole": "cv", "auditevent": "v"},
    "oauth2_provider": {"accesstoken": "dv", "refreshtoken": "dv"},
    "auditlog": {"logentry": "v"},
}
VERBS = {"a": "add", "c": "change", "d": "delete", "v": "view"}


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; these must exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=OFFICERS_GROUP)
    wanted = [
        Permission.objects.get(content_type__app_label=app, codename=f"{VERBS[v]}_{model}")
        for app, models in PERMISSIONS.items()
        for model, verbs in models.items()
        for v in verbs
    ]
    group.permissions.set(wanted)


def revoke(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=OFFICERS_GROUP).first().permissions.clear()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_client_last_use_and_person_role"),
        ("claims", "0003_policy_revision"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
        ("auditlog", "0017_add_actor_email"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
