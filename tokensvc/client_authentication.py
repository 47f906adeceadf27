"""Confidential-client authentication for the grants this service runs itself (our
client_credentials path and token exchange): the validator's rules, answered as OAuthError."""

from collections.abc import Callable
from typing import TypeVar

from django.http import HttpRequest

from accounts import verified_clients
from accounts.authentication import (
    API_KEY_META,
    ClientRefused,
    PresentedCredentials,
    client_find,
    client_verify,
    credentials_presented,
    is_external,
)
from accounts.models import Client
from accounts.throttling import authentication_admit, authentication_slot
from accounts.verified_clients import StaleClient
from tokensvc.attempts import current_attempt, source_ip
from tokensvc.errors import INVALID_CLIENT_DESCRIPTION, OAuthError, OAuthErrorCode

Decided = TypeVar("Decided")


def request_credentials(request: HttpRequest, params: dict[str, str]) -> PresentedCredentials:
    """The one client authentication method a token request used (its header, or `params`, its
    checked form); ClientRefused if malformed."""
    return credentials_presented(
        authorization=request.META.get("HTTP_AUTHORIZATION"),
        body_client_id=params.get("client_id"),
        body_secret=params.get("client_secret"),
    )


def decided_from_kept_rows(
    request: HttpRequest, presented: PresentedCredentials, decide: Callable[[Client], Decided | None]
) -> Decided | None:
    """`decide(kept)` for the client this process kept for these credentials
    (accounts.verified_clients), if any and a secret was presented. None when there is none,
    when `decide` gives None (deciding nothing), or when it raises StaleClient (the kept rows no
    longer decide: they are dropped): then the request is to be decided from the database, and
    the attempt is as it was."""
    if presented.client_secret is None:
        return None
    kept = verified_clients.client_recall(presented.client_id, request.META.get(API_KEY_META))
    if kept is None:
        return None
    attempt = current_attempt()
    before = attempt.copy()
    try:
        return decide(kept)
    except StaleClient:
        verified_clients.client_forget(presented.client_id)
        attempt.restore(before)
        return None


def confidential_client(
    request: HttpRequest, presented: PresentedCredentials, found: Client | None = None, *, kept: bool = False
) -> Client:
    """The client proven by its secret and API key; `401 invalid_client` otherwise, and
    TooManyFailures (the view's 429) before any verification once its limit is reached.
    `found` is the client already looked up for this client_id, if any.

    With `kept`, `found` was not read for this request but kept from an earlier one
    (accounts.verified_clients). Once the limits admit the attempt (nothing counted), it may
    prove the client, then returned as it is, its use not yet recorded: the caller records it
    once the database has confirmed the kept rows (the token written, the introspected token
    read). It never refuses: the attempt then reserves its slot, and the client is read and
    verified from the database, and returned as read. StaleClient (slot given back) if the
    client read belongs to an external provider now, whose grant is not this one."""
    attempt = current_attempt()
    attempt.client_identifier = presented.client_id
    api_key = request.META.get(API_KEY_META)
    where = {"client_id": presented.client_id, "source_ip": source_ip(request)}
    try:
        if presented.method == "none":
            raise ClientRefused("no client secret", found)
        if kept:
            authentication_admit(**where)
            try:
                client = client_verify(presented, api_key=api_key, found=found, record_use=False)
            except ClientRefused:
                pass
            else:
                attempt.client = client
                return client
            # Not proven in memory: counted like any other attempt before the database decides.
            slot = authentication_slot(**where)
            found = client_find(presented.client_id, api_key=api_key)
            if found is not None and is_external(found):
                slot.release()
                raise StaleClient
        else:
            slot = authentication_slot(**where)
        client = client_verify(presented, api_key=api_key, found=found)
    except ClientRefused as refused:
        attempt.client = refused.client
        raise OAuthError(
            OAuthErrorCode.INVALID_CLIENT, INVALID_CLIENT_DESCRIPTION, status=401, reason=refused.reason
        ) from None
    slot.release()
    attempt.client = client
    return client
