"""Which error a refused PATCH answers, now that the view writes without reading the record first.

The write is one UPDATE that returns the row; only a refused request looks the record up. A
missing record must still be a 404 whatever else is wrong with the request, exactly as when the
record was read first, and on an existing record each fault keeps its own status and changes
nothing.
"""

import pytest

from claims.models import Customer
from tests.claims.test_customer_api import API, send

pytestmark = pytest.mark.django_db

MISSING = 999999
GOOD = {"profile": {"age": 40}}

# (role, body, headers, status on an existing record)
FAULTS = {
    "forbidden-claim": ("salesperson", GOOD, {}, 403),
    "invalid-value": ("admin", {"profile": {"age": 151}}, {}, 400),
    "unknown-claim": ("admin", {"profile": {"nickname": "x"}}, {}, 400),
    "malformed-if-match": ("admin", GOOD, {"HTTP_IF_MATCH": "abc"}, 412),
    "not-json": ("admin", "{not json", {}, 400),
}


def patch(client, url: str, token: str, body, **headers):
    return send(client, "patch", url, token, body, **headers)


def assert_not_found(response) -> None:
    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_missing_record_is_404_whatever_else_is_wrong(client, issue_token, fault):
    role, body, headers, _ = FAULTS[fault]
    assert_not_found(patch(client, f"{API}{MISSING}/", issue_token(role), body, **headers))
    assert not Customer.objects.exists()


def test_a_body_of_another_media_type_is_404_on_a_missing_record_and_415_on_an_existing_one(
    client, issue_token, customer
):
    token = issue_token("admin")
    before = Customer.objects.filter(pk=customer.pk).values().get()

    def form_patch(customer_id: int):
        return client.patch(
            f"{API}{customer_id}/",
            "profile=x",
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert_not_found(form_patch(MISSING))
    refused = form_patch(customer.pk)
    assert refused.status_code == 415, refused.content
    assert refused["Content-Type"] == "application/json"
    assert Customer.objects.filter(pk=customer.pk).values().get() == before


def test_a_body_too_large_for_a_missing_record_is_404(client, issue_token):
    response = patch(client, f"{API}{MISSING}/", issue_token("admin"), {"profile": {"name": "x" * 70000}})
    assert_not_found(response)


def test_a_good_write_to_a_missing_record_is_404_and_creates_nothing(client, issue_token, customer):
    before = Customer.objects.filter(pk=customer.pk).values().get()
    token = issue_token("admin")
    assert_not_found(patch(client, f"{API}{MISSING}/", token, GOOD))
    assert_not_found(patch(client, f"{API}{MISSING}/", token, GOOD, HTTP_IF_MATCH='"1"'))
    assert list(Customer.objects.values_list("pk", flat=True)) == [customer.pk]
    assert Customer.objects.filter(pk=customer.pk).values().get() == before


@pytest.mark.parametrize("customer_id", [0, 2**63 - 1, 2**63, 2**64 + 1, 10**30])
def test_an_id_no_row_can_have_is_404_json(client, issue_token, customer_id):
    """The URL takes any digits; beyond 2**63-1 SQLite cannot even bind the number, so such an
    id must be answered before it reaches the UPDATE (a 500 otherwise)."""
    response = patch(client, f"{API}{customer_id}/", issue_token("admin"), GOOD)
    assert_not_found(response)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_on_an_existing_record_each_fault_keeps_its_status_and_changes_nothing(
    client, issue_token, customer, fault
):
    role, body, headers, status = FAULTS[fault]
    before = Customer.objects.filter(pk=customer.pk).values().get()
    response = patch(client, f"{API}{customer.pk}/", issue_token(role), body, **headers)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] != "not_found"
    assert Customer.objects.filter(pk=customer.pk).values().get() == before


def test_a_stale_if_match_on_an_existing_record_is_412_and_changes_nothing(client, issue_token, customer):
    token, url = issue_token("admin"), f"{API}{customer.pk}/"
    assert patch(client, url, token, {"profile": {"age": 41}}).status_code == 200  # now version 2
    before = Customer.objects.filter(pk=customer.pk).values().get()
    stale = patch(client, url, token, GOOD, HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412, stale.content
    assert stale.json()["error"] == "precondition_failed"
    assert Customer.objects.filter(pk=customer.pk).values().get() == before
    fresh = patch(client, url, token, GOOD, HTTP_IF_MATCH='"2"')
    assert fresh.status_code == 200
    assert fresh["ETag"] == '"3"'
