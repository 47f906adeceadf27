"""Seed the roles of the initial policy and the security officers' group.

The data is copied here, not imported, so this migration means the same thing forever.
"""

from django.db import migrations

OFFICERS_GROUP = "Security officers"

ROLES = {
    "viewer": ("Reads names and e-mail addresses only.", ["basic:read"]),
    "salesperson": ("Reads customer profiles.", ["profile:read"]),
    "editor": ("Reads and changes customer profiles.", ["profile:read", "profile:write"]),
    "manager": ("Reads customer profiles and addresses.", ["profile:read", "address:read"]),
    "admin": (
        "Reads and changes every claim.",
        [
            "basic:read",
            "profile:read",
            "profile:write",
            "address:read",
            "address:write",
            "banking:read",
            "banking:write",
        ],
    ),
}


def seed(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    Scope = apps.get_model("claims", "Scope")
    Group = apps.get_model("auth", "Group")

    for role_name, (description, scope_names) in ROLES.items():
        role = Role.objects.create(name=role_name, description=description)
        role.scopes.set(Scope.objects.filter(name__in=scope_names))
    Group.objects.get_or_create(name=OFFICERS_GROUP)


def unseed(apps, schema_editor):
    apps.get_model("accounts", "Role").objects.filter(name__in=ROLES).delete()
    apps.get_model("auth", "Group").objects.filter(name=OFFICERS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("claims", "0002_seed_policy"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
