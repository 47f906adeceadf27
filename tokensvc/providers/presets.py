"""Pre-configured providers: the issuer URL from the one or two values an officer knows.

Each vendor documents where its issuer lives; the rest (endpoints, keys) comes from the
issuer's own metadata, exactly as for a custom provider.
"""

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,99}$")  # a GUID or a verified domain
_NAME = re.compile(r"^[A-Za-z0-9._~-]{1,100}$")
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]{1,100}$")


class PresetError(ValueError):
    """A preset value is missing or malformed; the message names it."""


@dataclass(frozen=True)
class PresetInputs:
    base_url: str = ""  # Keycloak: the server's URL, e.g. https://sso.example.com
    realm: str = ""  # Keycloak realm
    domain: str = ""  # Auth0 tenant domain, or the Okta org domain
    authorization_server: str = "default"  # Okta custom authorization server id
    tenant: str = ""  # Entra ID tenant id (GUID) or domain


def _domain(value: str, label: str) -> str:
    value = value.strip().lower().removeprefix("https://").rstrip("/")
    if not _DOMAIN.match(value):
        raise PresetError(f"{label}: give a domain name such as example.eu.auth0.com.")
    return value


def _name(value: str, label: str) -> str:
    value = value.strip()
    # '.' and '..' are path segments, not names: they would move the issuer up its path.
    if not _NAME.match(value) or value in (".", ".."):
        raise PresetError(f"{label}: letters, digits, '.', '_', '~' or '-' only.")
    return value


def _server_url(value: str) -> str:
    """A Keycloak server's base URL: http(s), a plain host (name or IP), an optional port and path."""
    base = value.strip().rstrip("/")
    problem = "Keycloak server URL: give its https URL, e.g. https://sso.example.com."
    try:
        parts = urlsplit(base)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise PresetError(problem) from None
    host = parts.hostname or ""
    if (
        parts.scheme not in ("https", "http")
        or parts.username is not None
        or parts.password is not None
        or parts.query
        or parts.fragment
        or not (_HOST.match(host) or _is_ip(host))
        or any(
            segment in (".", "..") or not _PATH_SEGMENT.match(segment)
            for segment in parts.path.split("/")[1:]
        )
    ):
        raise PresetError(problem)
    return base


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def preset_issuer(kind: str, inputs: PresetInputs) -> str:
    """The issuer URL of a pre-configured provider kind; PresetError when an input is wrong."""
    if kind == "keycloak":
        base = _server_url(inputs.base_url)
        return f"{base}/realms/{quote(_name(inputs.realm, 'Keycloak realm'))}"
    if kind == "auth0":
        # Auth0's issuer ends with a slash, and its tokens carry it that way.
        return f"https://{_domain(inputs.domain, 'Auth0 tenant domain')}/"
    if kind == "okta":
        server = _name(inputs.authorization_server or "default", "Okta authorization server")
        return f"https://{_domain(inputs.domain, 'Okta domain')}/oauth2/{server}"
    if kind == "entra":
        tenant = inputs.tenant.strip()
        if not _TENANT.match(tenant):
            raise PresetError("Entra tenant: give the directory (tenant) id or its domain.")
        return f"https://login.microsoftonline.com/{tenant}/v2.0"
    if kind == "google":
        return "https://accounts.google.com"
    raise PresetError(f"{kind!r} has no preset; give the issuer URL.")
