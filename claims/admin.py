"""Admin pages for the claim policy and the customer records."""

from django.contrib import admin

from claims.models import Claim, ClaimCategory, Customer, Scope


@admin.register(ClaimCategory)
class ClaimCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = ["__str__", "attribute", "description"]
    list_filter = ["category"]
    search_fields = ["name", "attribute"]


@admin.register(Scope)
class ScopeAdmin(admin.ModelAdmin):
    list_display = ["name", "access", "description"]
    search_fields = ["name"]
    filter_horizontal = ["claims"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "city", "country", "updated_at"]
    search_fields = ["name"]
    list_filter = ["country"]
