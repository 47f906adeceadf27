"""Checks on the raw body of the OAuth endpoints, before any library parses it.

The token, revocation and introspection endpoints take `application/x-www-form-urlencoded`
only (RFC 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1), each parameter at most once (§3.1). Django
and oauthlib would silently keep the last of repeated parameters, read a JSON body as empty,
and replace undecodable bytes; here each of these is a clean `invalid_request`. What passes
is what Django's own form parsing would accept too (charset, number of fields), so the grants
that read the checked form and those that DOT runs from `request.POST` refuse the same bodies.
"""

from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from tokensvc.errors import OAuthError, OAuthErrorCode

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Far above any legitimate request (a refresh token and a PKCE verifier are < 200 bytes).
MAX_FORM_BYTES = 8 * 1024


def _invalid(description: str, *, status: int = 400) -> OAuthError:
    return OAuthError(OAuthErrorCode.INVALID_REQUEST, description, status=status)


def form_params(request: HttpRequest) -> dict[str, str]:
    """The parameters of a form-encoded POST body, or OAuthError saying what is wrong."""
    if request.content_type != FORM_CONTENT_TYPE:
        raise _invalid(f"The request body must be {FORM_CONTENT_TYPE}.", status=400)
    # "utf-8" only, as Django's own form parsing takes it (the one name IANA registers).
    if request.content_params.get("charset", "utf-8").lower() != "utf-8":
        raise _invalid("The request body must be encoded in UTF-8.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _invalid("Invalid Content-Length.") from None
    if length > MAX_FORM_BYTES:
        raise _invalid("The request body is too large.", status=413)
    try:
        body = request.body
    except RequestDataTooBig:
        raise _invalid("The request body is too large.", status=413) from None
    if len(body) > MAX_FORM_BYTES:
        raise _invalid("The request body is too large.", status=413)
    if len(body) < length:
        # RFC 9112 §6.3: a body shorter than its Content-Length is incomplete; never act on it.
        raise _invalid("The request body is shorter than its Content-Length.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise _invalid("The request body is not valid UTF-8 form encoding.") from None
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if limit is not None and len(pairs) > limit:
        raise _invalid(f"The request body has more than {limit} parameters.")
    params: dict[str, str] = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise _invalid("Parameters must not contain NUL characters.")
        if name in params:
            raise _invalid(f"The parameter '{name[:40]}' is repeated.")
        params[name] = value
    if request.GET:
        # Credentials and tokens in the URL end up in logs (RFC 6749 §3.2 wants POST bodies).
        raise _invalid("Parameters belong in the request body, not in the URL.")
    return params
