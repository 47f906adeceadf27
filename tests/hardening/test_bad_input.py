"""Hostile and malformed input at the token, revocation, introspection and authorization
endpoints and at the customer API.

Every request here is one that crashed a django-oauth-toolkit based server at some point, or
that a proxy, a fuzzer or a careless client sends (PITFALLS.md). Each must be answered with a 4xx
in the documented JSON shape (RFC 6749 §5.2 `{"error", "error_description"}` with
`Cache-Control: no-store` at /oauth/*, `{"error", ...}` at /api/*), never a 5xx, never HTML,
and must change nothing: no token issued or revoked, no customer written.

The authorization endpoint is the exception to "never HTML": its errors are shown to the person
in the browser, and RFC 6749 §4.1.2.1 forbids redirecting to an invalid redirect_uri, so a 400
page without a redirect is the right answer there.
"""

from __future__ import annotations

import base64
import io
import json
import time
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from oauth2_provider.models import get_access_token_model, get_grant_model

from claims.models import Customer
from tests.tokensvc.oauth_helpers import (
    AUTHORIZE_URL,
    FORM,
    INTROSPECT_URL,
    LOGIN_URL,
    REDIRECT_URI,
    REVOKE_URL,
    TOKEN_URL,
    authorize_params,
    basic,
    browser_app,
    client_credentials_token,
    hidden_fields,
    introspected,
    person,
    pkce_pair,
)

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
Grant = get_grant_model()

LIST_URL = "/api/v1/customers/"
KB = 1024
MB = 1024 * KB
JUNK_10K = "A" * (10 * KB)


# ---------------------------------------------------------------- shared checks


def assert_oauth_error(response, *statuses: int) -> dict:
    """A 4xx in the RFC 6749 §5.2 shape with Cache-Control: no-store; its body."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert isinstance(body["error"], str), body
    assert body["error"], body
    assert isinstance(body["error_description"], str), body
    assert body["error_description"], body
    if response.status_code == 401:
        assert body["error"] == "invalid_client", body
        assert response["WWW-Authenticate"].startswith("Basic "), response["WWW-Authenticate"]
    return body


def assert_api_error(response, *statuses: int) -> dict:
    """A 4xx JSON `{"error": code, ...}` of the customer API; its body."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str), body
    assert body["error"], body
    if response.status_code == 401:
        assert response["WWW-Authenticate"].startswith("Bearer "), response.get("WWW-Authenticate")
    return body


def nested_json(depth: int) -> bytes:
    """A PATCH-shaped JSON object nested `depth` objects deep."""
    inner = "1"
    for _ in range(depth - 2):
        inner = '{"a": ' + inner + "}"
    return ('{"profile": {"name": ' + inner + "}}").encode()


def raw_post(client, url: str, body: bytes, content_type: str = FORM, **extra):
    """A POST of exact bytes; a Content-Length in `extra` is sent as is (a lie, if it says so)."""
    if "CONTENT_LENGTH" in extra:
        # Django's test client would refuse to read past its own payload: a plain stream
        # behaves like a socket whose peer stopped sending.
        extra["wsgi.input"] = io.BytesIO(body)
    return client.generic("POST", url, body, content_type=content_type, **extra)


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def owner(make_client):
    """A confidential admin client: calls the token and revocation endpoints."""
    return make_client("admin", name="back office")


@pytest.fixture
def resource_server(make_client):
    return make_client("viewer", name="orders service", is_resource_server=True)


@pytest.fixture
def live_token(client, owner) -> str:
    return client_credentials_token(client, owner)["access_token"]


@pytest.fixture
def introspection(client, resource_server):
    """introspection(token) -> the JSON answer, for checking that nothing was revoked."""

    return lambda token: introspected(client, resource_server, token)


@pytest.fixture
def oauth_call(client, owner, resource_server, live_token, introspection):
    """call(endpoint, body_bytes, **extra) at one of the three form endpoints, with valid client
    credentials (the owner at /token/ and /revoke/, the resource server at /introspect/), and
    afterwards the check that nothing changed: no token issued, the live token still active."""

    def call(endpoint: str, body: bytes, content_type: str = FORM, *, credentials: bool = True, **extra):
        issued = AccessToken.objects.count()
        caller = resource_server if endpoint == INTROSPECT_URL else owner
        if credentials:
            extra.setdefault("HTTP_AUTHORIZATION", basic(caller.client.client_id, caller.client_secret))
            extra.setdefault("HTTP_X_API_KEY", caller.api_key)
        response = raw_post(client, endpoint, body, content_type, **extra)
        assert AccessToken.objects.count() == issued, "a refused request issued a token"
        assert introspection(live_token)["active"] is True, "a refused request revoked the token"
        return response

    return call


OAUTH_ENDPOINTS = pytest.mark.parametrize(
    "endpoint", [TOKEN_URL, REVOKE_URL, INTROSPECT_URL], ids=["token", "revoke", "introspect"]
)


def form_for(endpoint: str, token: str) -> str:
    """A well-formed body for the endpoint, as the encoded string the bad variants start from.

    The parameter the endpoint cannot do without (see `required`) comes last.
    """
    if endpoint == TOKEN_URL:
        return "scope=profile%3Aread&grant_type=client_credentials"
    return urlencode({"token_type_hint": "access_token", "token": token})


def required(endpoint: str) -> str:
    return "grant_type" if endpoint == TOKEN_URL else "token"


def break_name(body: str, name: str, broken: str) -> str:
    """The body with the required parameter's name replaced (so that parameter goes missing)."""
    assert f"&{name}=" in body
    return body.replace(f"&{name}=", f"&{broken}=", 1)


# ---------------------------------------------------------------- /oauth/*: parameters


@OAUTH_ENDPOINTS
@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda body: body + "%00", id="percent-encoded NUL at the end"),
        pytest.param(lambda body: body.replace("=", "=%00", 1), id="percent-encoded NUL in a value"),
        pytest.param(lambda body: body.replace("_", "%00", 1), id="percent-encoded NUL in a name"),
        pytest.param(lambda body: body + "\x00", id="raw NUL byte"),
        pytest.param(lambda body: body + "%ff%fe", id="percent-encoded invalid UTF-8"),
        pytest.param(lambda body: body + "%e2%82", id="percent-encoded truncated UTF-8"),
        pytest.param(lambda body: body + "%C0%80", id="overlong UTF-8 NUL"),
        pytest.param(lambda body: body + "%ED%A0%80", id="percent-encoded surrogate"),
    ],
)
def test_nul_and_invalid_utf8_in_parameters_are_invalid_request(oauth_call, live_token, endpoint, mangle):
    body = mangle(form_for(endpoint, live_token)).encode()
    body_error = assert_oauth_error(oauth_call(endpoint, body), 400)
    assert body_error["error"] == "invalid_request"


@OAUTH_ENDPOINTS
@pytest.mark.parametrize(
    "raw", [b"\xff\xfe", b"\xc3", b"\xed\xa0\x80"], ids=["ff-fe", "truncated", "surrogate"]
)
def test_raw_invalid_utf8_body_is_invalid_request(oauth_call, live_token, endpoint, raw):
    body = form_for(endpoint, live_token).encode() + b"&x=" + raw
    assert assert_oauth_error(oauth_call(endpoint, body), 400)["error"] == "invalid_request"


@OAUTH_ENDPOINTS
@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda name: name[:2] + "%zz" + name[2:], id="bad escape"),
        pytest.param(lambda name: name[:2] + "%4" + name[2:], id="short escape"),
        pytest.param(lambda name: name + "%", id="trailing percent"),
        pytest.param(lambda name: "%" + name, id="leading percent"),
    ],
)
def test_invalid_percent_encoding_is_refused(oauth_call, live_token, endpoint, broken):
    """A broken escape in the name of the parameter the endpoint needs: it is missing."""
    name = required(endpoint)
    body = "%&" + break_name(form_for(endpoint, live_token), name, broken(name))
    assert_oauth_error(oauth_call(endpoint, body.encode()), 400)


@OAUTH_ENDPOINTS
def test_repeated_parameter_is_invalid_request(oauth_call, live_token, endpoint):
    body = form_for(endpoint, live_token)
    first = body.split("&")[0]
    assert assert_oauth_error(oauth_call(endpoint, f"{body}&{first}".encode()), 400)["error"] == (
        "invalid_request"
    )


# ---------------------------------------------------------------- /oauth/*: bodies


@OAUTH_ENDPOINTS
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"grant_type": "client_credentials", "token": "x"}'),
        ("application/json", nested_json(10)),
        ("application/json", b"[" * 5000 + b"]" * 5000),
        (
            "multipart/form-data; boundary=xx",
            b'--xx\r\nContent-Disposition: form-data; name="token"\r\n\r\nx\r\n--xx--',
        ),
        ("text/plain", b"grant_type=client_credentials"),
        ("application/x-www-form-urlencoded; charset=latin-1", b"grant_type=client_credentials"),
        # Not a registered name of UTF-8, and refused by Django's form parsing.
        ("application/x-www-form-urlencoded; charset=utf8", b"grant_type=client_credentials"),
        ("", b"grant_type=client_credentials"),
    ],
    ids=["json", "json-10-deep", "json-5000-deep", "multipart", "text", "latin-1", "utf8", "no-content-type"],
)
def test_other_body_formats_are_invalid_request(oauth_call, endpoint, content_type, body):
    assert assert_oauth_error(oauth_call(endpoint, body, content_type), 400)["error"] == "invalid_request"


@OAUTH_ENDPOINTS
def test_more_fields_than_django_parses_are_invalid_request(oauth_call, live_token, endpoint, settings):
    # Under the size limit, over DATA_UPLOAD_MAX_NUMBER_FIELDS: refused by every endpoint and
    # grant alike, whether it reads our checked form or Django's request.POST.
    extra = "&".join(f"f{index}=" for index in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))
    body = f"{form_for(endpoint, live_token)}&{extra}".encode()
    assert len(body) < 8 * 1024
    response = oauth_call(endpoint, body)
    assert assert_oauth_error(response, 400)["error"] == "invalid_request"
    assert "parameters" in response.json()["error_description"]


@OAUTH_ENDPOINTS
def test_one_megabyte_body_is_a_fast_413(oauth_call, live_token, endpoint):
    body = (form_for(endpoint, live_token) + "&pad=" + "a" * MB).encode()
    started = time.perf_counter()
    response = oauth_call(endpoint, body)
    elapsed = time.perf_counter() - started
    assert_oauth_error(response, 413)
    assert elapsed < 1.0, f"413 took {elapsed:.2f}s"


@OAUTH_ENDPOINTS
@pytest.mark.parametrize(
    "content_length",
    [
        pytest.param("cut", id="shorter than the body"),
        pytest.param("99999999999", id="100 GB announced"),
        pytest.param("-1", id="negative"),
        pytest.param("abc", id="not a number"),
        pytest.param("0", id="zero"),
    ],
)
def test_lying_content_length_is_refused(oauth_call, live_token, endpoint, content_length):
    # The parameter the endpoint needs comes last, so a truncation loses it.
    body = form_for(endpoint, live_token)
    if content_length == "cut":
        content_length = str(len(body) - len(body.rpartition("&")[2]) + 3)
    response = oauth_call(endpoint, body.encode(), CONTENT_LENGTH=content_length)
    assert_oauth_error(response, 413 if content_length == "99999999999" else 400)


@OAUTH_ENDPOINTS
def test_body_shorter_than_its_content_length_is_refused(oauth_call, live_token, endpoint):
    """The peer announced more bytes than it sent (RFC 9112 §6.3: an incomplete message).

    The WSGI input ends early, as it does when a client half-closes; the server must not act on
    a body it did not fully receive.
    """
    body = form_for(endpoint, live_token).encode()
    assert_oauth_error(oauth_call(endpoint, body, CONTENT_LENGTH=str(len(body) + 500)), 400)


# ---------------------------------------------------------------- /oauth/*: client authentication


def _basic_raw(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@OAUTH_ENDPOINTS
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda c: {"HTTP_AUTHORIZATION": "Bearer "}, id="empty bearer"),
        pytest.param(lambda c: {"HTTP_AUTHORIZATION": "Bearer"}, id="bearer without token"),
        pytest.param(lambda c: {"HTTP_AUTHORIZATION": "Basic "}, id="empty basic"),
        pytest.param(lambda c: {"HTTP_AUTHORIZATION": "Basic " + JUNK_10K}, id="basic with 10 KB of junk"),
        pytest.param(lambda c: {"HTTP_AUTHORIZATION": JUNK_10K}, id="10 KB of junk"),
        pytest.param(lambda c: {"HTTP_AUTHORIZATION": "Basic !!!not-base64"}, id="basic not base64"),
        pytest.param(lambda c: {"HTTP_AUTHORIZATION": _basic_raw(b"no-colon")}, id="basic without colon"),
        pytest.param(lambda c: {"HTTP_AUTHORIZATION": _basic_raw(b"\xff\xfe:\xff")}, id="basic not UTF-8"),
        pytest.param(
            lambda c: {
                "HTTP_AUTHORIZATION": basic(c.client.client_id + "\x00", c.client_secret),
                "HTTP_X_API_KEY": c.api_key,
            },
            id="NUL in client_id",
        ),
        pytest.param(
            lambda c: {
                "HTTP_AUTHORIZATION": basic(c.client.client_id, c.client_secret + "\x00"),
                "HTTP_X_API_KEY": c.api_key,
            },
            id="NUL in secret",
        ),
        pytest.param(
            lambda c: {
                "HTTP_AUTHORIZATION": basic(c.client.client_id, c.client_secret),
                "HTTP_X_API_KEY": c.api_key + "\x00",
            },
            id="NUL in API key",
        ),
        pytest.param(
            lambda c: {
                "HTTP_AUTHORIZATION": basic(c.client.client_id, c.client_secret),
                "HTTP_X_API_KEY": JUNK_10K,
            },
            id="10 KB API key",
        ),
        pytest.param(
            lambda c: {"HTTP_AUTHORIZATION": basic("%zz%00", "%ff"), "HTTP_X_API_KEY": c.api_key},
            id="percent garbage in basic",
        ),
    ],
)
def test_broken_client_authentication_is_invalid_client(
    oauth_call, owner, resource_server, live_token, endpoint, headers
):
    caller = resource_server if endpoint == INTROSPECT_URL else owner
    body = form_for(endpoint, live_token).encode()
    extra = {"HTTP_X_API_KEY": caller.api_key} | headers(caller)
    assert_oauth_error(oauth_call(endpoint, body, credentials=False, **extra), 401)


# ---------------------------------------------------------------- /oauth/authorize/: redirect_uri

# oauthlib CVE-2022-36087: an IPv6 redirect_uri with a broken port crashed `is_absolute_uri`.
PATHOLOGICAL_REDIRECT_URIS = [
    "http://[::1]:%00",
    "http://[::1]:\x00",
    "http://[::1]:",
    "http://[::1]:a",
    "http://[::1]:99999",
    "http://[::1]:" + "9" * 5000,
    "http://[::1",
    "http://[",
    "http://[]/",
    "http://[::1]]/",
    "http://[[::1]]/",
    "http://[" + ":" * 5000 + "]/",
    "http://[fe80::1%25eth0]/",
    "http://[::ffff:1.2.3.4]:%20/",
    "https://[::1]%00/",
    "http://[:\x00:]/",
    REDIRECT_URI + "\x00",
    REDIRECT_URI + "%00",
    'http://[::1]:"><script>alert(1)</script>',
]


@pytest.fixture
def signed_in(client):
    app, user = browser_app(), person()
    client.force_login(user)
    return app


def _assert_refused_without_redirect(response, redirect_uri: str, *, form_error_allowed: bool = False):
    content = response.content.decode("utf-8", "replace")
    if form_error_allowed and response.status_code == 200:
        # Django's form validation caught it (e.g. a NUL): the consent page again, with the error.
        assert 'class="errorlist"' in content
    else:
        assert 400 <= response.status_code < 500, (response.status_code, response.get("Location"))
    assert "Location" not in response, response["Location"]
    assert "code=" not in content
    assert "<script>alert(1)" not in content, "the redirect_uri is echoed unescaped"
    assert not Grant.objects.exists(), "an authorization code was stored"


@pytest.mark.parametrize("redirect_uri", PATHOLOGICAL_REDIRECT_URIS, ids=repr)
def test_pathological_redirect_uri_is_refused_on_the_consent_page(client, signed_in, redirect_uri):
    _verifier, challenge = pkce_pair()
    response = client.get(AUTHORIZE_URL, authorize_params(signed_in, challenge, redirect_uri=redirect_uri))
    _assert_refused_without_redirect(response, redirect_uri)


@pytest.mark.parametrize("redirect_uri", PATHOLOGICAL_REDIRECT_URIS[:8], ids=repr)
def test_pathological_redirect_uri_is_refused_on_approval(client, signed_in, redirect_uri):
    """The consent form posted back with its redirect_uri swapped for a pathological one."""
    _verifier, challenge = pkce_pair()
    page = client.get(AUTHORIZE_URL, authorize_params(signed_in, challenge))
    assert page.status_code == 200
    fields = hidden_fields(page.content.decode()) | {"redirect_uri": redirect_uri}
    response = client.post(AUTHORIZE_URL, {**fields, "allow": "Authorize"})
    _assert_refused_without_redirect(response, redirect_uri, form_error_allowed=True)


@pytest.mark.parametrize("redirect_uri", PATHOLOGICAL_REDIRECT_URIS[:4], ids=repr)
def test_pathological_redirect_uri_without_a_session_goes_to_login_only(client, redirect_uri):
    _verifier, challenge = pkce_pair()
    response = client.get(
        AUTHORIZE_URL, authorize_params(browser_app(), challenge, redirect_uri=redirect_uri)
    )
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 302:
        assert response["Location"].startswith(LOGIN_URL), response["Location"]


# ---------------------------------------------------------------- /api/*: the bearer token


@pytest.fixture
def seeded():
    call_command("seed_demo", count=5, stdout=io.StringIO())
    return Customer.objects.order_by("pk").first()


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer ",
        "Bearer",
        "Bearer      ",
        "bearer \t",
        "Bearer " + JUNK_10K,
        JUNK_10K,
        "Bearer a\x00b",
        "Bearer \x00",
        "Bearer ÿÿÿÿ",
        "Bearer a b",
        "Basic " + JUNK_10K,
        "Bearer %00",
    ],
    ids=lambda value: repr(value[:20]),
)
@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_broken_bearer_header_is_401_json(client, seeded, authorization, method):
    before = Customer.objects.filter(pk=seeded.pk).values().get()
    url = LIST_URL if method == "GET" else f"{LIST_URL}{seeded.pk}/"
    response = client.generic(
        method,
        url,
        b'{"profile": {"name": "x"}}' if method == "PATCH" else b"",
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization,
    )
    assert_api_error(response, 401)
    assert Customer.objects.filter(pk=seeded.pk).values().get() == before


# ---------------------------------------------------------------- /api/*: query and path


@pytest.fixture
def reader(issue_token, seeded):
    token = issue_token("admin")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.parametrize(
    "query",
    [
        "page_size=1000",
        "page_size=0",
        "page_size=-1",
        "page_size=%00",
        "page_size=1e3",
        "page_size=" + "9" * 5000,
        # Digits to str.isdigit(), not to int(): superscript three, then Arabic-Indic three.
        "page_size=%C2%B3",
        "page_size=%D9%A3",
        "page=%C2%B2",
        "page=0",
        "page=%ff",
        "page=" + "9" * 5000,
        "ordering=%00",
        "ordering=banking.iban%00",
        "ordering=%ff%fe",
        "ordering=" + "-" * 5000,
        "ordering=password",
        "ordering=version",
    ],
    ids=lambda value: value[:30],
)
def test_bad_list_parameters_are_400(client, reader, query):
    assert_api_error(client.get(f"{LIST_URL}?{query}", **reader), 400)


@pytest.mark.parametrize(
    "query",
    ["search=%00", "search=a%00b", "search=%ff%fe", "search=%zz", "search=%", "search=" + "x" * 5000],
    ids=lambda value: value[:30],
)
def test_odd_search_text_finds_nothing_or_is_refused(client, reader, query):
    """No stored claim contains NUL, U+FFFD or these strings: a 200 finds nothing; a 400 is fine."""
    response = client.get(f"{LIST_URL}?{query}", **reader)
    if response.status_code == 200:
        assert response.json()["count"] == 0, response.json()["count"]
    else:
        assert_api_error(response, 400)


@pytest.mark.parametrize(
    "path",
    [
        "%ff/",
        "1%00/",
        "%00/",
        "1/%00",
        "99999999999999999999999999/",
        "-1/",
        "1.5/",
        "%2e%2e/",
    ],
)
def test_bad_customer_paths_are_404_json(client, reader, path):
    assert_api_error(client.get(LIST_URL + path, **reader), 404)


# ---------------------------------------------------------------- /api/*: write bodies


class Writer:
    """Writes as an admin (who may write every claim), and checks that nothing changed."""

    def __init__(self, client, token: str, customer: Customer):
        self.client, self.token, self.customer = client, token, customer
        self.before: dict | None = None
        self.count = 0

    def __call__(self, method: str, body: bytes, content_type: str = "application/json", **extra):
        self.before = Customer.objects.filter(pk=self.customer.pk).values().get()
        self.count = Customer.objects.count()
        url = LIST_URL if method == "POST" else f"{LIST_URL}{self.customer.pk}/"
        if "CONTENT_LENGTH" in extra:
            extra["wsgi.input"] = io.BytesIO(body)
        return self.client.generic(
            method, url, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {self.token}", **extra
        )

    def assert_nothing_changed(self) -> None:
        after = Customer.objects.filter(pk=self.customer.pk).values().get()
        assert after == self.before, f"a refused write changed the customer: {self.before} -> {after}"
        assert Customer.objects.count() == self.count, "a refused write created or deleted a customer"


@pytest.fixture
def write(client, issue_token, seeded):
    return Writer(client, issue_token("admin"), seeded)


WRITES = pytest.mark.parametrize("method", ["PATCH", "POST"])
VALID = {"profile": {"name": "Grace Hopper", "email": "grace@example.com", "age": 85}}


def _json(value) -> bytes:
    return json.dumps(value).encode()


@WRITES
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_json({"profile": {"name": "a\x00b", "email": "a@example.com"}}), id="NUL in a value"),
        pytest.param(
            _json({"profile": {"name\x00": "a", "email": "a@example.com"}}), id="NUL in a claim name"
        ),
        pytest.param(_json({"prof\x00ile": {"name": "a"}}), id="NUL in a category"),
        pytest.param(_json({"address": {"city": "\x00"}, "profile": VALID["profile"]}), id="NUL alone"),
        pytest.param(b'{"profile": {"name": "\xff\xfe"}}', id="invalid UTF-8"),
        pytest.param(b'{"profile": {"name": "\xc0\x80"}}', id="overlong UTF-8"),
        pytest.param(b'{"profile": {"name": "a\\ud800b", "email": "a@example.com"}}', id="lone surrogate"),
        pytest.param(b'\xef\xbb\xbf{"profile": {"name": "a"}}', id="UTF-8 BOM"),
        pytest.param(b"\x00", id="a NUL byte"),
        pytest.param(b"", id="empty"),
        pytest.param(b"null", id="null"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"profile"', id="string"),
        pytest.param(b'{"profile": ', id="truncated"),
        pytest.param(b'{"profile": {"age": NaN}}', id="NaN"),
        pytest.param(b'{"profile": {"age": Infinity}}', id="Infinity"),
        pytest.param(b'{"profile": {"age": 1e400}}', id="huge exponent"),
        pytest.param(b'{"profile": {"age": ' + b"9" * 5000 + b"}}", id="5000-digit number"),
        pytest.param(nested_json(10), id="10 levels deep"),
        pytest.param(nested_json(5000), id="5000 levels deep"),
        pytest.param(b"[" * 5000 + b"]" * 5000, id="5000 nested arrays"),
        pytest.param(
            b'{"profile": {"name": "a", "name": "b", "email": "a@example.com"}}', id="duplicate claim"
        ),
        pytest.param(
            b'{"profile": {"name": "a"}, "profile": {"email": "a@example.com"}}', id="duplicate category"
        ),
        pytest.param(_json({"id": 1, **VALID}), id="writes the id"),
        pytest.param(_json({"profile": {"version": 99}}), id="writes the version"),
    ],
)
def test_malformed_json_is_a_4xx_and_writes_nothing(write, method, body):
    assert_api_error(write(method, body), 400)
    write.assert_nothing_changed()


@WRITES
def test_one_megabyte_json_body_is_a_fast_413(write, method):
    body = _json({"profile": {"name": "a" * MB, "email": "a@example.com"}})
    started = time.perf_counter()
    response = write(method, body)
    elapsed = time.perf_counter() - started
    assert_api_error(response, 413)
    assert elapsed < 1.0, f"413 took {elapsed:.2f}s"
    write.assert_nothing_changed()


@WRITES
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xx",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/jsonx",
        "",
    ],
)
def test_other_content_types_are_415(write, method, content_type):
    assert_api_error(write(method, _json(VALID), content_type), 415)
    write.assert_nothing_changed()


@WRITES
@pytest.mark.parametrize(
    "content_length",
    [
        pytest.param("10", id="shorter than the body"),
        pytest.param("99999999999", id="100 GB announced"),
        pytest.param("-1", id="negative"),
        pytest.param("abc", id="not a number"),
        pytest.param("0", id="zero"),
    ],
)
def test_lying_content_length_writes_nothing(write, method, content_length):
    response = write(method, _json(VALID), CONTENT_LENGTH=content_length)
    assert_api_error(response, 413 if content_length == "99999999999" else 400)
    write.assert_nothing_changed()


@WRITES
def test_json_body_shorter_than_its_content_length_writes_nothing(write, method):
    """The peer announced 500 bytes more than it sent (RFC 9112 §6.3: an incomplete message)."""
    body = _json(VALID)
    assert_api_error(write(method, body, CONTENT_LENGTH=str(len(body) + 500)), 400)
    write.assert_nothing_changed()


@pytest.mark.parametrize(
    "if_match", ['"1\x00"', "\x00", '"' + "9" * 5000 + '"', 'W/"-1"', '"1", "2"', '"\u00b3"', '"\u0663"']
)
def test_broken_if_match_is_a_4xx_and_writes_nothing(write, if_match):
    assert_api_error(write("PATCH", _json(VALID), HTTP_IF_MATCH=if_match))
    write.assert_nothing_changed()


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("customer_id", [2**63, 2**64 + 1, 10**30])
def test_customer_id_beyond_the_database_integer_is_404(write, method, customer_id):
    """Ids the URL's <int:> converter takes but no database column can hold."""
    response = write.client.generic(
        method,
        f"{LIST_URL}{customer_id}/",
        _json(VALID) if method == "PATCH" else b"",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {write.token}",
    )
    assert_api_error(response, 404)
