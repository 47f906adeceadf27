"""A customer read that comes with the token lookup: the same answers as reading it afterwards,
and nothing of the row reaches a caller the token does not let through."""

import pytest
from oauth2_provider.models import get_access_token_model

from accounts.models import Client, Role, User
from claims import views
from claims.authentication import Caller
from claims.models import Customer, Scope
from claims.selectors import customer_from_rows, customer_get, customer_get_statement
from claims.views import CustomerDetailView
from tokensvc.rows import Statement
from tokensvc.selectors import bearer_token_find

API = "/api/v1/customers/"
AccessToken = get_access_token_model()

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def ids_from(*customers: Customer) -> Statement:
    """A read of several rows: every customer with one of these ids, by id."""
    table = Customer._meta.db_table
    marks = ", ".join(["%s"] * len(customers))
    sql = f"SELECT id, name FROM {table} WHERE id IN ({marks}) ORDER BY id"  # noqa: S608
    return Statement(sql, [c.pk for c in customers])


def test_the_customer_comes_back_with_the_token(issue_token, customer):
    raw = issue_token("admin")
    plain = bearer_token_find(raw)
    token = bearer_token_find(raw, along=customer_get_statement(customer_id=customer.pk))
    assert plain.along is None
    assert len(token.along) == 1
    # The token's own fields are those of a lookup without a read along.
    assert {**vars(token), "along": None} == vars(plain)
    read = customer_from_rows(token.along)
    assert vars(read) == {**vars(customer_get(customer_id=customer.pk)), "_state": read._state}


def test_a_missing_row_comes_back_as_no_rows_and_the_token_still_comes(issue_token, customer):
    token = bearer_token_find(issue_token("admin"), along=customer_get_statement(customer_id=customer.pk + 1))
    assert token is not None
    assert token.along == ()
    assert customer_from_rows(token.along) is None


def test_every_row_of_a_longer_read_comes_back(issue_token, customer):
    second = Customer.objects.create(name="Grace Hopper", email="grace@example.com")
    token = bearer_token_find(issue_token("admin"), along=ids_from(second, customer))
    # (in no particular order: a subquery's ORDER BY does not order the statement around it)
    assert sorted(token.along) == [(customer.pk, customer.name), (second.pk, second.name)]


def test_an_unknown_token_brings_nothing(customer):
    assert bearer_token_find("not-a-token", along=customer_get_statement(customer_id=customer.pk)) is None


def test_ids_no_database_can_hold_read_nothing_along():
    assert customer_get_statement(customer_id=0) is None
    assert customer_get_statement(customer_id=2**63) is None


@pytest.mark.parametrize("customer_id", ["0", "9223372036854775808", "99999"])
def test_an_id_without_a_customer_is_404(client, issue_token, customer, customer_id):
    response = client.get(f"{API}{customer_id}/", **bearer(issue_token("admin")))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("role", ["admin", "salesperson", "viewer"])
def test_answers_equal_those_of_a_read_after_the_lookup(client, issue_token, customer, role, monkeypatch):
    token, url = issue_token(role), f"{API}{customer.pk}/"
    along = client.get(url, **bearer(token))
    monkeypatch.setattr(CustomerDetailView, "read_along_with_token", staticmethod(lambda request, **_: None))
    after = client.get(url, **bearer(token))
    assert along.status_code == after.status_code == 200
    assert along.json() == after.json()
    assert along["ETag"] == after["ETag"]


@pytest.fixture
def rows_never_used(monkeypatch):
    """Fails the test if the view turns rows read along into a customer."""

    def refuse(rows):
        raise AssertionError("rows read along were used")

    monkeypatch.setattr(views, "customer_from_rows", refuse)


@pytest.mark.parametrize("refusal", ["expired", "client disabled", "person disabled"])
def test_a_dead_token_gets_401_and_its_rows_are_never_used(
    client, issue_token, customer, refusal, rows_never_used
):
    token = issue_token("admin")
    if refusal == "expired":
        AccessToken.objects.update(expires="2000-01-01T00:00:00Z")
    elif refusal == "client disabled":
        Client.objects.filter(pk=AccessToken.objects.get().application_id).update(is_active=False)
    else:
        user = User.objects.create_user("alice", role=Role.objects.get(name="admin"))
        AccessToken.objects.update(user=user)
        User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get(f"{API}{customer.pk}/", **bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_a_token_without_readable_claims_gets_403_and_its_rows_are_never_used(
    client, issue_token, customer, rows_never_used
):
    writer = Role.objects.create(name="writer")
    writer.scopes.set(Scope.objects.filter(name="banking:write"))  # writes banking, reads nothing
    response = client.get(f"{API}{customer.pk}/", **bearer(issue_token("writer")))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def test_rows_read_along_stay_out_of_the_reprs(issue_token, customer):
    token = bearer_token_find(issue_token("admin"), along=customer_get_statement(customer_id=customer.pk))
    assert token.along
    assert customer.email not in repr(token)
    assert customer.email not in repr(Caller(token=token, grant=None, policy=None, along=token.along))


def test_writes_do_not_read_along(issue_token, customer, rf):
    request = rf.patch(f"{API}{customer.pk}/")
    assert CustomerDetailView.read_along_with_token(request, customer_id=customer.pk) is None
    assert CustomerDetailView.read_along_with_token(rf.delete("/"), customer_id=customer.pk) is None
    assert CustomerDetailView.read_along_with_token(rf.get("/"), customer_id=customer.pk) is not None
