"""The customer-data API over HTTP: what each token may read, write, search and order."""

import base64
import functools
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from oauth2_provider.models import get_access_token_model

from accounts.models import Client, Role
from claims.models import Customer, Scope

API = "/api/v1/customers/"
PROFILE = {"name", "email", "age"}
ADDRESS = {"street", "city", "postal_code", "country"}
BANKING = {"iban", "bank_name", "credit_limit", "annual_income"}
IBAN = "DE89370400440532013000"  # the `customer` fixture's (tests/conftest.py)


def get(client, url, token, **extra):
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}", **extra)


def send(client, method, url, token, body, **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return getattr(client, method)(
        url, data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}", **extra
    )


def shape(record: dict) -> dict[str, set[str]]:
    return {category: set(values) for category, values in record.items() if category != "id"}


EXPECTED = {
    "viewer": {"profile": {"name", "email"}},
    "salesperson": {"profile": PROFILE},
    "editor": {"profile": PROFILE},
    "manager": {"profile": PROFILE, "address": ADDRESS},
    "admin": {"profile": PROFILE, "address": ADDRESS, "banking": BANKING},
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_reads_exactly_its_claims(client, issue_token, customer, role):
    token = issue_token(role)
    detail = get(client, f"{API}{customer.pk}/", token)
    assert detail.status_code == 200
    assert detail.json()["id"] == customer.pk
    assert shape(detail.json()) == EXPECTED[role]
    listing = get(client, API, token).json()
    assert listing["count"] == 1
    assert [shape(r) for r in listing["results"]] == [EXPECTED[role]]


@pytest.mark.django_db
def test_roles_reading_in_turn_under_one_policy_each_read_their_own_claims(client, issue_token, customer):
    # What a record shows is worked out once per policy and grant and kept with the policy:
    # tokens of different roles, one after the other under the same policy, never share it.
    tokens = {role: issue_token(role) for role in sorted(EXPECTED)}
    for _ in range(2):
        for role, token in tokens.items():
            assert shape(get(client, f"{API}{customer.pk}/", token).json()) == EXPECTED[role]
            assert [shape(r) for r in get(client, API, token).json()["results"]] == [EXPECTED[role]]


@pytest.mark.django_db
def test_admin_reads_typed_values(client, issue_token, customer):
    record = get(client, f"{API}{customer.pk}/", issue_token("admin")).json()
    assert record["profile"] == {"name": "Ada Lovelace", "email": "ada@example.com", "age": 36}
    assert record["address"]["country"] == "GB"
    assert record["banking"] == {
        "iban": IBAN,
        "bank_name": "Commerzbank",
        "credit_limit": "1000.00",
        "annual_income": "52000.00",
    }


@pytest.mark.django_db
def test_missing_token_is_401_with_a_bearer_challenge(client, customer):
    response = client.get(f"{API}{customer.pk}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="tokensvc"'
    assert response.json()["error"] == "unauthorized"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization", ["Bearer nope", "Bearer ", "Bearer", "Bearer a b", "Bearer \x7f", "Bearer " + "x" * 600]
)
def test_bad_tokens_are_401_invalid_token(client, customer, authorization):
    response = client.get(f"{API}{customer.pk}/", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    if authorization.strip() != "Bearer":
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
        assert response.json()["error"] == "invalid_token"


@pytest.mark.django_db
def test_token_in_query_string_is_not_accepted(client, issue_token, customer):
    token = issue_token("admin")
    assert client.get(f"{API}{customer.pk}/?access_token={token}").status_code == 401


@pytest.mark.django_db
def test_expired_revoked_and_disabled_are_invalid_token(client, issue_token, customer):
    url = f"{API}{customer.pk}/"
    AccessToken = get_access_token_model()
    expired = issue_token("admin")
    AccessToken.objects.update(expires="2000-01-01T00:00:00Z")
    assert get(client, url, expired).status_code == 401

    revoked = issue_token("admin")
    AccessToken.objects.get(expires__year__gt=2000).revoke()
    assert get(client, url, revoked).status_code == 401

    disabled = issue_token("admin")
    assert get(client, url, disabled).status_code == 200
    Client.objects.update(is_active=False)
    assert get(client, url, disabled).status_code == 401


@pytest.mark.django_db
def test_token_without_readable_claims_is_403_insufficient_scope(client, make_client, issue_token, customer):
    writer = Role.objects.create(name="writer")
    writer.scopes.set(Scope.objects.filter(name="profile:write"))
    response = get(client, f"{API}{customer.pk}/", issue_token("writer"))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


@pytest.mark.django_db
def test_editor_patches_profile(client, issue_token, customer):
    token = issue_token("editor")
    response = send(
        client, "patch", f"{API}{customer.pk}/", token, {"profile": {"age": 37, "name": "Ada King"}}
    )
    assert response.status_code == 200, response.content
    assert response.json()["profile"] == {"name": "Ada King", "email": "ada@example.com", "age": 37}
    assert response["ETag"] == '"2"'
    customer.refresh_from_db()
    assert (customer.name, customer.age, customer.version) == ("Ada King", 37, 2)


@pytest.mark.django_db
@pytest.mark.parametrize("returning", [True, False], ids=["update-returning", "update-then-read"])
def test_a_write_answers_the_row_as_written_with_or_without_returning(
    client, issue_token, customer, monkeypatch, returning
):
    """Where the database cannot return the row from the UPDATE, the write reads it back in the
    same transaction; either way the answer, the ETag and the stored row agree."""
    monkeypatch.setattr("claims.services._returning_supported", lambda: returning)
    token, url = issue_token("admin"), f"{API}{customer.pk}/"
    before = Customer.objects.get(pk=customer.pk).updated_at
    body = {
        "banking": {"credit_limit": "1234.5", "iban": "gb82 west 1234 5698 7654 32"},
        "address": {"country": "fr"},
    }
    response = send(client, "patch", url, token, body, HTTP_IF_MATCH='"1"')
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"2"'
    assert response.json()["banking"]["credit_limit"] == "1234.50"
    assert response.json()["banking"]["iban"] == "GB82WEST12345698765432"
    assert response.json()["address"]["country"] == "FR"
    assert response.json()["profile"] == {"name": "Ada Lovelace", "email": "ada@example.com", "age": 36}
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.credit_limit, stored.country.code, stored.version) == (Decimal("1234.50"), "FR", 2)
    assert stored.updated_at > before
    stale = send(client, "patch", url, token, {"profile": {"age": 1}}, HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    assert Customer.objects.get(pk=customer.pk).age == 36


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "forbidden"),
    [
        ({"banking": {"iban": "GB82WEST12345698765432"}}, ["banking.iban"]),
        (
            {"profile": {"age": 40}, "address": {"city": "Paris", "street": "x"}},
            ["address.city", "address.street"],
        ),
    ],
)
def test_write_outside_the_grant_is_403_and_changes_nothing(client, issue_token, customer, body, forbidden):
    before = Customer.objects.filter(pk=customer.pk).values().get()
    response = send(client, "patch", f"{API}{customer.pk}/", issue_token("editor"), body)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response.json()["forbidden_claims"] == forbidden
    assert Customer.objects.filter(pk=customer.pk).values().get() == before


@pytest.mark.django_db
def test_salesperson_cannot_write_at_all(client, issue_token, customer):
    response = send(
        client, "patch", f"{API}{customer.pk}/", issue_token("salesperson"), {"profile": {"age": 1}}
    )
    assert response.status_code == 403
    assert response.json()["forbidden_claims"] == ["profile.age"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"profile": {"email": "nope"}}, {"profile.email"}),
        ({"profile": {"age": 151}}, {"profile.age"}),
        ({"profile": {"age": "old"}}, {"profile.age"}),
        ({"profile": {"name": ""}}, {"profile.name"}),
        ({"profile": {"nickname": "x"}}, {"profile.nickname"}),
        ({"hobbies": {"x": 1}}, {"hobbies"}),
        ({"profile": "Ada"}, {"profile"}),
        ({"id": 5}, {"id"}),
        ([1, 2], {"non_field_errors"}),
        ("null", {"non_field_errors"}),
        ({}, {"non_field_errors"}),
    ],
)
def test_invalid_writes_are_400_per_claim_and_change_nothing(client, issue_token, customer, body, errors):
    before = Customer.objects.filter(pk=customer.pk).values().get()
    response = send(client, "patch", f"{API}{customer.pk}/", issue_token("admin"), body)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"
    assert set(response.json()["invalid_claims"]) == errors
    assert Customer.objects.filter(pk=customer.pk).values().get() == before


@pytest.mark.django_db
def test_invalid_iban_and_country_are_refused_and_iban_is_normalised(client, issue_token, customer):
    token, url = issue_token("admin"), f"{API}{customer.pk}/"
    bad = send(
        client,
        "patch",
        url,
        token,
        {"banking": {"iban": "DE89370400440532013001"}, "address": {"country": "XX"}},
    )
    assert set(bad.json()["invalid_claims"]) == {"banking.iban", "address.country"}
    good = send(client, "patch", url, token, {"banking": {"iban": "gb82 west 1234 5698 7654 32"}})
    assert good.json()["banking"]["iban"] == "GB82WEST12345698765432"


@pytest.mark.django_db
def test_if_match_refuses_stale_writes(client, issue_token, customer):
    token, url = issue_token("editor"), f"{API}{customer.pk}/"
    etag = get(client, url, token)["ETag"]
    first = send(client, "patch", url, token, {"profile": {"age": 40}}, HTTP_IF_MATCH=etag)
    assert first.status_code == 200
    stale = send(client, "patch", url, token, {"profile": {"age": 41}}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["error"] == "precondition_failed"
    assert Customer.objects.get(pk=customer.pk).age == 40
    fresh = send(client, "patch", url, token, {"profile": {"age": 41}}, HTTP_IF_MATCH=first["ETag"])
    assert fresh.status_code == 200


@pytest.mark.django_db
def test_admin_creates_a_customer(client, issue_token):
    body = {"profile": {"name": "Grace Hopper", "email": "grace@example.com"}, "address": {"country": "US"}}
    response = send(client, "post", API, issue_token("admin"), body)
    assert response.status_code == 201, response.content
    created = Customer.objects.get(email="grace@example.com")
    assert response["Location"] == f"{API}{created.pk}/"
    assert response.json()["profile"]["name"] == "Grace Hopper"


@pytest.mark.django_db
def test_create_requires_name_and_email(client, issue_token):
    response = send(client, "post", API, issue_token("admin"), {"profile": {"age": 3}})
    assert response.status_code == 400
    assert set(response.json()["invalid_claims"]) == {"profile.name", "profile.email"}
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_create_needs_write_on_every_claim_sent(client, issue_token):
    body = {"profile": {"name": "Eve", "email": "eve@example.com"}, "banking": {"iban": IBAN}}
    response = send(client, "post", API, issue_token("editor"), body)
    assert response.status_code == 403
    assert response.json()["forbidden_claims"] == ["banking.iban"]
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_delete_needs_write_on_every_claim(client, issue_token, customer):
    url = f"{API}{customer.pk}/"
    refused = client.delete(url, HTTP_AUTHORIZATION=f"Bearer {issue_token('editor')}")
    assert refused.status_code == 403
    assert "banking.iban" in refused.json()["forbidden_claims"]
    assert client.delete(url, HTTP_AUTHORIZATION=f"Bearer {issue_token('admin')}").status_code == 204
    assert not Customer.objects.filter(pk=customer.pk).exists()


@pytest.mark.django_db
def test_search_by_iban_finds_nothing_for_a_salesperson(client, issue_token, customer):
    assert get(client, f"{API}?search={IBAN[:10]}", issue_token("salesperson")).json()["count"] == 0
    assert get(client, f"{API}?search={IBAN[:10]}", issue_token("admin")).json()["count"] == 1
    assert get(client, f"{API}?search=lovelace", issue_token("salesperson")).json()["count"] == 1
    assert get(client, f"{API}?search=london", issue_token("salesperson")).json()["count"] == 0
    assert get(client, f"{API}?search=london", issue_token("manager")).json()["count"] == 1


@pytest.mark.django_db
def test_ordering_only_by_readable_claims(client, issue_token):
    call_command("seed_demo", count=30, verbosity=0)
    token = issue_token("salesperson")
    refused = get(client, f"{API}?ordering=banking.credit_limit", token)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    ages = [
        r["profile"]["age"]
        for r in get(client, f"{API}?ordering=-profile.age&page_size=30", token).json()["results"]
    ]
    assert ages == sorted(ages, reverse=True)


def path_of(link: str) -> str:
    return link.replace("http://testserver", "")


@pytest.mark.django_db
def test_pagination(client, issue_token):
    call_command("seed_demo", count=45, verbosity=0)
    token = issue_token("viewer")
    first = get(client, f"{API}?page_size=20", token).json()
    assert (first["count"], len(first["results"]), first["previous"]) == (45, 20, None)
    second = get(client, path_of(first["next"]), token).json()
    last = get(client, path_of(second["next"]), token).json()
    assert (second["count"], len(second["results"]), len(last["results"])) == (45, 20, 5)
    assert last["next"] is None
    ids = [r["id"] for page in (first, second, last) for r in page["results"]]
    assert ids == sorted(Customer.objects.values_list("id", flat=True))
    back = get(client, path_of(last["previous"]), token).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in second["results"]]
    by_number = get(client, f"{API}?page_size=20&page=3", token).json()
    assert [r["id"] for r in by_number["results"]] == [r["id"] for r in last["results"]]
    assert by_number["next"] is None
    assert by_number["previous"] is not None
    for bad in ("page_size=101", "page_size=0", "page_size=x", "page=0", "page=-1"):
        assert get(client, f"{API}?{bad}", token).status_code == 400, bad
    assert get(client, f"{API}?page=99", token).status_code == 404


def cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "cursor=",
        "cursor=x",
        "cursor=%00",
        "cursor=%ff%fe",
        "cursor=" + "A" * 500,
        f"cursor={cursor({'after': '1'})}",
        f"cursor={cursor({'after': True})}",
        f"cursor={cursor({'after': 0})}",
        f"cursor={cursor({'after': 2**70})}",
        f"cursor={cursor({'after': 1.5})}",
        f"cursor={cursor({'sideways': 1})}",
        f"cursor={cursor({'after': 1, 'before': 2})}",
        f"cursor={cursor([1])}",
        f"cursor={cursor({'after': 1})}&page=2",
    ],
    ids=lambda value: value[:40],
)
def test_cursors_not_given_by_the_api_are_400(client, issue_token, customer, query):
    response = get(client, f"{API}?{query}", issue_token("viewer"))
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"


@pytest.mark.django_db
def test_a_cursor_from_a_deleted_customer_is_404(client, issue_token):
    call_command("seed_demo", count=5, verbosity=0)
    token = issue_token("admin")
    first = get(client, f"{API}?page_size=2&ordering=profile.name", token).json()
    Customer.objects.filter(pk=first["results"][-1]["id"]).delete()
    assert get(client, path_of(first["next"]), token).status_code == 404


def expected_order(rows: list[dict], ordering: list[tuple[str, bool]]) -> list[int]:
    """The API's documented order: NULLs first ascending, last descending; the id breaks ties."""

    def compare(a: dict, b: dict) -> int:
        for attribute, descending in ordering:
            x, y = a[attribute], b[attribute]
            if x == y:
                continue
            # NULL sorts before any value when ascending.
            first_is_smaller = x is None if x is None or y is None else x < y
            return (1 if first_is_smaller else -1) if descending else (-1 if first_is_smaller else 1)
        return a["id"] - b["id"]

    return [row["id"] for row in sorted(rows, key=functools.cmp_to_key(compare))]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ordering",
    [
        "",
        "-id",
        "profile.age",
        "-profile.age",
        "banking.credit_limit,-profile.name",
        "-banking.credit_limit,profile.age",
        "address.city,-profile.age",
    ],
)
def test_cursors_walk_every_order_once_both_ways(client, issue_token, ordering):
    """Duplicates and NULLs in the ordered claims: forward and backward walks see every
    customer exactly once, in the order a full sort gives."""
    names = ["amber", "birch", "cedar", "dune", "elm", "fern", "gale", "heath", "iris", "jade", "kelp"]
    for i, name in enumerate(names):
        Customer.objects.create(
            name=name,
            email=f"{name}@example.com",
            age=None if i % 4 == 0 else 30 + i % 3,
            city=["london", "paris", ""][i % 3],
            credit_limit=None if i % 3 == 0 else Decimal(100 * (i % 2)),
        )
    # Each claim here is stored under its own name ('profile.age' in `age`).
    keys = [
        (item.lstrip("-").rpartition(".")[2], item.startswith("-")) for item in ordering.split(",") if item
    ]
    rows = list(Customer.objects.values("id", "name", "age", "city", "credit_limit"))
    expected = expected_order(rows, keys)
    token = issue_token("admin")
    url, forward, pages = f"{API}?page_size=3&ordering={ordering}", [], []
    while url:
        page = get(client, url, token).json()
        assert page["count"] == len(names)
        pages.append(page)
        forward += [r["id"] for r in page["results"]]
        url = page["next"] and path_of(page["next"])
    assert forward == expected
    backward, url = [], path_of(pages[-1]["previous"])
    while url:
        page = get(client, url, token).json()
        backward = [r["id"] for r in page["results"]] + backward
        url = page["previous"] and path_of(page["previous"])
    assert backward == expected[: len(expected) - len(pages[-1]["results"])]


@pytest.mark.django_db
def test_cursor_links_keep_the_search(client, issue_token):
    call_command("seed_demo", count=40, verbosity=0)
    token = issue_token("manager")
    city = get(client, API, token).json()["results"][0]["address"]["city"]
    whole = get(client, f"{API}?page_size=100&search={city}", token).json()
    assert 1 < whole["count"] < 40
    url, seen = f"{API}?page_size=2&search={city}", []
    while url:
        page = get(client, url, token).json()
        assert page["count"] == whole["count"]
        seen += [r["id"] for r in page["results"]]
        url = page["next"] and path_of(page["next"])
    assert seen == [r["id"] for r in whole["results"]]


@pytest.mark.django_db
def test_a_list_page_costs_the_same_queries_whatever_its_size(
    client, issue_token, django_assert_max_num_queries
):
    call_command("seed_demo", count=60, verbosity=0)
    token = issue_token("admin")
    get(client, API, token)  # warm the policy cache
    with django_assert_max_num_queries(4):
        assert len(get(client, f"{API}?page_size=50", token).json()["results"]) == 50
    with django_assert_max_num_queries(4):
        page = get(client, f"{API}?page_size=5", token).json()
        assert len(page["results"]) == 5
    with django_assert_max_num_queries(4):  # a cursor in the default order reads no extra row
        assert len(get(client, path_of(page["next"]), token).json()["results"]) == 5


@pytest.mark.django_db
def test_policy_change_in_the_admin_applies_to_the_next_request(client, admin_client, issue_token, customer):
    token, url = issue_token("manager"), f"{API}{customer.pk}/"
    assert "address" in get(client, url, token).json()
    manager = Role.objects.get(name="manager")
    form = {
        "name": "manager",
        "description": manager.description,
        "scopes": [Scope.objects.get(name="profile:read").pk],
    }
    change_url = f"/admin/accounts/role/{manager.pk}/change/"
    # First the officer sees the impact, and nothing is applied yet.
    preview = admin_client.post(change_url, form)
    assert preview.status_code == 200
    assert b"address.city" in preview.content
    assert "address" in get(client, url, token).json()
    # Confirmed, it applies to the very next request of the token issued before.
    response = admin_client.post(change_url, {**form, "_impact_confirmed": "1"})
    assert response.status_code == 302, response.content
    assert shape(get(client, url, token).json()) == {"profile": PROFILE}


@pytest.mark.django_db
def test_moving_a_claim_between_scopes_applies_at_once(client, issue_token, customer):
    token, url = issue_token("salesperson"), f"{API}{customer.pk}/"
    Scope.objects.get(name="profile:read").claims.add(
        *Scope.objects.get(name="banking:read").claims.filter(name="iban")
    )
    assert get(client, url, token).json()["banking"] == {"iban": IBAN}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/x-www-form-urlencoded", "profile=x", 415),
        ("text/plain", "x", 415),
        ("application/json", "{not json", 400),
        ("application/json", '{"profile": {"age": 1, "age": 2}}', 400),
        ("application/json", "[" * 5000 + "]" * 5000, 400),
        ("application/json", b"\xff\xfe", 400),
        ("application/json", json.dumps({"profile": {"name": "x" * 70000}}), 413),
    ],
)
def test_bad_bodies_are_json_errors(client, issue_token, customer, content_type, body, status):
    response = client.patch(
        f"{API}{customer.pk}/",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {issue_token('admin')}",
    )
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


@pytest.mark.django_db
def test_unknown_customer_and_method_are_json(client, issue_token):
    token = issue_token("admin")
    assert get(client, f"{API}999999/", token).json()["error"] == "not_found"
    put = client.put(f"{API}1/", "{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert put.status_code == 405
    assert put.json()["error"] == "method_not_allowed"


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    patch = document["paths"]["/api/v1/customers/{customer_id}/"]["patch"]
    assert {"200", "400", "401", "403", "412"} <= set(patch["responses"])
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_list_count_is_cached_and_forgotten_on_create_and_delete(
    client, issue_token, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    call_command("seed_demo", count=12, verbosity=0)
    token = issue_token("admin")
    assert get(client, API, token).json()["count"] == 12
    with django_assert_max_num_queries(3):  # token, policy revision, page: no COUNT(*)
        assert get(client, API, token).json()["count"] == 12
    with django_capture_on_commit_callbacks(execute=True):  # the test's transaction never commits
        created = send(client, "post", API, token, {"profile": {"name": "New", "email": "new@example.com"}})
    assert get(client, API, token).json()["count"] == 13
    with django_capture_on_commit_callbacks(execute=True):
        client.delete(created["Location"], HTTP_AUTHORIZATION=f"Bearer {token}")
    assert get(client, API, token).json()["count"] == 12
    assert get(client, f"{API}?search=new@example", token).json()["count"] == 0
