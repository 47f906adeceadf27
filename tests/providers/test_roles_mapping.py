"""Which of our roles a provider's token maps to: claim values by path, first mapping wins."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokensvc.providers.roles import claim_values, mapped_role_id

KEYCLOAK_CLAIMS = {
    "sub": "service-account-reporting",
    "realm_access": {"roles": ["offline_access", "manager", 7, None, {"x": 1}]},
    "resource_access": {"api": {"roles": ["salesperson"]}},
    "roles": "manager  salesperson\tauditor",
    "groups": ["/staff", "/staff/sales"],
    "count": 3,
    "flag": True,
    "nothing": None,
    "nested_list": [["manager"]],
}

MANAGER, SALESPERSON, AUDITOR = 1, 2, 3


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("roles", ["manager", "salesperson", "auditor"]),
        ("groups", ["/staff", "/staff/sales"]),
        ("realm_access.roles", ["offline_access", "manager"]),
        ("resource_access.api.roles", ["salesperson"]),
        # Missing, at any depth.
        ("missing", []),
        ("realm_access.missing", []),
        ("missing.roles", []),
        ("resource_access.other.roles", []),
        # Wrong types: numbers, booleans, null, objects, lists of lists.
        ("count", []),
        ("flag", []),
        ("nothing", []),
        ("realm_access", []),
        ("nested_list", []),
        # Descending into something that is not an object.
        ("roles.manager", []),
        ("groups.0", []),
        ("count.x", []),
        ("", []),
    ],
)
def test_claim_values_at_a_path(path, values):
    assert claim_values(KEYCLOAK_CLAIMS, path) == values


@pytest.mark.parametrize(
    ("claims", "values"),
    [
        ({"roles": ""}, []),
        ({"roles": "   "}, []),
        ({"roles": []}, []),
        ({"roles": "one"}, ["one"]),
        ({"roles": ["a b"]}, ["a b"]),  # list items are values as they are, not split
        ({"roles": ("manager",)}, []),  # JSON has no tuples; only a list counts
        ({}, []),
    ],
)
def test_claim_values_of_a_top_level_claim(claims, values):
    assert claim_values(claims, "roles") == values


def test_a_namespaced_claim_name_with_dots_is_readable():
    claims = {"https://acme.example/roles": ["manager"]}

    assert claim_values(claims, "https://acme.example/roles") == ["manager"]


@pytest.mark.parametrize(
    ("claims", "role_claim", "mapping", "role_id"),
    [
        # The first mapping in order wins, whatever the order of the token's values.
        (
            {"roles": ["salesperson", "manager"]},
            "roles",
            (("manager", MANAGER), ("salesperson", SALESPERSON)),
            MANAGER,
        ),
        (
            {"roles": ["salesperson", "manager"]},
            "roles",
            (("salesperson", SALESPERSON), ("manager", MANAGER)),
            SALESPERSON,
        ),
        ({"roles": "auditor manager"}, "roles", (("manager", MANAGER), ("auditor", AUDITOR)), MANAGER),
        ({"roles": ["auditor"]}, "roles", (("manager", MANAGER), ("auditor", AUDITOR)), AUDITOR),
        (
            KEYCLOAK_CLAIMS,
            "realm_access.roles",
            (("salesperson", SALESPERSON), ("manager", MANAGER)),
            MANAGER,
        ),
        # Two values mapping to the same role.
        ({"groups": ["/ops"]}, "groups", (("/staff", MANAGER), ("/ops", MANAGER)), MANAGER),
        # No mapping matches.
        ({"roles": ["guest"]}, "roles", (("manager", MANAGER),), None),
        ({"roles": ["Manager"]}, "roles", (("manager", MANAGER),), None),  # case-sensitive
        ({}, "roles", (("manager", MANAGER),), None),
        ({"roles": 1}, "roles", (("manager", MANAGER),), None),
        # The claim is looked up at its path only.
        ({"roles": ["manager"]}, "groups", (("manager", MANAGER),), None),
        # No role claim configured, or no mapping.
        ({"roles": ["manager"]}, "", (("manager", MANAGER),), None),
        ({"roles": ["manager"]}, "roles", (), None),
    ],
)
def test_mapped_role_id(claims, role_claim, mapping, role_id):
    assert mapped_role_id(claims, role_claim, mapping) == role_id


VALUES = st.sampled_from(["manager", "salesperson", "auditor", "guest", "/staff", "x"])


@given(
    carried=st.lists(VALUES, max_size=6),
    as_string=st.booleans(),
    nested=st.booleans(),
    noise=st.lists(st.one_of(st.integers(), st.none(), st.booleans()), max_size=3),
    mapping=st.lists(st.tuples(VALUES, st.integers(min_value=1, max_value=5)), max_size=6).map(tuple),
)
def test_mapped_role_is_the_first_mapping_the_token_carries(carried, as_string, nested, noise, mapping):
    value = " ".join(carried) if as_string else [*noise, *carried]
    claims = {"realm_access": {"roles": value}} if nested else {"roles": value}
    role_claim = "realm_access.roles" if nested else "roles"

    role_id = mapped_role_id(claims, role_claim, mapping)

    matching = [mapped for claim_value, mapped in mapping if claim_value in carried]
    if matching:
        assert role_id == matching[0]
    else:
        assert role_id is None
    assert role_id is None or role_id in {mapped for _, mapped in mapping}
