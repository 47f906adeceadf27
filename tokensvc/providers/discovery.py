"""A provider's metadata: OpenID Connect discovery, or RFC 8414 authorization-server metadata.

The document must name the very issuer we asked for (OpenID Connect Discovery §4.3, RFC 8414
§3.3); otherwise another server could pass itself off as this one.
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from tokensvc.providers.errors import ProviderUnavailable
from tokensvc.providers.outbound import call, url_problem


@dataclass(frozen=True)
class Metadata:
    issuer: str
    token_endpoint: str
    jwks_uri: str
    introspection_endpoint: str = ""
    token_endpoint_auth_methods: list[str] = field(default_factory=list)
    source: str = ""  # the URL the document came from


def metadata_urls(issuer: str) -> list[str]:
    """Where the document may be: OpenID Connect's location first, then RFC 8414's."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return [
        issuer.rstrip("/") + "/.well-known/openid-configuration",
        urlunsplit((parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + path, "", "")),
    ]


def _endpoint(document: dict, name: str, *, required: bool) -> str:
    value = document.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or url_problem(value):
        raise ProviderUnavailable(f"metadata: {name} is missing or not an https URL")
    return value


def metadata_parse(document: dict | None, issuer: str, source: str) -> Metadata:
    """The endpoints we use, from a metadata document claiming to be `issuer`'s."""
    if document is None:
        raise ProviderUnavailable(f"metadata at {source}: not a JSON object")
    if document.get("issuer") != issuer:
        raise ProviderUnavailable(f"metadata at {source}: names issuer {str(document.get('issuer'))[:100]!r}")
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise ProviderUnavailable(f"metadata at {source}: token_endpoint_auth_methods_supported is malformed")
    return Metadata(
        issuer=issuer,
        token_endpoint=_endpoint(document, "token_endpoint", required=True),
        jwks_uri=_endpoint(document, "jwks_uri", required=False),
        introspection_endpoint=_endpoint(document, "introspection_endpoint", required=False),
        token_endpoint_auth_methods=methods,
        source=source,
    )


def metadata_fetch(issuer: str) -> Metadata:
    """The provider's metadata, or ProviderUnavailable saying what went wrong."""
    problem = url_problem(issuer)
    if problem:
        raise ProviderUnavailable(f"issuer {issuer[:100]}: {problem}")
    failures = []
    for url in metadata_urls(issuer):
        answer = call("GET", url)
        if answer.status == 200:
            return metadata_parse(answer.json_object, issuer, url)
        failures.append(f"{url} answered {answer.status}")
    raise ProviderUnavailable("no metadata: " + "; ".join(failures))
