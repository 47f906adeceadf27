"""The pure core: what a token may read and write, and the filtering of records by it.

No Django, ORM or request objects here: plain data in, plain data out. A claim is named
'category.claim' (e.g. 'banking.iban'); a record is nested by category, as the API shows it.
Everything is default-deny: an unknown scope or role grants nothing, and a claim that no
granted scope covers is neither readable nor writable.
"""

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, TypeVar

Access = Literal["read", "write"]
Record = Mapping[str, Mapping[str, object]]
T = TypeVar("T")
# Where the values of a record come from: ((category, ((claim, source), ...)), ...).
Fields = tuple[tuple[str, tuple[tuple[str, T], ...]], ...]
# How many results one policy remembers (Policy.remembered).
MAX_REMEMBERED = 4096
_NOT_REMEMBERED = object()


@dataclass(frozen=True)
class ScopeRule:
    """What one scope grants."""

    access: Access
    claims: frozenset[str]


@dataclass(frozen=True)
class Policy:
    """The whole policy at one moment: scopes by name, the scope names of each role, and the
    record attribute behind each claim."""

    scopes: Mapping[str, ScopeRule] = field(default_factory=dict)
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)  # 'profile.email' -> 'email'
    role_names: Mapping[int, str] = field(default_factory=dict)  # role id -> name
    # See `remembered`.
    _remembered: dict[Hashable, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def remembered(self, key: Hashable, work: Callable[[], T]) -> T:
        """What `work()` gives, worked out once for this policy and `key`.

        A policy never changes (a new revision is a new Policy), so what follows from it and
        from `key` alone (what tokens of some scopes and role get, say) holds for every later
        request. Bounded all the same: the memory of a long-lived policy must not depend on
        its callers; past MAX_REMEMBERED keys, work is done again each time.
        """
        value = self._remembered.get(key, _NOT_REMEMBERED)
        if value is _NOT_REMEMBERED:
            value = work()
            if len(self._remembered) < MAX_REMEMBERED:
                self._remembered[key] = value
        return value  # type: ignore[return-value]

    def role_scopes(self, role: str | None) -> frozenset[str]:
        """The scopes a role holds now, limited to scopes that exist."""
        if role is None:
            return frozenset()
        return frozenset(self.roles.get(role, frozenset())).intersection(self.scopes.keys())


@dataclass(frozen=True)
class Grant:
    """The effective grant of a token: its live scopes and the claims they open."""

    scopes: frozenset[str]
    readable: frozenset[str]
    writable: frozenset[str]

    @cached_property
    def readable_by_category(self) -> Mapping[str, frozenset[str]]:
        """The readable claim names of each category: what filtering a record looks up, worked
        out once per grant rather than once per value of every record."""
        names: dict[str, set[str]] = {}
        for claim in self.readable:
            category, _, name = claim.partition(".")
            names.setdefault(category, set()).add(name)
        return {category: frozenset(found) for category, found in names.items()}

    @cached_property
    def claims_listed(self) -> dict[str, list[str]]:
        """See `granted_claims`: worked out once per grant, which token and introspection
        answers then share."""
        grouped: dict[str, list[str]] = {}
        for claim in self.readable:
            category, _, name = claim.partition(".")
            grouped.setdefault(category, []).append(name)
        return {category: sorted(names) for category, names in sorted(grouped.items())}


def refused_scopes(requested: Iterable[str], role: str | None, policy: Policy) -> frozenset[str]:
    """The requested scopes that the role does not hold (unknown scopes included)."""
    return frozenset(requested) - policy.role_scopes(role)


def effective_scopes(token_scopes: Iterable[str], role: str | None, policy: Policy) -> frozenset[str]:
    """A token's scopes that its holder's role still holds under the current policy."""
    return frozenset(token_scopes) & policy.role_scopes(role)


def grant_for(scopes: Iterable[str], policy: Policy) -> Grant:
    """The claims a set of scopes opens; scopes the policy does not know add nothing."""
    known = frozenset(scopes).intersection(policy.scopes.keys())
    readable: set[str] = set()
    writable: set[str] = set()
    for name in known:
        rule = policy.scopes[name]
        (readable if rule.access == "read" else writable).update(rule.claims)
    return Grant(known, frozenset(readable), frozenset(writable))


def token_grant(token_scopes: Iterable[str], role: str | None, policy: Policy) -> Grant:
    """The effective grant of a token held by `role`, under the policy as it is now."""
    scopes = frozenset(token_scopes)
    return policy.remembered(
        ("token grant", scopes, role), lambda: grant_for(effective_scopes(scopes, role, policy), policy)
    )


def granted_claims(grant: Grant) -> dict[str, list[str]]:
    """Readable claims grouped by category, each list sorted; empty categories absent. Shared
    by every answer for the same grant: read it, never change it."""
    return grant.claims_listed


def visible(record: Record, grant: Grant) -> dict[str, dict[str, object]]:
    """The part of a nested record the grant may read; categories left empty are dropped.

    The filter's definition: the API applies it to where records come from instead
    (`visible_fields`), and a property test holds the two equal."""
    readable = grant.readable_by_category
    shown: dict[str, dict[str, object]] = {}
    for category, values in record.items():
        names = readable.get(category)
        if names:
            if values.keys() <= names:  # a category the grant reads whole
                kept = dict(values)
            else:
                kept = {name: value for name, value in values.items() if name in names}
            if kept:
                shown[category] = kept
    return shown


def visible_fields(layout: Iterable[tuple[str, Iterable[tuple[str, T]]]], grant: Grant) -> Fields[T]:
    """The same filter as `visible`, applied to where a record's values come from instead of to
    the values: `layout` is ((category, ((claim, source), ...)), ...), each category at most
    once, and what is left of it builds records that hold only what `visible` would leave of
    them. The API filters this way once per policy and grant (claims.views.visible_layout)
    instead of once per record."""
    readable = grant.readable_by_category
    shown = []
    for category, fields in layout:
        names = readable.get(category)
        if names:
            kept = tuple((name, source) for name, source in fields if name in names)
            if kept:
                shown.append((category, kept))
    return tuple(shown)


def claims_in(payload: Record) -> list[str]:
    """Every claim a nested payload names, as sorted 'category.claim' strings."""
    return sorted(f"{category}.{name}" for category, values in payload.items() for name in values)


def forbidden_writes(payload: Record, grant: Grant) -> list[str]:
    """The claims a nested write payload touches without write access, sorted."""
    return [claim for claim in claims_in(payload) if claim not in grant.writable]


def role_grant(role: str, policy: Policy) -> Grant:
    """What a token holding every scope of `role` grants: the token endpoint's default."""
    return grant_for(policy.role_scopes(role), policy)


@dataclass(frozen=True)
class RoleChange:
    """How one role's default grant moves between two policies."""

    gained_read: frozenset[str]
    lost_read: frozenset[str]
    gained_write: frozenset[str]
    lost_write: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.gained_read or self.lost_read or self.gained_write or self.lost_write)


def impact(before: Policy, after: Policy) -> dict[str, RoleChange]:
    """Every role whose grant differs between two policies, and how (roles sorted by name)."""
    changes: dict[str, RoleChange] = {}
    for role in sorted(before.roles.keys() | after.roles.keys()):
        old, new = role_grant(role, before), role_grant(role, after)
        change = RoleChange(
            gained_read=new.readable - old.readable,
            lost_read=old.readable - new.readable,
            gained_write=new.writable - old.writable,
            lost_write=old.writable - new.writable,
        )
        if change:
            changes[role] = change
    return changes


def with_role(policy: Policy, role: str, scopes: Iterable[str]) -> Policy:
    """The policy with `role` holding exactly `scopes` (a role being added or edited)."""
    return Policy(
        scopes=policy.scopes, roles={**policy.roles, role: frozenset(scopes)}, attributes=policy.attributes
    )


def with_scope(policy: Policy, scope: str, rule: ScopeRule, *, renamed_from: str | None = None) -> Policy:
    """The policy with `scope` granting `rule` (a scope being added, edited or renamed)."""
    scopes = {name: r for name, r in policy.scopes.items() if name != renamed_from}
    roles = policy.roles
    if renamed_from and renamed_from != scope:
        roles = {
            role: frozenset(scope if s == renamed_from else s for s in held)
            for role, held in policy.roles.items()
        }
    return Policy(
        scopes={**scopes, scope: rule},
        roles=roles,
        attributes=policy.attributes,
        role_names=policy.role_names,
    )
