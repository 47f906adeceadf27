"""Seed the claim categories, claims and scopes of the initial policy.

The data is copied here, not imported, so this migration means the same thing forever.
"""

from django.db import migrations

CATEGORIES = {
    "profile": ("Who the customer is.", ["name", "email", "age"]),
    "address": ("Where the customer lives.", ["street", "city", "postal_code", "country"]),
    "banking": (
        "The customer's bank account and finances.",
        ["iban", "bank_name", "credit_limit", "annual_income"],
    ),
}

# scope name -> (description, claims as 'category.claim')
SCOPES = {
    "basic:read": ("Read the customer's name and e-mail address.", ["profile.name", "profile.email"]),
    "profile:read": ("Read every profile claim.", ["profile.name", "profile.email", "profile.age"]),
    "profile:write": ("Change every profile claim.", ["profile.name", "profile.email", "profile.age"]),
    "address:read": (
        "Read every address claim.",
        ["address.street", "address.city", "address.postal_code", "address.country"],
    ),
    "address:write": (
        "Change every address claim.",
        ["address.street", "address.city", "address.postal_code", "address.country"],
    ),
    "banking:read": (
        "Read every banking claim.",
        ["banking.iban", "banking.bank_name", "banking.credit_limit", "banking.annual_income"],
    ),
    "banking:write": (
        "Change every banking claim.",
        ["banking.iban", "banking.bank_name", "banking.credit_limit", "banking.annual_income"],
    ),
}


def seed(apps, schema_editor):
    ClaimCategory = apps.get_model("claims", "ClaimCategory")
    Claim = apps.get_model("claims", "Claim")
    Scope = apps.get_model("claims", "Scope")

    claims = {}
    for category_name, (description, claim_names) in CATEGORIES.items():
        category = ClaimCategory.objects.create(name=category_name, description=description)
        for claim_name in claim_names:
            claims[f"{category_name}.{claim_name}"] = Claim.objects.create(
                category=category, name=claim_name, attribute=claim_name
            )
    for scope_name, (description, claim_names) in SCOPES.items():
        scope = Scope.objects.create(name=scope_name, description=description)
        scope.claims.set([claims[name] for name in claim_names])


def unseed(apps, schema_editor):
    apps.get_model("claims", "Scope").objects.filter(name__in=SCOPES).delete()
    apps.get_model("claims", "Claim").objects.filter(category__name__in=CATEGORIES).delete()
    apps.get_model("claims", "ClaimCategory").objects.filter(name__in=CATEGORIES).delete()


class Migration(migrations.Migration):
    dependencies = [("claims", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
