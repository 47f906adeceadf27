"""The officers' admin over HTTP: least privilege, one-time credentials, policy tools, audit."""

import base64
import re

import pytest
from auditlog.models import LogEntry
from django.test import Client as HttpClient

from accounts.models import ApiKey, AuditEvent, Client, Role, User
from accounts.services import officer_create
from claims.models import Claim, ClaimCategory, Scope

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def officer(db) -> User:
    return officer_create(username="olga", password="correct-horse-battery-9")


@pytest.fixture
def officer_client(officer) -> HttpClient:
    browser = HttpClient()
    browser.force_login(officer)
    return browser


def token_status(client_id: str, secret: str, api_key: str | None) -> int:
    headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
    if api_key:
        headers["HTTP_X_API_KEY"] = api_key
    return (
        HttpClient()
        .post("/oauth/token/", "grant_type=client_credentials", content_type=FORM, **headers)
        .status_code
    )


def shown_credentials(html: str) -> dict[str, str]:
    found = {}
    for name in ("client-id", "client-secret", "api-key"):
        match = re.search(rf'<code class="{name}">([^<]*)</code>', html)
        found[name] = match.group(1) if match else ""
    return found


@pytest.mark.django_db
def test_officer_is_staff_but_not_superuser(officer):
    assert officer.is_staff
    assert not officer.is_superuser
    assert officer.groups.filter(name="Security officers").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/user/",
        "/admin/accounts/user/add/",
        "/admin/auth/group/",
        "/admin/auth/group/add/",
        "/admin/claims/customer/",
    ],
)
def test_officer_cannot_reach_users_groups_or_customers(officer_client, officer, url):
    assert officer_client.get(url).status_code == 403


@pytest.mark.django_db
def test_officer_cannot_edit_their_own_account_or_groups(officer_client, officer):
    assert officer_client.get(f"/admin/accounts/user/{officer.pk}/change/").status_code == 403
    response = officer_client.post(
        f"/admin/accounts/user/{officer.pk}/change/", {"is_superuser": "on", "username": "olga"}
    )
    assert response.status_code == 403
    officer.refresh_from_db()
    assert not officer.is_superuser


@pytest.mark.django_db
def test_officer_assigns_a_persons_role_but_no_privilege(officer_client):
    person = User.objects.create_user("pat")
    manager = Role.objects.get(name="manager")
    response = officer_client.post(
        f"/admin/accounts/personrole/{person.pk}/change/",
        {"role": manager.pk, "is_active": "on", "is_superuser": "on", "is_staff": "on", "groups": [1]},
    )
    assert response.status_code == 302, response.content
    person.refresh_from_db()
    assert person.role == manager
    assert not person.is_superuser
    assert not person.is_staff
    assert not person.groups.exists()


@pytest.mark.django_db
def test_audit_entries_are_read_only_for_officers(officer_client, make_client):
    Role.objects.get(name="viewer").scopes.set(Scope.objects.filter(name="basic:read"))
    entry = LogEntry.objects.first()
    assert officer_client.get("/admin/auditlog/logentry/").status_code == 200
    assert (
        officer_client.post(f"/admin/auditlog/logentry/{entry.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert LogEntry.objects.filter(pk=entry.pk).exists()
    event = AuditEvent.objects.create(action=AuditEvent.Action.TOKEN_REFUSED, reason="x")
    assert officer_client.get("/admin/accounts/auditevent/").status_code == 200
    assert (
        officer_client.post(f"/admin/accounts/auditevent/{event.pk}/change/", {"reason": "y"}).status_code
        == 403
    )
    assert (
        officer_client.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    event.refresh_from_db()
    assert event.reason == "x"


@pytest.mark.django_db
def test_client_created_in_the_admin_shows_its_credentials_once(officer_client):
    manager = Role.objects.get(name="manager")
    response = officer_client.post(
        "/admin/accounts/client/add/",
        {
            "name": "crm",
            "role": manager.pk,
            "authorization_grant_type": "client-credentials",
            "redirect_uris": "",
            "is_active": "on",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    shown = shown_credentials(response.content.decode())
    client = Client.objects.get(name="crm")
    assert shown["client-id"] == client.client_id
    assert len(shown["client-secret"]) >= 43
    assert shown["api-key"].startswith("tk_")
    assert token_status(shown["client-id"], shown["client-secret"], shown["api-key"]) == 200
    # Never again: not on the change page, not in the database.
    page = officer_client.get(f"/admin/accounts/client/{client.pk}/change/").content.decode()
    assert shown["client-secret"] not in page
    assert shown["api-key"] not in page
    assert shown["client-secret"] not in client.client_secret
    assert "read address" in page  # the effective-access preview


@pytest.mark.django_db
def test_rotating_a_secret_stops_the_old_one(officer_client, make_client):
    issued = make_client("manager")
    response = officer_client.post(
        "/admin/accounts/client/", {"action": "rotate_secret", "_selected_action": [issued.client.pk]}
    )
    new_secret = shown_credentials(response.content.decode())["client-secret"]
    assert new_secret
    assert new_secret != issued.client_secret
    assert token_status(issued.client.client_id, issued.client_secret, issued.api_key) == 401
    assert token_status(issued.client.client_id, new_secret, issued.api_key) == 200


@pytest.mark.django_db
def test_issuing_and_revoking_api_keys(officer_client, make_client):
    issued = make_client("viewer")
    response = officer_client.post(
        "/admin/accounts/client/", {"action": "issue_api_key", "_selected_action": [issued.client.pk]}
    )
    new_key = shown_credentials(response.content.decode())["api-key"]
    assert token_status(issued.client.client_id, issued.client_secret, new_key) == 200
    old = ApiKey.objects.filter(client=issued.client).order_by("created_at", "pk").first()
    officer_client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [old.pk]})
    assert token_status(issued.client.client_id, issued.client_secret, issued.api_key) == 401
    assert token_status(issued.client.client_id, issued.client_secret, new_key) == 200


@pytest.mark.django_db
def test_revoking_all_tokens_of_a_client(officer_client, make_client, client):
    issued = make_client("admin")
    token = client.post(
        "/oauth/token/",
        "grant_type=client_credentials",
        content_type=FORM,
        HTTP_AUTHORIZATION="Basic "
        + base64.b64encode(f"{issued.client.client_id}:{issued.client_secret}".encode()).decode(),
        HTTP_X_API_KEY=issued.api_key,
    ).json()["access_token"]
    api = "/api/v1/customers/"
    assert client.get(api, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    token_list = officer_client.get("/admin/oauth2_provider/accesstoken/").content.decode()
    assert issued.client.name in token_list
    assert token not in token_list
    officer_client.post(
        "/admin/accounts/client/", {"action": "revoke_tokens", "_selected_action": [issued.client.pk]}
    )
    assert client.get(api, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert AuditEvent.objects.filter(action="token.revoked", client=issued.client).exists()


@pytest.mark.django_db
def test_role_left_without_scopes_is_refused(officer_client):
    viewer = Role.objects.get(name="viewer")
    response = officer_client.post(
        f"/admin/accounts/role/{viewer.pk}/change/", {"name": "viewer", "description": ""}
    )
    assert response.status_code == 200
    assert b"A role needs at least one scope" in response.content
    assert viewer.scopes.exists()


@pytest.mark.django_db
def test_duplicate_names_and_unknown_attributes_are_refused(officer_client):
    response = officer_client.post("/admin/accounts/role/add/", {"name": "manager", "scopes": [1]})
    assert b"already exists" in response.content
    profile = ClaimCategory.objects.get(name="profile")
    response = officer_client.post(
        "/admin/claims/claim/add/", {"category": profile.pk, "name": "shoe_size", "attribute": "shoe_size"}
    )
    assert b"has no field" in response.content
    assert not Claim.objects.filter(name="shoe_size").exists()


@pytest.mark.django_db
def test_scope_change_shows_its_impact_before_saving(officer_client):
    scope = Scope.objects.get(name="profile:read")
    iban = Claim.objects.get(name="iban")
    form = {
        "name": "profile:read",
        "description": "",
        "claims": [*scope.claims.values_list("pk", flat=True), iban.pk],
    }
    preview = officer_client.post(f"/admin/claims/scope/{scope.pk}/change/", form)
    assert preview.status_code == 200
    html = preview.content.decode()
    for role in ("salesperson", "editor", "manager"):
        assert f"<th>{role}</th>" in html
    assert "banking.iban" in html
    assert not scope.claims.filter(pk=iban.pk).exists()
    confirmed = officer_client.post(
        f"/admin/claims/scope/{scope.pk}/change/", {**form, "_impact_confirmed": "1"}
    )
    assert confirmed.status_code == 302
    assert scope.claims.filter(pk=iban.pk).exists()


@pytest.mark.django_db
def test_policy_matrix_shows_roles_by_claims(officer_client):
    html = officer_client.get("/admin/policy-matrix/").content.decode()
    row = re.search(r"<tr><th><a [^>]*>editor</a></th>(.*?)</tr>", html, re.S).group(1)
    marks = re.findall(r'class="mark mark-[^"]*">([^<]*)<', row)
    # profile: age, email, name readable and writable; address and banking nothing.
    assert marks.count("RW") == 3
    assert marks.count("·") == 8


@pytest.mark.django_db
def test_policy_changes_are_audited_with_actor_and_before_after(officer_client, officer):
    manager = Role.objects.get(name="manager")
    form = {"name": "manager", "description": "", "scopes": [Scope.objects.get(name="profile:read").pk]}
    officer_client.post(f"/admin/accounts/role/{manager.pk}/change/", {**form, "_impact_confirmed": "1"})
    entry = LogEntry.objects.get_for_object(manager).filter(actor=officer).first()
    assert entry is not None
    assert "scopes" in entry.changes_dict


@pytest.mark.django_db
def test_admin_login_page_is_titled_for_the_product(client):
    assert b"Token service" in client.get("/admin/login/").content
