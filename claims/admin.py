"""Admin pages for the claim policy (categories, claims, scopes) and the customer records."""

from django.contrib import admin
from django.db.models import Count

from claims.admin_policy import ImpactConfirmationMixin
from claims.models import Claim, ClaimCategory, Customer, Scope
from claims.policy import Policy, ScopeRule, with_scope


@admin.register(ClaimCategory)
class ClaimCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "claim_count"]
    search_fields = ["name", "description"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(claim_total=Count("claims"))

    @admin.display(description="claims", ordering="claim_total")
    def claim_count(self, obj: ClaimCategory) -> int:
        return obj.claim_total


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = ["qualified_name", "category", "attribute", "description"]
    list_filter = ["category"]
    search_fields = ["name", "attribute", "description"]
    list_select_related = ["category"]
    ordering = ["category__name", "name"]

    @admin.display(description="claim", ordering="name")
    def qualified_name(self, obj: Claim) -> str:
        return obj.qualified_name


@admin.register(Scope)
class ScopeAdmin(ImpactConfirmationMixin, admin.ModelAdmin):
    list_display = ["name", "access", "description", "claim_list", "role_list"]
    list_filter = ["roles"]
    search_fields = ["name", "description", "claims__name"]
    filter_horizontal = ["claims"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("claims__category", "roles")

    @admin.display(description="claims")
    def claim_list(self, obj: Scope) -> str:
        return ", ".join(sorted(claim.qualified_name for claim in obj.claims.all()))

    @admin.display(description="held by roles")
    def role_list(self, obj: Scope) -> str:
        return ", ".join(sorted(role.name for role in obj.roles.all())) or "—"

    def proposed_policy(self, form, obj: Scope | None, current: Policy) -> Policy:
        name = form.cleaned_data["name"]
        claims = frozenset(claim.qualified_name for claim in form.cleaned_data["claims"])
        rule = ScopeRule(access=name.rpartition(":")[2], claims=claims)
        return with_scope(current, name, rule, renamed_from=obj.name if obj else None)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "city", "country", "updated_at"]
    search_fields = ["name"]
    list_filter = ["country"]
    readonly_fields = ["version", "created_at", "updated_at"]
