"""Preset providers: the issuer URL from the values an officer knows, and refusals of the rest."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokensvc.providers.presets import PresetError, PresetInputs, preset_issuer

KINDS = ("keycloak", "auth0", "okta", "entra", "google")
NAME_CHARACTERS = string.ascii_letters + string.digits + "._~-"


@pytest.mark.parametrize(
    ("kind", "inputs", "issuer"),
    [
        (
            "keycloak",
            PresetInputs(base_url="https://sso.example.com", realm="staff"),
            "https://sso.example.com/realms/staff",
        ),
        (
            "keycloak",
            PresetInputs(base_url="  https://sso.example.com/  ", realm=" staff "),
            "https://sso.example.com/realms/staff",
        ),
        (
            "keycloak",
            PresetInputs(base_url="https://sso.example.com:8443/auth", realm="my-realm_1.x~y"),
            "https://sso.example.com:8443/auth/realms/my-realm_1.x~y",
        ),
        (
            "keycloak",
            PresetInputs(base_url="http://127.0.0.1:8080", realm="test"),
            "http://127.0.0.1:8080/realms/test",
        ),
        ("auth0", PresetInputs(domain="acme.eu.auth0.com"), "https://acme.eu.auth0.com/"),
        ("auth0", PresetInputs(domain=" ACME.eu.Auth0.com "), "https://acme.eu.auth0.com/"),
        ("auth0", PresetInputs(domain="https://acme.eu.auth0.com/"), "https://acme.eu.auth0.com/"),
        ("okta", PresetInputs(domain="acme.okta.com"), "https://acme.okta.com/oauth2/default"),
        (
            "okta",
            PresetInputs(domain="acme.okta.com", authorization_server=""),
            "https://acme.okta.com/oauth2/default",
        ),
        (
            "okta",
            PresetInputs(domain="acme.okta.com", authorization_server="aus1a2b3c4D5e6F7g8"),
            "https://acme.okta.com/oauth2/aus1a2b3c4D5e6F7g8",
        ),
        (
            "entra",
            PresetInputs(tenant="72f988bf-86f1-41af-91ab-2d7cd011db47"),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
        ),
        (
            "entra",
            PresetInputs(tenant=" contoso.onmicrosoft.com "),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
        ),
        ("google", PresetInputs(), "https://accounts.google.com"),
    ],
)
def test_preset_issuer_is_where_the_vendor_documents_it(kind, inputs, issuer):
    assert preset_issuer(kind, inputs) == issuer


@pytest.mark.parametrize(
    ("kind", "inputs"),
    [
        # Keycloak server URL: scheme missing or wrong, spaces, query or fragment, empty.
        ("keycloak", PresetInputs(base_url="sso.example.com", realm="staff")),
        ("keycloak", PresetInputs(base_url="//sso.example.com", realm="staff")),
        ("keycloak", PresetInputs(base_url="ftp://sso.example.com", realm="staff")),
        ("keycloak", PresetInputs(base_url="https://sso example.com", realm="staff")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com/a b", realm="staff")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com?realm=x", realm="staff")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com#x", realm="staff")),
        ("keycloak", PresetInputs(base_url="https://", realm="staff")),
        ("keycloak", PresetInputs(base_url="", realm="staff")),
        # Keycloak realm: path injection, query, spaces, empty, too long.
        ("keycloak", PresetInputs(base_url="https://sso.example.com", realm="a/../b")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com", realm="x?y")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com", realm="x#y")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com", realm="a b")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com", realm="x%2Fy")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com", realm="")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com", realm="   ")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com", realm="r" * 101)),
        # Auth0 / Okta domain: a path, a port, another scheme, spaces, no dot, empty.
        ("auth0", PresetInputs(domain="acme.eu.auth0.com/evil")),
        ("auth0", PresetInputs(domain="acme.eu.auth0.com:8443")),
        ("auth0", PresetInputs(domain="http://acme.eu.auth0.com")),
        ("auth0", PresetInputs(domain="acme eu.auth0.com")),
        ("auth0", PresetInputs(domain="user@acme.eu.auth0.com")),
        ("auth0", PresetInputs(domain="localhost")),
        ("auth0", PresetInputs(domain="-acme.auth0.com")),
        ("auth0", PresetInputs(domain="")),
        ("okta", PresetInputs(domain="acme.okta.com/oauth2")),
        ("okta", PresetInputs(domain="acme.okta.com:443")),
        ("okta", PresetInputs(domain="")),
        # Okta authorization server: path injection, query.
        ("okta", PresetInputs(domain="acme.okta.com", authorization_server="a/../b")),
        ("okta", PresetInputs(domain="acme.okta.com", authorization_server="x?y")),
        ("okta", PresetInputs(domain="acme.okta.com", authorization_server="   ")),
        # Entra tenant: path, query, spaces, leading dot, empty.
        ("entra", PresetInputs(tenant="contoso/../common")),
        ("entra", PresetInputs(tenant="x?y")),
        ("entra", PresetInputs(tenant="con toso")),
        ("entra", PresetInputs(tenant=".contoso")),
        ("entra", PresetInputs(tenant="")),
        # A kind without a preset.
        ("custom", PresetInputs(domain="acme.eu.auth0.com")),
        ("", PresetInputs()),
        ("Google", PresetInputs()),
    ],
)
def test_malformed_preset_input_is_refused(kind, inputs):
    with pytest.raises(PresetError):
        preset_issuer(kind, inputs)


@pytest.mark.parametrize(
    ("kind", "inputs"),
    [
        ("keycloak", PresetInputs(base_url="https://sso.example.com/tenant-a", realm="..")),
        ("keycloak", PresetInputs(base_url="https://sso.example.com", realm=".")),
        ("okta", PresetInputs(domain="acme.okta.com", authorization_server="..")),
    ],
)
def test_dot_segment_names_are_refused(kind, inputs):
    with pytest.raises(PresetError):
        preset_issuer(kind, inputs)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://:8443",
        "https://admin:secret@sso.example.com",
        "https://[sso.example.com",
        "https://sso\x00.example.com",
    ],
)
def test_keycloak_server_url_must_name_a_plain_host(base_url):
    with pytest.raises(PresetError):
        preset_issuer("keycloak", PresetInputs(base_url=base_url, realm="staff"))


@given(
    st.text(alphabet=NAME_CHARACTERS, min_size=1, max_size=100).filter(lambda name: name not in (".", ".."))
)
def test_any_realm_of_allowed_characters_ends_the_issuer(realm):
    issuer = preset_issuer("keycloak", PresetInputs(base_url="https://sso.example.com", realm=realm))

    assert issuer == f"https://sso.example.com/realms/{realm}"


@given(
    kind=st.one_of(st.sampled_from(KINDS), st.text(max_size=10)),
    base_url=st.one_of(st.text(), st.builds("https://{}".format, st.text()), st.just("https://sso.test")),
    realm=st.one_of(st.text(), st.text(alphabet=NAME_CHARACTERS, min_size=1)),
    domain=st.one_of(st.text(), st.from_regex(r"\A[a-z0-9-]{1,10}(\.[a-z0-9-]{1,10}){1,3}\Z")),
    authorization_server=st.text(),
    tenant=st.text(),
)
def test_any_input_gives_an_https_issuer_or_a_preset_error(
    kind, base_url, realm, domain, authorization_server, tenant
):
    inputs = PresetInputs(
        base_url=base_url,
        realm=realm,
        domain=domain,
        authorization_server=authorization_server,
        tenant=tenant,
    )
    try:
        issuer = preset_issuer(kind, inputs)
    except PresetError:
        return

    schemes = ("https://", "http://") if kind == "keycloak" else ("https://",)
    assert isinstance(issuer, str)
    assert issuer.startswith(schemes)
    assert not any(character.isspace() for character in issuer)
    assert "?" not in issuer
    assert "#" not in issuer
