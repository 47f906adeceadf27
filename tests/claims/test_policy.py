"""The pure policy core: tables of known cases, and properties that hold for every input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims.policy import (
    Grant,
    Policy,
    ScopeRule,
    effective_scopes,
    forbidden_writes,
    grant_for,
    granted_claims,
    impact,
    refused_scopes,
    role_grant,
    token_grant,
    visible,
    visible_fields,
    with_role,
    with_scope,
)
from claims.records import record_of

PROFILE = frozenset({"profile.name", "profile.email", "profile.age"})
ADDRESS = frozenset({"address.street", "address.city"})
BANKING = frozenset({"banking.iban", "banking.credit_limit"})

MISSION = Policy(
    scopes={
        "basic:read": ScopeRule("read", frozenset({"profile.name", "profile.email"})),
        "profile:read": ScopeRule("read", PROFILE),
        "profile:write": ScopeRule("write", PROFILE),
        "address:read": ScopeRule("read", ADDRESS),
        "banking:read": ScopeRule("read", BANKING),
        "banking:write": ScopeRule("write", BANKING),
    },
    roles={
        "viewer": frozenset({"basic:read"}),
        "editor": frozenset({"profile:read", "profile:write"}),
        "manager": frozenset({"profile:read", "address:read"}),
        "ghost": frozenset({"vanished:read"}),
    },
)

RECORD = {
    "profile": {"name": "Ada", "email": "ada@example.com", "age": 36},
    "address": {"street": "1 Main Street", "city": "Berlin"},
    "banking": {"iban": "DE89370400440532013000", "credit_limit": "1000.00"},
}


@pytest.mark.parametrize(
    ("role", "requested", "expected"),
    [
        ("manager", ["profile:read", "address:read"], {"profile:read", "address:read"}),
        ("manager", ["profile:read", "banking:read"], {"profile:read"}),
        ("viewer", ["profile:read"], set()),
        ("ghost", ["vanished:read"], set()),
        ("nobody", ["profile:read"], set()),
        (None, ["profile:read"], set()),
    ],
)
def test_effective_scopes_are_token_scopes_the_role_still_holds(role, requested, expected):
    assert effective_scopes(requested, role, MISSION) == expected


@pytest.mark.parametrize(
    ("role", "requested", "refused"),
    [
        ("manager", ["profile:read"], set()),
        ("manager", ["banking:read", "profile:read"], {"banking:read"}),
        ("manager", ["nonsense"], {"nonsense"}),
        ("ghost", ["vanished:read"], {"vanished:read"}),
        (None, ["basic:read"], {"basic:read"}),
    ],
)
def test_refused_scopes_names_every_scope_outside_the_role(role, requested, refused):
    assert refused_scopes(requested, role, MISSION) == refused


def test_manager_grant_reads_profile_and_address_and_writes_nothing():
    grant = token_grant(["profile:read", "address:read"], "manager", MISSION)
    assert grant.readable == PROFILE | ADDRESS
    assert grant.writable == frozenset()
    assert granted_claims(grant) == {"address": ["city", "street"], "profile": ["age", "email", "name"]}


def test_visible_drops_unreadable_claims_and_empty_categories():
    grant = grant_for(["basic:read"], MISSION)
    assert visible(RECORD, grant) == {"profile": {"name": "Ada", "email": "ada@example.com"}}


def test_forbidden_writes_lists_every_unwritable_claim_sorted():
    grant = grant_for(["profile:write"], MISSION)
    payload = {"profile": {"age": 40}, "banking": {"iban": "X", "credit_limit": 1}}
    assert forbidden_writes(payload, grant) == ["banking.credit_limit", "banking.iban"]


def test_write_scope_alone_does_not_open_reading():
    grant = grant_for(["banking:write"], MISSION)
    assert grant.readable == frozenset()
    assert visible(RECORD, grant) == {}


# ------------------------------------------------------------------ properties

# A small alphabet, so that drawn scopes, roles and record keys often meet the policy's own.
names = st.text(alphabet="abc", min_size=1, max_size=2)
claim_names = st.builds(lambda c, n: f"{c}.{n}", st.sampled_from(["profile", "address", "banking"]), names)
scope_names = st.builds(lambda s, a: f"{s}:{a}", names, st.sampled_from(["read", "write"]))


@st.composite
def policies(draw) -> Policy:
    scope_set = draw(st.sets(scope_names, max_size=8))
    scopes = {
        name: ScopeRule(name.rpartition(":")[2], draw(st.frozensets(claim_names, max_size=6)))
        for name in scope_set
    }
    # Roles may name scopes that no longer exist: a deleted scope must grant nothing.
    known = st.sampled_from(sorted(scope_set)) if scope_set else scope_names
    role_scopes = st.frozensets(known | scope_names, max_size=6)
    roles = draw(st.dictionaries(names, role_scopes, max_size=4))
    return Policy(scopes=scopes, roles=roles)


values = st.one_of(st.none(), st.integers(), st.text(max_size=5))
records = st.dictionaries(
    st.sampled_from(["profile", "address", "banking", "other"]),
    st.dictionaries(names, values, max_size=5),
    max_size=4,
)
scope_lists = st.lists(scope_names, max_size=8)


@given(policies(), scope_lists, records)
def test_no_unreadable_claim_is_ever_visible(policy, scopes, record):
    grant = grant_for(scopes, policy)
    shown = visible(record, grant)
    for category, values_ in shown.items():
        assert values_, "empty categories are dropped"
        for name, value in values_.items():
            assert f"{category}.{name}" in grant.readable
            assert record[category][name] is value


@given(policies(), scope_lists, records)
def test_every_readable_claim_present_in_the_record_is_visible(policy, scopes, record):
    grant = grant_for(scopes, policy)
    shown = visible(record, grant)
    for category, values_ in record.items():
        for name in values_:
            assert (f"{category}.{name}" in grant.readable) == (name in shown.get(category, {}))


@given(policies(), scope_lists, st.data())
def test_a_record_of_readable_claims_only_is_shown_whole_in_copies(policy, scopes, data):
    # The API's own case: records built from the readable claims, extra claims or not.
    grant = grant_for(scopes, policy)
    record: dict[str, dict[str, object]] = {}
    for claim in sorted(grant.readable):
        category, _, name = claim.partition(".")
        record.setdefault(category, {})[name] = data.draw(values)
    if data.draw(st.booleans()):
        category = data.draw(st.sampled_from(["profile", "address", "banking", "other"]))
        record.setdefault(category, {})[data.draw(names)] = "extra"
    shown = visible(record, grant)
    assert shown == {
        category: kept
        for category, claims in record.items()
        if (kept := {n: v for n, v in claims.items() if f"{category}.{n}" in grant.readable})
    }
    for category, claims in shown.items():
        claims["injected"] = True
        assert "injected" not in record[category], "the record itself is never handed out"


@given(policies(), scope_lists, records)
def test_filtering_twice_equals_filtering_once(policy, scopes, record):
    grant = grant_for(scopes, policy)
    assert visible(visible(record, grant), grant) == visible(record, grant)


@given(policies(), scope_lists, scope_lists)
def test_more_scopes_never_grant_less(policy, scopes, extra):
    small, large = grant_for(scopes, policy), grant_for(scopes + extra, policy)
    assert small.readable <= large.readable
    assert small.writable <= large.writable


# Where a record's values come from, as claims.records lays them out: each category once.
SOURCES = ("a", "b", "c", "d")
layouts = st.dictionaries(
    st.sampled_from(["profile", "address", "banking", "other"]),
    st.lists(st.tuples(names, st.sampled_from(SOURCES)), max_size=4).map(tuple),
    max_size=4,
).map(lambda by_category: tuple(by_category.items()))
rows = st.fixed_dictionaries(dict.fromkeys(SOURCES, values))


@given(policies(), scope_lists, layouts, rows)
def test_filtering_the_layout_shows_what_filtering_each_record_shows(policy, scopes, layout, row):
    # The API filters where a record's values come from (visible_fields), once per grant, and
    # builds every record from what is left.
    grant = grant_for(scopes, policy)
    assert record_of(row, visible_fields(layout, grant)) == visible(record_of(row, layout), grant)


@given(policies(), scope_lists, layouts)
def test_a_filtered_layout_names_only_readable_claims_and_no_empty_category(policy, scopes, layout):
    grant = grant_for(scopes, policy)
    for category, fields in visible_fields(layout, grant):
        assert fields
        assert all(f"{category}.{name}" in grant.readable for name, _ in fields)


@given(policies(), scope_lists, st.one_of(st.none(), names))
def test_grants_are_values_that_can_key_what_a_policy_remembers(policy, scopes, role):
    # Layouts are remembered by grant (claims.views.visible_layout): a grant must hash, and
    # equal grants must be equal whichever way they were worked out.
    for grant in (grant_for(scopes, policy), token_grant(scopes, role, policy), role_grant(role, policy)):
        assert {type(grant.scopes), type(grant.readable), type(grant.writable)} == {frozenset}
        assert hash(grant) == hash(grant_for(grant.scopes, policy))
    assert type(policy.role_scopes(role)) is frozenset


def test_a_policy_works_out_what_it_remembers_once_and_a_new_one_starts_afresh():
    worked = []

    def work(value):
        worked.append(value)
        return value

    policy = Policy(scopes=MISSION.scopes, roles=MISSION.roles)
    assert policy.remembered("key", lambda: work("first")) == "first"
    assert policy.remembered("key", lambda: work("second")) == "first"
    assert policy.remembered("other", lambda: work("third")) == "third"
    assert worked == ["first", "third"]
    assert with_role(policy, "manager", ["address:read"]).remembered("key", lambda: work("new")) == "new"


@given(policies(), records)
def test_no_scope_grants_nothing(policy, record):
    grant = grant_for([], policy)
    assert grant == Grant(frozenset(), frozenset(), frozenset())
    assert visible(record, grant) == {}
    assert forbidden_writes(record, grant) == sorted(f"{c}.{n}" for c, v in record.items() for n in v)


@given(policies(), scope_lists, records)
def test_a_write_passes_only_when_every_claim_is_writable(policy, scopes, payload):
    grant = grant_for(scopes, policy)
    forbidden = forbidden_writes(payload, grant)
    touched = {f"{c}.{n}" for c, v in payload.items() for n in v}
    assert set(forbidden) == touched - grant.writable
    assert forbidden == sorted(forbidden)


@given(policies(), st.one_of(st.none(), names), scope_lists)
def test_grant_only_comes_from_scopes_the_role_holds_and_that_exist(policy, role, scopes):
    grant = token_grant(scopes, role, policy)
    assert grant.scopes <= frozenset(scopes)
    assert grant.scopes <= policy.role_scopes(role)
    assert grant.scopes <= policy.scopes.keys()
    covered = set().union(*(policy.scopes[s].claims for s in grant.scopes)) if grant.scopes else set()
    assert grant.readable | grant.writable <= covered


@given(policies(), st.one_of(st.none(), names), scope_lists, scope_lists)
def test_a_remembered_grant_is_the_one_worked_out_afresh(policy, role, scopes, other_scopes):
    for held_by in (role, None, *policy.roles):  # the same scopes held by other roles
        for asked in (scopes, other_scopes, list(reversed(scopes))):
            fresh = grant_for(effective_scopes(asked, held_by, policy), policy)
            assert token_grant(asked, held_by, policy) == fresh
            assert token_grant(asked, held_by, policy) == fresh  # remembered the second time


def test_the_same_scopes_grant_what_each_role_holds():
    policy = Policy(scopes=MISSION.scopes, roles=MISSION.roles)
    asked = ["profile:read", "address:read", "basic:read"]
    assert token_grant(asked, "manager", policy).scopes == {"profile:read", "address:read"}
    assert token_grant(asked, "viewer", policy).scopes == {"basic:read"}
    assert token_grant(asked, None, policy).scopes == set()


def test_remembered_grants_are_bounded_and_do_not_outlive_their_policy(monkeypatch):
    monkeypatch.setattr("claims.policy.MAX_REMEMBERED", 3)
    policy = Policy(scopes=MISSION.scopes, roles=MISSION.roles)
    for scope in ["a", "b", "c", "d", "e"]:
        assert token_grant([scope, "profile:read"], "manager", policy).scopes == {"profile:read"}
    assert len(policy._remembered) == 3
    # A revision is a new policy: what the manager gets follows it at once.
    edited = with_role(policy, "manager", ["address:read"])
    assert token_grant(["profile:read", "address:read"], "manager", policy).scopes == {
        "profile:read",
        "address:read",
    }
    assert token_grant(["profile:read", "address:read"], "manager", edited).scopes == {"address:read"}


@given(policies(), scope_lists)
def test_granted_claims_groups_exactly_the_readable_claims(policy, scopes):
    grant = grant_for(scopes, policy)
    grouped = granted_claims(grant)
    flattened = {f"{category}.{name}" for category, names_ in grouped.items() for name in names_}
    assert flattened == grant.readable
    assert all(names_ == sorted(names_) and names_ for names_ in grouped.values())


# ------------------------------------------------------------------ impact of a change


def test_removing_a_scope_from_a_role_is_a_loss_for_that_role_only():
    after = with_role(MISSION, "manager", ["profile:read"])
    changes = impact(MISSION, after)
    assert list(changes) == ["manager"]
    assert changes["manager"].lost_read == ADDRESS
    assert not changes["manager"].gained_read


def test_widening_a_scope_reaches_every_role_holding_it():
    wider = ScopeRule("read", PROFILE | {"banking.iban"})
    changes = impact(MISSION, with_scope(MISSION, "profile:read", wider))
    assert sorted(changes) == ["editor", "manager"]
    assert all(change.gained_read == {"banking.iban"} for change in changes.values())


def test_renaming_a_scope_keeps_its_roles():
    rule = MISSION.scopes["basic:read"]
    after = with_scope(MISSION, "names:read", rule, renamed_from="basic:read")
    assert impact(MISSION, after) == {}
    assert after.role_scopes("viewer") == {"names:read"}


@given(policies(), policies())
def test_impact_is_exactly_the_difference_of_the_role_grants(before, after):
    changes = impact(before, after)
    for role in before.roles.keys() | after.roles.keys():
        old, new = role_grant(role, before), role_grant(role, after)
        change = changes.get(role)
        if old == new or (old.readable == new.readable and old.writable == new.writable):
            assert change is None
        else:
            assert new.readable == (old.readable - change.lost_read) | change.gained_read
            assert new.writable == (old.writable - change.lost_write) | change.gained_write


@given(policies())
def test_a_policy_has_no_impact_on_itself(policy):
    assert impact(policy, policy) == {}
