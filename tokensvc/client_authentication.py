"""Confidential-client authentication for the grants this service runs itself (our
client_credentials path and token exchange): the validator's rules, answered as OAuthError."""

from django.http import HttpRequest

from accounts.authentication import (
    API_KEY_META,
    ClientRefused,
    PresentedCredentials,
    client_verify,
    credentials_presented,
)
from accounts.models import Client
from accounts.throttling import authentication_admit, authentication_slot
from accounts.verified_clients import NotProven
from tokensvc.attempts import current_attempt, source_ip
from tokensvc.errors import INVALID_CLIENT_DESCRIPTION, OAuthError, OAuthErrorCode


def request_credentials(request: HttpRequest, params: dict[str, str]) -> PresentedCredentials:
    """The one client authentication method a token request used (its header, or `params`, its
    checked form); ClientRefused if malformed."""
    return credentials_presented(
        authorization=request.META.get("HTTP_AUTHORIZATION"),
        body_client_id=params.get("client_id"),
        body_secret=params.get("client_secret"),
    )


def confidential_client(
    request: HttpRequest, presented: PresentedCredentials, found: Client | None = None, *, kept: bool = False
) -> Client:
    """The client proven by its secret and API key; `401 invalid_client` otherwise, and
    TooManyFailures (the view's 429) before any verification once its limit is reached.
    `found` is the client already looked up for this client_id, if any.

    With `kept`, `found` was not read for this request but kept from an earlier one
    (accounts.verified_clients). If it proves the client, the attempt is admitted while the
    client's failure counters are below their limits (TooManyFailures otherwise, nothing
    counted) and `found` is returned, its use not yet recorded: the caller records it once the
    token is written. It never refuses: NotProven, with nothing counted or recorded, leaves
    the request to be decided from the database.
    """
    attempt = current_attempt()
    attempt.client_identifier = presented.client_id
    api_key = request.META.get(API_KEY_META)
    if kept:
        try:
            client = client_verify(presented, api_key=api_key, found=found, record_use=False)
        except ClientRefused:
            raise NotProven from None
        authentication_admit(client_id=presented.client_id, source_ip=source_ip(request))
        attempt.client = client
        return client
    try:
        if presented.method == "none":
            raise ClientRefused("no client secret", found)
        slot = authentication_slot(client_id=presented.client_id, source_ip=source_ip(request))
        client = client_verify(presented, api_key=api_key, found=found)
    except ClientRefused as refused:
        attempt.client = refused.client
        raise OAuthError(
            OAuthErrorCode.INVALID_CLIENT, INVALID_CLIENT_DESCRIPTION, status=401, reason=refused.reason
        ) from None
    slot.release()
    attempt.client = client
    return client
