"""Which of our roles a provider's token maps to, from a claim such as `roles` or `groups`."""

from collections.abc import Mapping


def claim_values(claims: Mapping, path: str) -> list[str]:
    """The string values at a claim path: a top-level claim of that exact name (Auth0's namespaced
    'https://example.com/roles'), else dots descend into objects ('realm_access.roles')."""
    if path in claims:
        value: object = claims[path]
    else:
        value = claims
        for part in path.split("."):
            if not isinstance(value, Mapping):
                return []
            value = value.get(part)
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def mapped_role_id(claims: Mapping, role_claim: str, mapping: tuple[tuple[str, int], ...]) -> int | None:
    """The role of the first mapping (best first) whose value the token carries, or None."""
    if not role_claim or not mapping:
        return None
    carried = set(claim_values(claims, role_claim))
    return next((role_id for value, role_id in mapping if value in carried), None)
