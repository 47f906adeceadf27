"""Small helpers shared by the OAuth endpoint tests: credentials, PKCE and the consent flow."""

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

from accounts.models import Role, User
from accounts.services import browser_app_create

TOKEN_URL = "/oauth/token/"
AUTHORIZE_URL = "/oauth/authorize/"
REVOKE_URL = "/oauth/revoke/"
INTROSPECT_URL = "/oauth/introspect/"
METADATA_URL = "/.well-known/oauth-authorization-server"
LOGIN_URL = "/accounts/login/"
FORM = "application/x-www-form-urlencoded"

REDIRECT_URI = "https://app.example.com/callback"
PASSWORD = "correct horse battery staple 42"

PROFILE = ["age", "email", "name"]
ADDRESS = ["city", "country", "postal_code", "street"]
BANKING = ["annual_income", "bank_name", "credit_limit", "iban"]


def basic(client_id: str, secret: str) -> str:
    """An `Authorization: Basic` value (RFC 6749 §2.3.1)."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def pkce_pair() -> tuple[str, str]:
    """A PKCE code_verifier and its S256 code_challenge (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def query_of(url: str) -> dict[str, str]:
    """The query parameters of a URL, one value each."""
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def post_form(client, url: str, params: dict, **headers):
    """A form-encoded POST, as every OAuth client sends it."""
    return client.post(url, urlencode(params), content_type=FORM, **headers)


def client_credentials_token(client, issued, **params) -> dict:
    """A client_credentials token for an IssuedClient (Basic + API key); the JSON answer."""
    params.setdefault("grant_type", "client_credentials")
    response = post_form(
        client,
        TOKEN_URL,
        params,
        HTTP_AUTHORIZATION=basic(issued.client.client_id, issued.client_secret),
        HTTP_X_API_KEY=issued.api_key,
    )
    assert response.status_code == 200, response.content
    return response.json()


def browser_app(name: str = "Sales web app", role: str = "admin"):
    """A public browser app registered for REDIRECT_URI."""
    return browser_app_create(name=name, role=Role.objects.get(name=role), redirect_uris=[REDIRECT_URI])


def person(username: str = "alice", role: str | None = "manager") -> User:
    return User.objects.create_user(
        username, password=PASSWORD, role=Role.objects.get(name=role) if role else None
    )


class _HiddenInputs(HTMLParser):
    """Collects <input type="hidden"> name/value pairs of a page."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden fields of the consent form, as the browser would submit them."""
    parser = _HiddenInputs()
    parser.feed(html)
    parser.fields.pop("csrfmiddlewaretoken", None)
    return parser.fields


def authorize_params(app, challenge: str | None, **overrides) -> dict:
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "xyz",
        "scope": "profile:read address:read",
    }
    params |= overrides
    return {name: value for name, value in params.items() if value is not None}


def consent(client, app, challenge: str, **overrides):
    """GET the consent page and approve it; the redirect response of the POST."""
    page = client.get(AUTHORIZE_URL, authorize_params(app, challenge, **overrides))
    assert page.status_code == 200, page.content
    fields = hidden_fields(page.content.decode())
    return client.post(AUTHORIZE_URL, {**fields, "allow": "Authorize"})


def code_for(client, app, challenge: str, **overrides) -> str:
    """An authorization code obtained through the consent page."""
    response = consent(client, app, challenge, **overrides)
    assert response.status_code == 302, response.content
    return query_of(response["Location"])["code"]


def exchange_code(client, app, code: str, verifier: str, **overrides):
    params = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": app.client_id,
        "code_verifier": verifier,
    } | overrides
    return post_form(client, TOKEN_URL, params)


def refresh(client, app, refresh_token: str):
    return post_form(
        client,
        TOKEN_URL,
        {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": app.client_id},
    )


def people_tokens(client, app, user, scope: str = "profile:read address:read") -> dict:
    """Access and refresh token of `user` through the full PKCE flow; the JSON answer."""
    client.force_login(user)
    verifier, challenge = pkce_pair()
    code = code_for(client, app, challenge, scope=scope)
    response = exchange_code(client, app, code, verifier)
    assert response.status_code == 200, response.content
    return response.json()


def introspection(http, resource_server, token: str):
    """The response to introspecting `token`, asked by `resource_server` (an IssuedClient)."""
    return post_form(
        http,
        INTROSPECT_URL,
        {"token": token},
        HTTP_AUTHORIZATION=basic(resource_server.client.client_id, resource_server.client_secret),
        HTTP_X_API_KEY=resource_server.api_key,
    )


def introspected(http, resource_server, token: str) -> dict:
    """The introspection answer for `token`, asked by `resource_server` (an IssuedClient)."""
    response = introspection(http, resource_server, token)
    assert response.status_code == 200, response.content
    return response.json()
