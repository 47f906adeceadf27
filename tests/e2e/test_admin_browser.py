"""A security officer drives the admin in a real browser (Playwright + Debian's Chromium).

Logs in, reads the policy matrix, creates an integration and reads its one-time credentials,
gets a token with them over HTTP, then narrows the integration's role through the impact
confirmation and sees the already-issued token lose the claims on its very next request.
Screenshots land in `artifacts/screenshots/` (git-ignored) for a human to look at.

Needs `/usr/bin/chromium` (`apt-get install chromium`) and the `playwright` package; Playwright's
own browser download is never used.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.db import connections

from accounts.models import Client, Role
from accounts.services import officer_create
from claims.models import Customer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
OFFICER = {"username": "olga", "password": "correct-horse-battery-9"}
ADDRESS_CLAIMS = ["address.city", "address.country", "address.postal_code", "address.street"]
TIMEOUT_MS = 15_000

# A live server needs committed data; serialized_rollback restores the seeded policy each time.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def browser(live_server, monkeypatch) -> Iterator[object]:
    """A headless Debian Chromium, started after the test database is ready and stopped before
    pytest-django flushes it.

    Function-scoped on purpose. While Playwright's sync API is active an asyncio loop counts as
    running in this thread, and Django then hands out a different connection object than the
    thread's own (asgiref's thread-critical Local). Were the browser module-scoped, pytest-django
    would create and serialize the test database on that other connection (its `django_db_setup`
    is pulled in lazily), and `serialized_rollback` would silently stop restoring the seeded
    roles for every later test in the process.
    """
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        message = "Debian chromium not installed: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (.ci/run installs it; CI must run the browser tests)")
        pytest.skip(message)
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright not installed: pip install playwright"
    )
    # The test's own ORM calls run while that loop counts as running.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # Close the connections opened under the loop (a real one on PostgreSQL), so that
            # none is left behind when the test database is flushed or dropped.
            connections.close_all()


@pytest.fixture
def officer_page(browser, live_server):
    """A fresh browser context signed in to the admin as security officer olga."""
    assert Role.objects.filter(name="manager").exists(), "seeded roles missing: serialized_rollback failed"
    officer = officer_create(**OFFICER)
    assert officer.is_staff
    assert not officer.is_superuser
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    response = page.goto(f"{live_server.url}/admin/login/")
    assert response.status == 200
    page.fill("#id_username", OFFICER["username"])
    page.fill("#id_password", OFFICER["password"])
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.url == f"{live_server.url}/admin/", page.content()
    assert page.locator("#user-tools").inner_text().upper().count("OLGA") == 1
    yield page
    context.close()


@pytest.fixture(scope="module")
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / name
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def customer_as(live_server, token: str, customer_id: int) -> requests.Response:
    return requests.get(
        f"{live_server.url}/api/v1/customers/{customer_id}/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_officer_creates_client_and_narrows_its_role(officer_page, live_server, screenshot):
    page = officer_page
    base = live_server.url

    # ---- the policy matrix: manager reads profile and address claims
    response = page.goto(f"{base}/admin/policy-matrix/")
    assert response.status == 200
    matrix = page.locator("#policy-matrix")
    columns = _matrix_columns(matrix)
    assert set(ADDRESS_CLAIMS) <= set(columns), columns
    manager_row = matrix.locator("tbody tr").filter(has=page.locator("th", has_text="manager"))
    assert manager_row.count() == 1
    marks = dict(zip(columns, manager_row.locator("td.mark").all_text_contents(), strict=True))
    for claim in [*ADDRESS_CLAIMS, "profile.name", "profile.email", "profile.age"]:
        assert marks[claim] == "R", (claim, marks)
    assert all(marks[claim] == "·" for claim in columns if claim.startswith("banking.")), marks
    screenshot(page, "policy-matrix.png")

    # ---- a new integration of the manager role; its credentials are shown once
    response = page.goto(f"{base}/admin/accounts/client/add/")
    assert response.status == 200
    page.fill("#id_name", "crm integration")
    page.select_option("#id_role", label="manager")
    grant_type = page.locator("#id_authorization_grant_type option:checked").inner_text()
    assert grant_type.startswith("Integration: client credentials"), grant_type
    with page.expect_navigation() as navigation:
        page.click("input[name=_save]")
    assert page.locator("#credentials").count() == 1, page.content()
    assert "no-store" in navigation.value.headers.get("cache-control", "")
    client_id = page.locator("#credentials code.client-id").inner_text().strip()
    client_secret = page.locator("#credentials code.client-secret").inner_text().strip()
    api_key = page.locator("#credentials code.api-key").inner_text().strip()
    assert client_id
    assert client_secret not in {"", "—"}
    assert api_key not in {"", "—"}
    screenshot(page, "client-created.png")
    client = Client.objects.get(client_id=client_id)
    assert client.name == "crm integration"
    assert client.role.name == "manager"

    # ---- outside the browser: a token with those credentials, and a record through the API
    token_response = requests.post(
        f"{base}/oauth/token/",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
        headers={"X-API-Key": api_key},
        timeout=10,
    )
    assert token_response.status_code == 200, token_response.text
    issued = token_response.json()
    assert "address" in issued["granted_claims"], issued
    assert "profile" in issued["granted_claims"], issued
    token = issued["access_token"]
    customer = Customer.objects.create(name="Ada", email="ada@example.com", city="London", country="GB")
    before = customer_as(live_server, token, customer.pk)
    assert before.status_code == 200, before.text
    assert before.json()["address"]["city"] == "London"
    assert before.json()["profile"]["name"] == "Ada"

    # ---- narrow the manager role: drop address:read, confirm the impact
    response = page.goto(f"{base}/admin/accounts/role/?q=manager")
    assert response.status == 200
    with page.expect_navigation():
        page.locator("#result_list a", has_text="manager").first.click()
    assert page.locator("#id_name").input_value() == "manager"
    chosen = page.locator("#id_scopes_to")
    assert sorted(chosen.locator("option").all_inner_texts()) == ["address:read", "profile:read"]
    chosen.select_option(label="address:read")
    page.click("#id_scopes_remove")  # Django 5's button; older releases had "#id_scopes_remove_link"
    assert chosen.locator("option").all_inner_texts() == ["profile:read"]
    with page.expect_navigation():
        page.click("input[name=_save]")
    impact = page.locator("#impact")
    assert impact.count() == 1, page.content()
    manager_impact = impact.locator("tbody tr").filter(has=page.locator("th", has_text="manager"))
    assert manager_impact.count() == 1, impact.inner_html()
    lost_read = manager_impact.locator("td.loss").first.inner_text()
    for claim in ADDRESS_CLAIMS:
        assert claim in lost_read, lost_read
    assert manager_impact.locator("td").first.inner_text().strip() == "1"  # one client holds it
    screenshot(page, "impact.png")
    # Nothing is saved before the officer confirms.
    assert set(Role.objects.get(name="manager").scopes.values_list("name", flat=True)) == {
        "address:read",
        "profile:read",
    }
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, apply this change").click()
    assert page.url.split("?")[0] == f"{base}/admin/accounts/role/", page.url
    success = page.locator(".messagelist .success")
    assert success.count() >= 1, page.content()
    assert "manager" in success.first.inner_text()
    assert set(Role.objects.get(name="manager").scopes.values_list("name", flat=True)) == {"profile:read"}

    # ---- the token issued before the change loses the address claims on its next request
    after = customer_as(live_server, token, customer.pk)
    assert after.status_code == 200, after.text
    assert "address" not in after.json(), after.json()
    assert after.json()["profile"]["name"] == "Ada"

    # ---- the credentials are never shown again
    response = page.goto(f"{base}/admin/accounts/client/{client.pk}/change/")
    assert response.status == 200
    html = page.content()
    assert client_id in html  # the right page: the client id is not a secret
    assert client_secret not in html
    assert api_key not in html
    assert page.locator("#credentials").count() == 0
    response = page.goto(f"{base}/admin/accounts/client/")
    assert response.status == 200
    assert client_secret not in page.content()
    assert api_key not in page.content()


def test_officer_is_refused_users_and_groups(officer_page, live_server):
    """Officers hold no permission on users or groups: they cannot make anyone a superuser."""
    statuses = {
        path: officer_page.goto(f"{live_server.url}{path}").status
        for path in ["/admin/accounts/user/", "/admin/auth/group/add/"]
    }
    assert statuses == {"/admin/accounts/user/": 403, "/admin/auth/group/add/": 403}


def _matrix_columns(matrix) -> list[str]:
    """`category.claim` for each mark column, read from the two header rows (as in the HTML:
    text_content, since the admin's CSS upper-cases what inner_text would return)."""
    header_rows = matrix.locator("thead tr")
    categories = [
        (cell.text_content().strip(), int(cell.get_attribute("colspan") or 1))
        for cell in header_rows.nth(0).locator("th.category").all()
    ]
    names = header_rows.nth(1).locator("th").all_text_contents()
    columns = [category for category, span in categories for _ in range(span)]
    assert len(columns) == len(names), (categories, names)
    return [f"{category}.{name.strip()}" for category, name in zip(columns, names, strict=True)]
