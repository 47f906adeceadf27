"""Provider metadata: where the document may live, and what of it we accept."""

import pytest

from tokensvc.providers.discovery import Metadata, metadata_parse, metadata_urls
from tokensvc.providers.errors import ProviderUnavailable

ISSUER = "https://sso.example.com/realms/staff"
SOURCE = ISSUER + "/.well-known/openid-configuration"


@pytest.fixture(autouse=True)
def _https_only(settings):
    settings.PROVIDER_ALLOW_LOOPBACK_HTTP = False


def document(**fields) -> dict:
    base = {
        "issuer": ISSUER,
        "token_endpoint": ISSUER + "/protocol/openid-connect/token",
        "jwks_uri": ISSUER + "/protocol/openid-connect/certs",
        "introspection_endpoint": ISSUER + "/protocol/openid-connect/token/introspect",
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
    }
    return {name: value for name, value in (base | fields).items() if value is not ...}


@pytest.mark.parametrize(
    ("issuer", "urls"),
    [
        (
            "https://accounts.example.com",
            [
                "https://accounts.example.com/.well-known/openid-configuration",
                "https://accounts.example.com/.well-known/oauth-authorization-server",
            ],
        ),
        (
            "https://acme.eu.auth0.com/",
            [
                "https://acme.eu.auth0.com/.well-known/openid-configuration",
                "https://acme.eu.auth0.com/.well-known/oauth-authorization-server",
            ],
        ),
        (
            "https://sso.example.com:8443/realms/staff",
            [
                "https://sso.example.com:8443/realms/staff/.well-known/openid-configuration",
                "https://sso.example.com:8443/.well-known/oauth-authorization-server/realms/staff",
            ],
        ),
        (
            "https://acme.okta.com/oauth2/default/",
            [
                "https://acme.okta.com/oauth2/default/.well-known/openid-configuration",
                "https://acme.okta.com/.well-known/oauth-authorization-server/oauth2/default",
            ],
        ),
        (
            "http://127.0.0.1:9000/tenant/v2.0",
            [
                "http://127.0.0.1:9000/tenant/v2.0/.well-known/openid-configuration",
                "http://127.0.0.1:9000/.well-known/oauth-authorization-server/tenant/v2.0",
            ],
        ),
    ],
)
def test_metadata_urls_openid_location_first_then_rfc8414_path_insertion(issuer, urls):
    assert metadata_urls(issuer) == urls


def test_a_full_document_gives_every_endpoint():
    metadata = metadata_parse(document(), ISSUER, SOURCE)

    assert metadata == Metadata(
        issuer=ISSUER,
        token_endpoint=ISSUER + "/protocol/openid-connect/token",
        jwks_uri=ISSUER + "/protocol/openid-connect/certs",
        introspection_endpoint=ISSUER + "/protocol/openid-connect/token/introspect",
        token_endpoint_auth_methods=["client_secret_basic", "private_key_jwt"],
        source=SOURCE,
    )


@pytest.mark.parametrize("absent", [..., None])
def test_optional_endpoints_absent_are_empty(absent):
    metadata = metadata_parse(document(jwks_uri=absent, introspection_endpoint=absent), ISSUER, SOURCE)

    assert metadata.jwks_uri == ""
    assert metadata.introspection_endpoint == ""
    assert metadata.token_endpoint == ISSUER + "/protocol/openid-connect/token"


@pytest.mark.parametrize("methods", [..., None, []])
def test_auth_methods_default_to_client_secret_basic(methods):
    metadata = metadata_parse(document(token_endpoint_auth_methods_supported=methods), ISSUER, SOURCE)

    assert metadata.token_endpoint_auth_methods == ["client_secret_basic"]


@pytest.mark.parametrize(
    "methods",
    [
        "client_secret_basic",
        "client_secret_basic client_secret_post",
        ["client_secret_basic", 1],
        ["client_secret_post", None],
        [["client_secret_basic"]],
        {"client_secret_basic": True},
    ],
)
def test_malformed_auth_methods_are_refused(methods):
    with pytest.raises(ProviderUnavailable, match="token_endpoint_auth_methods_supported"):
        metadata_parse(document(token_endpoint_auth_methods_supported=methods), ISSUER, SOURCE)


@pytest.mark.parametrize(
    "named",
    [
        ISSUER + "/",
        "https://sso.example.com/realms/other",
        "https://evil.example.com/realms/staff",
        "http://sso.example.com/realms/staff",
        ISSUER.upper(),
        "",
        None,
        ...,
        [ISSUER],
    ],
)
def test_a_document_naming_another_issuer_is_refused(named):
    with pytest.raises(ProviderUnavailable, match="names issuer"):
        metadata_parse(document(issuer=named), ISSUER, SOURCE)


def test_no_document_is_refused():
    with pytest.raises(ProviderUnavailable, match="not a JSON object"):
        metadata_parse(None, ISSUER, SOURCE)


@pytest.mark.parametrize("token_endpoint", [..., None, "", 42, ["https://sso.example.com/token"]])
def test_a_missing_token_endpoint_is_refused(token_endpoint):
    with pytest.raises(ProviderUnavailable, match="token_endpoint"):
        metadata_parse(document(token_endpoint=token_endpoint), ISSUER, SOURCE)


@pytest.mark.parametrize("endpoint", ["token_endpoint", "jwks_uri", "introspection_endpoint"])
@pytest.mark.parametrize(
    "url",
    [
        "http://sso.example.com/token",
        "http://127.0.0.1:8080/token",
        "http://localhost/token",
        "ftp://sso.example.com/token",
        "/protocol/openid-connect/token",
        "https://user:secret@sso.example.com/token",
        "https://sso.example.com/token#fragment",
        "",
    ],
)
def test_an_endpoint_that_is_not_https_is_refused(endpoint, url):
    with pytest.raises(ProviderUnavailable, match=endpoint):
        metadata_parse(document(**{endpoint: url}), ISSUER, SOURCE)


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "[::1]:8080", "localhost:8080"])
def test_loopback_http_endpoints_are_accepted_when_allowed(settings, host):
    settings.PROVIDER_ALLOW_LOOPBACK_HTTP = True
    issuer = f"http://{host}/oidc"

    metadata = metadata_parse(
        {
            "issuer": issuer,
            "token_endpoint": issuer + "/token",
            "jwks_uri": issuer + "/jwks",
            "introspection_endpoint": issuer + "/token/introspection",
        },
        issuer,
        issuer + "/.well-known/openid-configuration",
    )

    assert metadata.token_endpoint == issuer + "/token"
    assert metadata.jwks_uri == issuer + "/jwks"
    assert metadata.introspection_endpoint == issuer + "/token/introspection"


def test_http_to_another_host_is_refused_even_when_loopback_is_allowed(settings):
    settings.PROVIDER_ALLOW_LOOPBACK_HTTP = True

    with pytest.raises(ProviderUnavailable, match="token_endpoint"):
        metadata_parse(document(token_endpoint="http://sso.example.com/token"), ISSUER, SOURCE)
