"""What the admin shows about the policy: the role x claim matrix, a role's effective access,
and the impact of a pending change. All computed by the same core as the token endpoint."""

from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from claims.policy import Policy, RoleChange, granted_claims, impact, role_grant
from claims.selectors import policy_get


@dataclass(frozen=True)
class MatrixRow:
    role: str
    cells: list[str]  # one per claim column: "RW", "R", "W" or ""


def policy_matrix(policy: Policy) -> tuple[list[tuple[str, list[str]]], list[MatrixRow]]:
    """Columns grouped by category, and one row per role with its read/write marks."""
    by_category: dict[str, list[str]] = {}
    for claim in sorted(policy.attributes):
        category, _, name = claim.partition(".")
        by_category.setdefault(category, []).append(name)
    columns = [f"{category}.{name}" for category, names in by_category.items() for name in names]
    rows = []
    for role in sorted(policy.roles):
        grant = role_grant(role, policy)
        marks = [("R" if c in grant.readable else "") + ("W" if c in grant.writable else "") for c in columns]
        rows.append(MatrixRow(role, marks))
    return list(by_category.items()), rows


def policy_matrix_view(request: HttpRequest) -> HttpResponse:
    """Admin page: roles x claims with read/write marks, the picture an auditor asks for."""
    if not request.user.has_perm("accounts.view_role"):
        raise PermissionDenied
    categories, rows = policy_matrix(policy_get())
    context = {
        **admin.site.each_context(request),
        "title": "Policy matrix: what each role's tokens may read (R) and write (W)",
        "categories": categories,
        "rows": rows,
    }
    return TemplateResponse(request, "admin/claims/policy_matrix.html", context)


def effective_access_html(role: str | None, policy: Policy) -> str:
    """A role's default token as the token endpoint would answer it now: scopes and claims."""
    if role is None:
        return "No role: no scope, no claim."
    grant = role_grant(role, policy)
    writable: dict[str, list[str]] = {}
    for claim in sorted(grant.writable):
        category, _, name = claim.partition(".")
        writable.setdefault(category, []).append(name)
    rows = [("scope", " ".join(sorted(grant.scopes)) or "(none)")]
    rows += [(f"read {category}", ", ".join(names)) for category, names in granted_claims(grant).items()]
    rows += [(f"write {category}", ", ".join(names)) for category, names in writable.items()]
    body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
    return format_html('<table class="effective-access">{}</table>', body)


def holders_by_role() -> dict[str, tuple[int, int]]:
    """role -> (clients, people) holding it."""
    from accounts.models import Client, User

    clients = dict(Client.objects.values_list("role__name").annotate(n=Count("pk")))
    users = dict(User.objects.exclude(role=None).values_list("role__name").annotate(n=Count("pk")))
    return {role: (clients.get(role, 0), users.get(role, 0)) for role in clients.keys() | users.keys()}


def _sorted(change: RoleChange) -> dict[str, list[str]]:
    return {
        name: sorted(getattr(change, name))
        for name in ("gained_read", "lost_read", "gained_write", "lost_write")
    }


class ImpactConfirmationMixin:
    """Before a change to the policy is saved, show who gains or loses which claims.

    The first POST of a valid form that changes any role's grant answers with a confirmation
    page instead of saving; it resubmits the same form with `_impact_confirmed`.
    """

    impact_template = "admin/claims/impact_confirm.html"

    def proposed_policy(self, form, obj, current: Policy) -> Policy:  # pragma: no cover - abstract
        raise NotImplementedError

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if (
            request.method == "POST"
            and "_impact_confirmed" not in request.POST
            and "_cancel" not in request.POST
        ):
            obj = self.get_object(request, object_id) if object_id else None
            form_class = self.get_form(request, obj, change=obj is not None)
            form = form_class(request.POST, request.FILES, instance=obj)
            if form.is_valid():
                current = policy_get()
                changes = impact(current, self.proposed_policy(form, obj, current))
                if changes:
                    return self._confirmation(request, obj, changes)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _confirmation(self, request, obj, changes: dict[str, RoleChange]) -> HttpResponse:
        holders = holders_by_role()
        context = {
            **self.admin_site.each_context(request),
            "title": "Confirm the impact of this change",
            "object": obj,
            "opts": self.model._meta,
            "changes": [
                (role, _sorted(change), *holders.get(role, (0, 0))) for role, change in changes.items()
            ],
            "post_items": [(key, value) for key, values in request.POST.lists() for value in values],
        }
        return TemplateResponse(request, self.impact_template, context)
