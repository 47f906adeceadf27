"""The officers' admin for credential providers over HTTP: presets, the discovery check before
saving (against a real oidc-provider, and mocked), the write-only secret, the built-in provider,
the refresh action, clients of external providers, and the officers' permissions."""

import base64
import html
import re
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.messages import get_messages
from django.test import Client as HttpClient
from django.utils import timezone

from accounts import provider_forms
from accounts.models import ApiKey, Client, Provider, ProviderRoleMapping, Role, User
from accounts.services import client_create, external_client_create, officer_create
from claims.selectors import policy_revision
from tests.providers import conftest as provider_fixtures
from tests.providers.conftest import JWT_AUDIENCE
from tests.providers.oidc_server import free_port
from tokensvc.providers.discovery import Metadata
from tokensvc.providers.errors import ProviderUnavailable
from tokensvc.providers.jwks import forget_keys
from tokensvc.providers.secret_box import unseal

# The real external provider's fixtures (tests/providers/conftest.py), usable from here.
make_oidc_provider = provider_fixtures.make_oidc_provider
oidc_provider = provider_fixtures.oidc_provider

PROVIDERS = "/admin/accounts/provider/"
CLIENTS = "/admin/accounts/client/"
FORM = "application/x-www-form-urlencoded"
SECRET = "introspection-secret-that-must-never-be-shown-0123456789"


@pytest.fixture(autouse=True)
def _no_cached_keys():
    forget_keys()
    yield
    forget_keys()


@pytest.fixture
def officer(db) -> User:
    return officer_create(username="olga", password="correct-horse-battery-9")


@pytest.fixture
def officer_client(officer) -> HttpClient:
    browser = HttpClient()
    browser.force_login(officer)
    return browser


@pytest.fixture
def fake_discovery(monkeypatch):
    """Every issuer publishes metadata (token, JWKS and introspection endpoints under it) and one
    key id; the issuers asked are in the returned list."""
    asked: list[str] = []

    def metadata_fetch(issuer: str) -> Metadata:
        asked.append(issuer)
        base = issuer.rstrip("/")
        return Metadata(
            issuer=issuer,
            token_endpoint=f"{base}/token",
            jwks_uri=f"{base}/jwks",
            introspection_endpoint=f"{base}/introspect",
            token_endpoint_auth_methods=["client_secret_basic"],
            source=f"{base}/.well-known/openid-configuration",
        )

    monkeypatch.setattr(provider_forms, "metadata_fetch", metadata_fetch)
    monkeypatch.setattr(provider_forms, "jwks_key_ids_fetch", lambda uri: ["key-1"])
    return asked


def provider_form(**fields) -> dict[str, str]:
    """The add/change form of an external provider as a browser posts it (no role mapping)."""
    data = {
        "name": "corp_sso",
        "kind": "custom",
        "is_active": "on",
        "issuer": "",
        "keycloak_url": "",
        "keycloak_realm": "",
        "auth0_domain": "",
        "okta_domain": "",
        "okta_authorization_server": "default",
        "entra_tenant": "",
        "audience": JWT_AUDIENCE,
        "audience_parameter": "",
        "request_scope": "",
        "validation": "jwt",
        "algorithms": "RS256",
        "role_claim": "",
        "introspection_client_id": "",
        "introspection_secret": "",
        "role_mappings-TOTAL_FORMS": "0",
        "role_mappings-INITIAL_FORMS": "0",
        "role_mappings-MIN_NUM_FORMS": "0",
        "role_mappings-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def confirmation_post(page: str) -> dict[str, list[str]]:
    """What the confirmation page's form posts back (its hidden fields)."""
    form = page.split('id="provider-found"', 1)[1]
    posted: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form):
        posted.setdefault(html.unescape(name), []).append(html.unescape(value))
    posted["_save"] = ["Yes, save with these endpoints"]
    return posted


def add_confirmed(officer_client, **fields) -> Provider:
    """Add a provider through the admin: post, see the confirmation, confirm."""
    shown = officer_client.post(f"{PROVIDERS}add/", provider_form(**fields))
    assert shown.status_code == 200
    assert 'id="provider-found"' in shown.content.decode(), form_errors(shown)
    saved = officer_client.post(f"{PROVIDERS}add/", confirmation_post(shown.content.decode()))
    assert saved.status_code == 302, saved.content.decode()[:3000]
    return Provider.objects.get(name=fields.get("name", "corp_sso"))


def form_errors(response) -> list:
    """The errors of the admin form and its inlines on a page that shows them again."""
    context = response.context
    errors = [context["adminform"].form.errors]
    for inline in context.get("inline_admin_formsets", []):
        errors += [inline.formset.errors, inline.formset.non_form_errors()]
    return errors


def messages_of(response) -> list[tuple[str, str]]:
    """The messages of a response to an action (the ones it added, read before the redirect)."""
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def act(browser: HttpClient, url: str, data: dict):
    """Post an admin action; its messages are shown, and so consumed, on the page it leads to."""
    response = browser.post(url, data)
    shown = messages_of(response)
    if response.status_code == 302:
        browser.get(response["Location"])
    return response, shown


def external_provider(
    name: str = "corp_sso", issuer: str = "https://sso.example.com/realms/corp"
) -> Provider:
    return Provider.objects.create(
        name=name,
        kind=Provider.Kind.CUSTOM,
        issuer=issuer,
        audience=JWT_AUDIENCE,
        token_endpoint=f"{issuer}/token",
        jwks_uri=f"{issuer}/jwks",
    )


# ------------------------------------------------------------------ against a real provider


@pytest.mark.django_db
def test_officer_adds_a_real_provider_after_seeing_its_endpoints_and_keys(officer_client, oidc_provider):
    issuer = oidc_provider.issuer
    shown = officer_client.post(f"{PROVIDERS}add/", provider_form(issuer=issuer))

    assert shown.status_code == 200
    page = shown.content.decode()
    assert 'id="provider-found"' in page
    assert f'<code class="token-endpoint">{issuer}/token</code>' in page
    assert f'<code class="jwks-uri">{issuer}/jwks</code>' in page
    assert f"{issuer}/token/introspection" in page
    assert "client_secret_basic" in page
    assert re.findall(r'<code class="key-id">([^<]*)</code>', page) == oidc_provider.kids
    assert not Provider.objects.filter(name="corp_sso").exists()  # nothing saved yet

    saved = officer_client.post(f"{PROVIDERS}add/", confirmation_post(page))

    assert saved.status_code == 302, saved.content.decode()[:3000]
    provider = Provider.objects.get(name="corp_sso")
    assert provider.kind == "custom"
    assert provider.issuer == issuer
    assert provider.token_endpoint == f"{issuer}/token"
    assert provider.jwks_uri == f"{issuer}/jwks"
    assert provider.introspection_endpoint == f"{issuer}/token/introspection"
    assert "client_secret_basic" in provider.token_endpoint_auth_methods
    assert provider.jwks_key_ids == oidc_provider.kids
    assert provider.metadata_fetched_at is not None
    assert provider.jwks_fetched_at is not None

    listing = officer_client.get(PROVIDERS).content.decode()
    assert issuer in listing
    assert oidc_provider.kids[0] in listing

    # What the admin stored is what the token endpoint needs: a client of this provider, added
    # through the admin, gets a token with its secret at the provider and our API key.
    added = officer_client.post(
        f"{CLIENTS}add/",
        client_form(name="ext crm", provider=provider.pk, provider_client_id="ext-manager"),
    )
    api_key = re.search(r'<code class="api-key">([^<]*)</code>', added.content.decode()).group(1)
    basic = base64.b64encode(f"ext-manager:{oidc_provider.secrets['ext-manager']}".encode()).decode()
    token = HttpClient().post(
        "/oauth/token/",
        "grant_type=client_credentials",
        content_type=FORM,
        HTTP_AUTHORIZATION=f"Basic {basic}",
        HTTP_X_API_KEY=api_key,
    )
    assert token.status_code == 200, token.content
    assert "profile" in token.json()["granted_claims"]


@pytest.mark.django_db
def test_a_provider_that_is_down_is_a_form_error_and_nothing_is_saved(officer_client):
    issuer = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    response = officer_client.post(f"{PROVIDERS}add/", provider_form(issuer=issuer))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="provider-found"' not in page
    assert "errornote" in page or "errorlist" in page
    [error] = response.context["adminform"].form.non_field_errors()
    assert error.startswith("Nothing saved: the provider's metadata could not be read: ")
    assert f"{issuer}/.well-known/openid-configuration" in error  # ProviderUnavailable.reason
    assert html.escape(error) in page
    assert not Provider.objects.filter(name="corp_sso").exists()


@pytest.mark.django_db
def test_refresh_action_records_key_ids_and_the_error_of_a_provider_that_is_down(
    officer_client, oidc_provider
):
    provider = Provider.objects.create(
        name="corp_sso", kind="custom", issuer=oidc_provider.issuer, audience=JWT_AUDIENCE
    )
    action = {"action": "refresh", "_selected_action": [provider.pk]}
    revision = policy_revision()

    response, shown = act(officer_client, PROVIDERS, action)

    assert response.status_code == 302
    assert policy_revision() != revision  # new endpoints: every process rebuilds its registry
    provider.refresh_from_db()
    assert provider.token_endpoint == f"{oidc_provider.issuer}/token"
    assert provider.jwks_key_ids == oidc_provider.kids
    assert provider.jwks_fetched_at is not None
    assert provider.metadata_fetched_at is not None
    assert provider.last_error == ""
    assert [level for level, _ in shown] == ["success"]

    # Unchanged endpoints are status only: the registry is not rebuilt for them.
    revision = policy_revision()
    new_kids = oidc_provider.rotate_keys()
    act(officer_client, PROVIDERS, action)
    provider.refresh_from_db()
    assert provider.jwks_key_ids == new_kids
    assert policy_revision() == revision

    oidc_provider.down()
    response, shown = act(officer_client, PROVIDERS, action)

    provider.refresh_from_db()
    assert provider.last_error
    assert provider.last_error_at is not None
    assert provider.jwks_key_ids == new_kids  # what was known stays
    [(level, text)] = shown
    assert level == "error"
    assert provider.last_error in text
    listing = officer_client.get(PROVIDERS).content.decode()
    assert html.escape(provider.last_error) in listing


# ------------------------------------------------------------------ presets and the form


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "issuer"),
    [
        (
            {"kind": "keycloak", "keycloak_url": "https://sso.example.com/", "keycloak_realm": "corp"},
            "https://sso.example.com/realms/corp",
        ),
        ({"kind": "auth0", "auth0_domain": "example.eu.auth0.com"}, "https://example.eu.auth0.com/"),
        ({"kind": "okta", "okta_domain": "example.okta.com"}, "https://example.okta.com/oauth2/default"),
        (
            {"kind": "okta", "okta_domain": "example.okta.com", "okta_authorization_server": "aus1x"},
            "https://example.okta.com/oauth2/aus1x",
        ),
        (
            {"kind": "entra", "entra_tenant": "8f7a1c2e-1111-4222-8333-944455556666"},
            "https://login.microsoftonline.com/8f7a1c2e-1111-4222-8333-944455556666/v2.0",
        ),
        ({"kind": "google"}, "https://accounts.google.com"),
        ({"kind": "custom", "issuer": "https://idp.example.org/oauth"}, "https://idp.example.org/oauth"),
        # A preset ignores whatever is typed as the issuer.
        (
            {"kind": "auth0", "auth0_domain": "example.eu.auth0.com", "issuer": "https://evil.test"},
            "https://example.eu.auth0.com/",
        ),
    ],
)
def test_presets_fill_in_the_issuer(officer_client, fake_discovery, fields, issuer):
    provider = add_confirmed(officer_client, **fields)

    assert fake_discovery == [issuer]
    assert provider.issuer == issuer
    assert provider.kind == fields["kind"]
    assert provider.token_endpoint == f"{issuer.rstrip('/')}/token"
    assert provider.jwks_key_ids == ["key-1"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "keycloak", "keycloak_url": "sso.example.com", "keycloak_realm": "corp"}, "Keycloak"),
        ({"kind": "keycloak", "keycloak_url": "https://sso.example.com", "keycloak_realm": "a/b"}, "realm"),
        ({"kind": "auth0", "auth0_domain": "not a domain"}, "Auth0 tenant domain"),
        ({"kind": "okta", "okta_domain": ""}, "Okta domain"),
        ({"kind": "entra", "entra_tenant": ""}, "Entra tenant"),
        ({"kind": "custom", "issuer": ""}, "Give the issuer URL"),
        ({"kind": "custom", "issuer": "http://idp.example.org"}, "not an https URL"),
        ({"kind": "custom", "issuer": "https://idp.example.org", "audience": ""}, "audience"),
        ({"kind": "custom", "issuer": "https://idp.example.org", "algorithms": "HS256"}, "asymmetric"),
        ({"kind": "custom", "issuer": "https://idp.example.org", "algorithms": "none"}, "asymmetric"),
        ({"kind": "builtin", "issuer": "https://idp.example.org"}, "Select a valid choice"),
        (
            {"kind": "custom", "issuer": "https://idp.example.org", "validation": "introspection"},
            "give our client_id",
        ),
    ],
)
def test_invalid_provider_forms_are_refused_before_anything_is_fetched(
    officer_client, fake_discovery, fields, message
):
    response = officer_client.post(f"{PROVIDERS}add/", provider_form(**fields))

    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert fake_discovery == []
    assert not Provider.objects.filter(name="corp_sso").exists()


@pytest.mark.django_db
def test_discovery_failure_shows_the_reason_and_saves_nothing(officer_client, monkeypatch):
    def down(issuer: str) -> Metadata:
        raise ProviderUnavailable(f"{issuer}/.well-known/openid-configuration answered 503")

    monkeypatch.setattr(provider_forms, "metadata_fetch", down)

    response = officer_client.post(f"{PROVIDERS}add/", provider_form(issuer="https://idp.example.org"))

    assert response.status_code == 200
    assert (
        "https://idp.example.org/.well-known/openid-configuration answered 503" in response.content.decode()
    )
    assert not Provider.objects.filter(name="corp_sso").exists()


@pytest.mark.django_db
def test_a_forged_or_stale_confirmation_saves_nothing(officer_client, fake_discovery):
    shown = officer_client.post(f"{PROVIDERS}add/", provider_form(issuer="https://idp.example.org"))
    posted = confirmation_post(shown.content.decode())

    forged = {**posted, "_provider_found": ["x" + posted["_provider_found"][0]]}
    assert officer_client.post(f"{PROVIDERS}add/", forged).status_code == 200
    other_issuer = {**posted, "issuer": ["https://other.example.org"]}
    assert officer_client.post(f"{PROVIDERS}add/", other_issuer).status_code == 200

    assert not Provider.objects.filter(name="corp_sso").exists()


@pytest.mark.django_db
def test_an_inactive_provider_is_saved_without_asking_it(officer_client, fake_discovery):
    response = officer_client.post(
        f"{PROVIDERS}add/", provider_form(issuer="https://idp.example.org", is_active=None)
    )

    assert response.status_code == 302
    assert fake_discovery == []
    provider = Provider.objects.get(name="corp_sso")
    assert not provider.is_active
    assert provider.token_endpoint == ""


@pytest.mark.django_db
def test_change_form_shows_the_preset_values_again_and_keeps_the_issuer(officer_client, fake_discovery):
    provider = add_confirmed(
        officer_client, kind="keycloak", keycloak_url="https://sso.example.com", keycloak_realm="corp"
    )
    page = officer_client.get(f"{PROVIDERS}{provider.pk}/change/").content.decode()
    assert 'value="https://sso.example.com"' in page
    assert 'value="corp"' in page

    shown = officer_client.post(
        f"{PROVIDERS}{provider.pk}/change/",
        provider_form(
            kind="keycloak",
            keycloak_url="https://sso.example.com",
            keycloak_realm="corp",
            audience="https://api.example.com/",
        ),
    )
    saved = officer_client.post(
        f"{PROVIDERS}{provider.pk}/change/", confirmation_post(shown.content.decode())
    )

    assert saved.status_code == 302
    provider.refresh_from_db()
    assert provider.issuer == "https://sso.example.com/realms/corp"
    assert provider.audience == "https://api.example.com/"


@pytest.mark.django_db
def test_role_mappings_are_edited_inline_and_shown_in_the_effective_access(officer_client, fake_discovery):
    manager = Role.objects.get(name="manager")
    provider = add_confirmed(
        officer_client,
        issuer="https://idp.example.org",
        role_claim="roles",
        **{
            "role_mappings-TOTAL_FORMS": "1",
            "role_mappings-0-value": "manager",
            "role_mappings-0-role": str(manager.pk),
            "role_mappings-0-priority": "10",
        },
    )

    [mapping] = ProviderRoleMapping.objects.filter(provider=provider)
    assert (mapping.value, mapping.role, mapping.priority) == ("manager", manager, 10)
    page = html.unescape(officer_client.get(f"{PROVIDERS}{provider.pk}/change/").content.decode())
    assert "tokens carrying roles=manager get role manager" in page

    client = external_client_create(
        name="ext crm", role=Role.objects.get(name="viewer"), provider=provider, client_id="ext-crm"
    ).client
    page = html.unescape(officer_client.get(f"{CLIENTS}{client.pk}/change/").content.decode())
    assert "tokens carrying roles=manager get role manager" in page
    assert "address" in page.split("tokens carrying roles=manager", 1)[1]  # the manager's claims


# ------------------------------------------------------------------ the introspection secret


@pytest.mark.django_db
def test_the_introspection_secret_is_stored_sealed_and_never_rendered(officer_client, fake_discovery):
    fields = {
        "issuer": "https://idp.example.org",
        "validation": "introspection",
        "introspection_client_id": "tokensvc",
        "introspection_secret": SECRET,
    }
    shown = officer_client.post(f"{PROVIDERS}add/", provider_form(**fields))
    assert SECRET not in shown.content.decode()  # carried encrypted through the confirmation
    saved = officer_client.post(f"{PROVIDERS}add/", confirmation_post(shown.content.decode()))
    assert saved.status_code == 302, saved.content.decode()[:3000]

    provider = Provider.objects.get(name="corp_sso")
    assert unseal(provider.introspection_secret_encrypted) == SECRET
    assert provider.introspection_endpoint == "https://idp.example.org/introspect"
    sealed = provider.introspection_secret_encrypted

    # An empty field keeps the secret; a save with a form error does not echo a typed one.
    kept = {**fields, "introspection_secret": "", "audience": "https://api.example.com/"}
    shown = officer_client.post(f"{PROVIDERS}{provider.pk}/change/", provider_form(**kept))
    officer_client.post(f"{PROVIDERS}{provider.pk}/change/", confirmation_post(shown.content.decode()))
    provider.refresh_from_db()
    assert provider.audience == "https://api.example.com/"
    assert unseal(provider.introspection_secret_encrypted) == SECRET
    refused = officer_client.post(
        f"{PROVIDERS}{provider.pk}/change/", provider_form(**{**fields, "audience": ""})
    )
    assert refused.status_code == 200
    assert SECRET not in refused.content.decode()

    entries = LogEntry.objects.get_for_object(provider)
    pages = [
        PROVIDERS,
        f"{PROVIDERS}{provider.pk}/change/",
        f"{PROVIDERS}{provider.pk}/history/",
        "/admin/auditlog/logentry/",
        *(f"/admin/auditlog/logentry/{entry.pk}/change/" for entry in entries),
    ]
    for url in pages:
        response = officer_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert SECRET not in page, url
        assert sealed not in page, url
    assert entries.exists()
    for entry in entries:
        assert "introspection_secret_encrypted" not in (entry.changes or {})

    # Forgetting it is explicit.
    forget = {**fields, "introspection_secret": "", "validation": "jwt", "forget_introspection_secret": "on"}
    shown = officer_client.post(f"{PROVIDERS}{provider.pk}/change/", provider_form(**forget))
    officer_client.post(f"{PROVIDERS}{provider.pk}/change/", confirmation_post(shown.content.decode()))
    provider.refresh_from_db()
    assert provider.introspection_secret_encrypted == ""


# ------------------------------------------------------------------ the built-in provider


@pytest.mark.django_db
def test_the_builtin_provider_cannot_be_deleted_or_changed_into_another_kind(officer_client, officer):
    builtin = Provider.objects.get(kind="builtin")
    external = external_provider()

    assert officer_client.get(f"{PROVIDERS}{builtin.pk}/delete/").status_code == 403
    assert officer_client.post(f"{PROVIDERS}{builtin.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [builtin.pk, external.pk], "post": "yes"}
    assert officer_client.post(PROVIDERS, bulk).status_code == 403
    assert Provider.objects.filter(pk__in=[builtin.pk, external.pk]).count() == 2

    page = officer_client.get(f"{PROVIDERS}{builtin.pk}/change/").content.decode()
    assert 'name="kind"' not in page
    for external_only in ("issuer", "audience", "introspection_secret", "algorithms", "role_mappings-"):
        assert f'name="{external_only}' not in page, external_only
    response = officer_client.post(
        f"{PROVIDERS}{builtin.pk}/change/",
        {"name": "builtin", "kind": "custom", "issuer": "https://evil.test", "_save": "Save"},
    )
    assert response.status_code == 302
    builtin.refresh_from_db()
    assert (builtin.kind, builtin.issuer) == ("builtin", "")

    # An external provider without clients can be deleted.
    assert officer_client.post(f"{PROVIDERS}{external.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Provider.objects.filter(pk=external.pk).exists()


# ------------------------------------------------------------------ clients of external providers


def client_form(**fields) -> dict[str, str]:
    data = {
        "name": "crm",
        "role": str(Role.objects.get(name="manager").pk),
        "provider": str(Provider.objects.get(kind="builtin").pk),
        "provider_client_id": "",
        "authorization_grant_type": "client-credentials",
        "redirect_uris": "",
        "is_active": "on",
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "0",
        "_save": "Save",
    }
    data.update({key: str(value) for key, value in fields.items()})
    return data


@pytest.mark.django_db
def test_an_external_client_is_created_with_its_provider_client_id_and_an_api_key_shown_once(officer_client):
    provider = external_provider()

    response = officer_client.post(
        f"{CLIENTS}add/", client_form(provider=provider.pk, provider_client_id="crm-at-corp")
    )

    assert response.status_code == 200, response.content.decode()[:3000]
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert re.search(r'<code class="client-id">([^<]*)</code>', page).group(1) == "crm-at-corp"
    assert re.search(r'<code class="client-secret">([^<]*)</code>', page).group(1) == "—"
    api_key = re.search(r'<code class="api-key">([^<]*)</code>', page).group(1)
    assert api_key not in {"", "—"}
    client = Client.objects.get(client_id="crm-at-corp")
    assert client.provider == provider
    assert client.role.name == "manager"
    assert client.requires_api_key
    assert client.authorization_grant_type == Client.GRANT_CLIENT_CREDENTIALS
    assert ApiKey.objects.filter(client=client).count() == 1

    for url in (f"{CLIENTS}{client.pk}/change/", CLIENTS):
        assert api_key not in officer_client.get(url).content.decode()
    change_page = officer_client.get(f"{CLIENTS}{client.pk}/change/").content.decode()
    assert 'name="provider"' not in change_page  # fixed once created


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"provider_client_id": ""}, "provider_client_id", "Give the client_id"),
        ({"provider_client_id": "taken"}, "provider_client_id", "Another client already has"),
        ({"provider_client_id": "a b"}, "provider_client_id", "no spaces"),
        (
            {
                "provider_client_id": "x",
                "authorization_grant_type": "authorization-code",
                "redirect_uris": "https://app.example.com/cb",
            },
            "authorization_grant_type",
            "is an integration",
        ),
        ({"provider_client_id": "x", "is_resource_server": "on"}, "is_resource_server", "no secret of ours"),
        (
            {"provider_client_id": "x", "may_exchange_tokens": "on"},
            "may_exchange_tokens",
            "no secret of ours",
        ),
    ],
)
def test_external_client_form_errors(officer_client, make_client, fields, field, message):
    provider = external_provider()
    external_client_create(
        name="other", role=Role.objects.get(name="viewer"), provider=provider, client_id="taken"
    )
    before = Client.objects.count()

    response = officer_client.post(f"{CLIENTS}add/", client_form(provider=provider.pk, **fields))

    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert response.context["adminform"].form.errors[field]
    assert Client.objects.count() == before


@pytest.mark.django_db
def test_a_builtin_client_is_created_as_before_with_a_secret(officer_client):
    response = officer_client.post(f"{CLIENTS}add/", client_form(may_exchange_tokens="on"))

    page = response.content.decode()
    assert re.search(r'<code class="client-secret">([^<]*)</code>', page).group(1) not in {"", "—"}
    client = Client.objects.get(name="crm")
    assert client.provider.is_builtin
    assert client.may_exchange_tokens
    assert (
        officer_client.post(f"{CLIENTS}add/", client_form(name="other", provider_client_id="mine"))
        .context["adminform"]
        .form.errors["provider_client_id"]
    )


@pytest.mark.django_db
def test_rotate_secret_refuses_external_clients(officer_client):
    provider = external_provider()
    external = external_client_create(
        name="ext", role=Role.objects.get(name="viewer"), provider=provider, client_id="ext-crm"
    ).client
    stored = external.client_secret
    builtin = client_create(name="own", role=Role.objects.get(name="viewer")).client

    alone, shown = act(
        officer_client, CLIENTS, {"action": "rotate_secret", "_selected_action": [external.pk]}
    )

    assert alone.status_code == 302
    [(level, text)] = shown
    assert level == "error"
    assert "ext" in text
    assert "corp_sso" in text
    external.refresh_from_db()
    assert external.client_secret == stored

    both = officer_client.post(
        CLIENTS, {"action": "rotate_secret", "_selected_action": [external.pk, builtin.pk]}
    )

    assert both.status_code == 200
    page = both.content.decode()
    assert page.count('<code class="client-secret">') == 1
    assert "ext-crm" not in page.split('id="credentials"', 1)[1]
    external.refresh_from_db()
    assert external.client_secret == stored


# ------------------------------------------------------------------ permissions and audit


@pytest.mark.django_db
def test_officers_manage_providers_and_mappings_and_read_forwarded_tokens(officer, officer_client):
    for codename in (
        *(f"accounts.{verb}_provider" for verb in ("add", "change", "delete", "view")),
        *(f"accounts.{verb}_providerrolemapping" for verb in ("add", "change", "delete", "view")),
        "accounts.view_forwardedtoken",
    ):
        assert officer.has_perm(codename), codename
    assert not officer.has_perm("accounts.change_forwardedtoken")
    assert not officer.has_perm("accounts.delete_forwardedtoken")

    assert officer_client.get(PROVIDERS).status_code == 200
    assert officer_client.get(f"{PROVIDERS}add/").status_code == 200
    assert officer_client.get("/admin/accounts/forwardedtoken/").status_code == 200
    assert officer_client.get("/admin/accounts/forwardedtoken/add/").status_code == 403


@pytest.mark.django_db
def test_a_staff_member_without_provider_permissions_cannot_make_the_service_call_out(db, fake_discovery):
    staff = User.objects.create_user("sam", password="x-correct-horse-9", is_staff=True)
    browser = HttpClient()
    browser.force_login(staff)

    response = browser.post(f"{PROVIDERS}add/", provider_form(issuer="https://idp.example.org"))

    assert response.status_code == 403
    assert fake_discovery == []


@pytest.mark.django_db
def test_forwarded_tokens_are_listed_without_their_checksum(officer_client):
    from accounts.models import ForwardedToken

    provider = external_provider()
    client = external_client_create(
        name="ext", role=Role.objects.get(name="viewer"), provider=provider, client_id="ext-crm"
    ).client
    ForwardedToken.objects.create(
        provider=provider,
        client=client,
        token_checksum="c" * 64,
        scope="profile:read",
        expires=timezone.now() + timedelta(hours=1),
    )

    page = officer_client.get("/admin/accounts/forwardedtoken/").content.decode()

    assert "profile:read" in page
    assert "c" * 64 not in page


@pytest.mark.django_db
def test_provider_changes_are_in_the_audit_trail_with_endpoints_without_secret_or_status(
    officer_client, fake_discovery
):
    provider = add_confirmed(officer_client, issuer="https://idp.example.org", role_claim="roles")
    provider.refresh_from_db()

    [entry] = LogEntry.objects.get_for_object(provider)
    assert entry.actor.username == "olga"
    assert entry.changes["issuer"][1] == "https://idp.example.org"
    # Where clients' secrets get forwarded is part of the trail; the secret and health are not.
    assert "token_endpoint" in entry.changes
    for hidden in ("introspection_secret_encrypted", "jwks_key_ids", "last_error"):
        assert hidden not in entry.changes

    ProviderRoleMapping.objects.create(provider=provider, value="x", role=Role.objects.get(name="viewer"))
    assert LogEntry.objects.get_for_model(ProviderRoleMapping).exists()
