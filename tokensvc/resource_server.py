"""The resource server an introspection request proves (RFC 7662 §2.1), with the introspected
access token read by the same statement.

A resource server's first introspection in a process is decided from the database: a
brute-force slot, then one statement that reads the server, its API key, the policy revision
and the token. Its next ones come from the rows kept then (accounts.verified_clients): the
failure counters read first, the secret compared in memory, then one statement that checks the
kept rows against the database and reads the token (`rows_if_unchanged`).
"""

from django.http import HttpRequest

from accounts import verified_clients
from accounts.authentication import (
    API_KEY_META,
    ClientRefused,
    PresentedCredentials,
    client_verify,
    credentials_presented,
)
from accounts.models import Client
from accounts.throttling import authentication_slot
from accounts.verified_clients import StaleClient
from tokensvc.attempts import Attempt, source_ip
from tokensvc.client_authentication import confidential_client, decided_from_kept_rows
from tokensvc.errors import INVALID_CLIENT_DESCRIPTION, OAuthError, OAuthErrorCode
from tokensvc.selectors import bearer_token_statement

TokenRows = tuple[tuple, ...]


def _not_a_resource_server() -> OAuthError:
    return OAuthError(
        OAuthErrorCode.INVALID_CLIENT,
        "This client may not introspect tokens.",
        status=401,
        reason="client is not a resource server",
    )


def resource_server_authenticate(
    request: HttpRequest, params: dict, attempt: Attempt, along_token: str | None
) -> tuple[Client, TokenRows | None]:
    """The resource server the request proves, and the rows of the access token `along_token`
    when given, read by the same statement (None if they were not read). OAuthError (401) or
    TooManyFailures otherwise."""
    try:
        presented = credentials_presented(
            authorization=request.META.get("HTTP_AUTHORIZATION"),
            body_client_id=params.get("client_id"),
            body_secret=params.get("client_secret"),
        )
        attempt.client_identifier = presented.client_id
        if presented.method == "none":
            # Resource servers are confidential clients: a client_id alone proves nothing, is
            # refused as any failed authentication is, and looks nothing up (no last use noted).
            raise ClientRefused("no client secret")
        kept = _from_kept_rows(request, presented, along_token)
        if kept is not None:
            return kept
        slot = authentication_slot(client_id=presented.client_id, source_ip=source_ip(request))
        # Hashed only once the attempt has its slot: a limited caller costs no hashing.
        along = bearer_token_statement(along_token) if along_token else None
        client = client_verify(presented, api_key=request.META.get(API_KEY_META), along=along)
        slot.release()
    except ClientRefused as refused:
        attempt.client = refused.client
        raise OAuthError(
            OAuthErrorCode.INVALID_CLIENT, INVALID_CLIENT_DESCRIPTION, status=401, reason=refused.reason
        ) from None
    attempt.client = client
    if not client.is_resource_server:
        raise _not_a_resource_server()
    rows = getattr(client, "along", None) if along is not None else None
    verified_clients.client_keep(client)
    return client, rows


def _from_kept_rows(
    request: HttpRequest, presented: PresentedCredentials, along_token: str | None
) -> tuple[Client, TokenRows | None] | None:
    """What `resource_server_authenticate` answers, if the rows kept from the server's earlier
    request prove it (`confidential_client` with `kept`: the limits first), checked against the
    database by the statement that reads the token; None to decide it from the database, the
    attempt untouched."""

    def decide(kept: Client) -> tuple[Client, TokenRows | None] | None:
        if not kept.is_resource_server:
            return None
        client = confidential_client(request, presented, kept, kept=True)
        if client is not kept:  # not proven by the kept rows: verified from the database
            if not client.is_resource_server:
                raise _not_a_resource_server()
            verified_clients.client_keep(client)
            return client, None
        along = bearer_token_statement(along_token) if along_token else None
        rows = verified_clients.rows_if_unchanged(client, along)
        if rows is None:
            raise StaleClient
        verified_clients.note_kept_use(client)
        return client, rows if along is not None else None

    return decided_from_kept_rows(request, presented, decide)
