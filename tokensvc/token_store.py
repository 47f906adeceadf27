"""Storing an access token we issue ourselves, outside oauthlib (our client_credentials path and
token exchange): DOT's AccessToken row, written as DOT would write it."""

from datetime import datetime
from types import SimpleNamespace

from oauth2_provider.models import get_access_token_model, set_token_value

from tokensvc.oauth import new_token
from tokensvc.rows import row_insert
from tokensvc.selectors import token_checksum

AccessToken = get_access_token_model()


def access_token_store(*, application_id: int, user_id: int | None, scope: str, expires: datetime) -> str:
    """A new access token, stored; returns its value, which exists only in the caller's hands.

    DOT's storage rule (RFC 9700: only the checksum is kept, unless plain storage is configured)
    is applied to a bare holder, so the row is one plain INSERT: no signal listens on tokens.
    """
    raw = new_token()
    stored = SimpleNamespace()
    set_token_value(stored, raw)
    row_insert(
        AccessToken,
        {
            "token": stored.token,
            "token_checksum": token_checksum(raw),
            "application_id": application_id,
            "user_id": user_id,
            "scope": scope,
            "expires": expires,
        },
    )
    return raw
