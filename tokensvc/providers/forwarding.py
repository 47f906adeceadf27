"""A client_credentials request forwarded to the client's provider, and its answer checked.

Only a 200 with a well-formed token response counts (RFC 6749 §5.1); a 4xx is the provider
saying no; anything else (5xx, timeout, garbage) means it could not be asked.
"""

from dataclasses import dataclass
from urllib.parse import quote

from tokensvc.providers.errors import ProviderRefused, ProviderUnavailable
from tokensvc.providers.outbound import call
from tokensvc.providers.registry import ProviderConfig

MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True)
class ProviderToken:
    access_token: str
    expires_in: int | None


def _well_formed(document: dict | None) -> ProviderToken:
    if document is None:
        raise ProviderUnavailable("token response is not a JSON object")
    token = document.get("access_token")
    if (
        not isinstance(token, str)
        or not 0 < len(token) <= MAX_TOKEN_LENGTH
        or not token.isascii()
        or not token.isprintable()
        or " " in token
    ):
        raise ProviderUnavailable("token response: access_token is missing or malformed")
    token_type = document.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ProviderUnavailable(f"token response: token_type {str(token_type)[:20]!r} is not Bearer")
    expires_in = document.get("expires_in")
    if expires_in is not None and (
        not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0
    ):
        raise ProviderUnavailable("token response: expires_in is not a positive integer")
    return ProviderToken(access_token=token, expires_in=expires_in)


def token_request(provider: ProviderConfig, client_id: str, client_secret: str) -> ProviderToken:
    """The provider's access token for this client's credentials."""
    if not provider.token_endpoint:
        raise ProviderUnavailable(f"provider {provider.name} has no token endpoint (metadata not read)")
    data = {"grant_type": "client_credentials"}
    if provider.request_scope:
        data["scope"] = provider.request_scope
    if provider.audience_parameter and provider.audience:
        data[provider.audience_parameter] = provider.audience
    methods = provider.token_endpoint_auth_methods or ("client_secret_basic",)
    auth = None
    if "client_secret_basic" in methods:
        # RFC 6749 §2.3.1: both parts form-encoded before they go into the Basic header.
        auth = (quote(client_id, safe=""), quote(client_secret, safe=""))
    elif "client_secret_post" in methods:
        data |= {"client_id": client_id, "client_secret": client_secret}
    else:
        raise ProviderUnavailable(f"provider {provider.name} accepts neither client_secret_basic nor _post")
    answer = call("POST", provider.token_endpoint, data=data, auth=auth)
    if answer.status == 200:
        return _well_formed(answer.json_object)
    if answer.status in (400, 401, 403):
        error = (answer.json_object or {}).get("error")
        raise ProviderRefused(f"provider {provider.name} answered {answer.status} {str(error)[:40]}")
    raise ProviderUnavailable(f"provider {provider.name} token endpoint answered {answer.status}")
