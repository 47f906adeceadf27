"""The RFC 7662 answer for a token, computed with the same engine as every other grant."""

from datetime import datetime
from functools import partial

from django.utils import timezone

from claims.policy import granted_claims
from tokensvc.kept_rows import KeptRows
from tokensvc.selectors import (
    bearer_token_find,
    bearer_token_from_rows,
    bearer_token_grant,
    refresh_token_find,
    refresh_token_is_live,
)

INACTIVE = {"active": False}

# The answer for a live access token follows from its row alone, the policy revision included
# (tokensvc.selectors): the same row gives the same answer until the token expires. A resource
# server introspects the same token again and again, so the answer worked out from a row is
# kept, and the next introspection that reads that row again only checks the clock. A change of
# anything the answer rests on (revocation, the client or person disabled, the policy) changes
# or removes the row. A kept answer is handed to every request that reads its row: nothing may
# change it. Answers of one grant share its claim lists (`granted_claims`); the oldest answers
# make room past the limit.
_answers: KeptRows[tuple, tuple[datetime, dict]] = KeptRows(limit=4096)


def _subject(token) -> str:
    """The person for a user's token, else the client itself (as RFC 9068 does)."""
    return str(token.user.pk) if token.user is not None else token.application.client_id


def _bearer_subject(token) -> str:
    return str(token.user_pk) if token.user_pk is not None else token.client_id


def introspect(
    raw: str, *, hint: str | None = None, access_token_rows: tuple[tuple, ...] | None = None
) -> dict:
    """`{"active": false}` for anything unknown, expired or revoked; the details otherwise.

    `access_token_rows` are those of `bearer_token_statement(raw)` when the caller has already
    run it (along with its own authentication), which spares reading them again.
    """
    finders = [partial(_access_token_details, rows=access_token_rows), _refresh_token_details]
    if hint == "refresh_token":
        finders.reverse()
    for finder in finders:
        details = finder(raw)
        if details is not None:
            return details
    return INACTIVE


def _access_token_details(raw: str, rows: tuple[tuple, ...] | None = None) -> dict | None:
    if rows:
        kept = _answers.get(tuple(rows[0]))
        if kept is not None:
            expires, answer = kept
            return answer if expires > timezone.now() else INACTIVE
    token = bearer_token_find(raw) if rows is None else bearer_token_from_rows(rows)
    if token is None:
        return None
    if not token.is_live():
        return INACTIVE
    grant = bearer_token_grant(token)
    answer = {
        "active": True,
        "scope": " ".join(sorted(grant.scopes)),
        "client_id": token.client_id,
        "token_type": "Bearer",
        "exp": int(token.expires.timestamp()),
        "iat": int(token.created.timestamp()),
        "sub": _bearer_subject(token),
        "granted_claims": granted_claims(grant),
    }
    if rows:
        _answer_keep(tuple(rows[0]), token.expires, answer)
    return answer


def _answer_keep(row: tuple, expires: datetime, answer: dict) -> None:
    _answers.put(row, (expires, answer))


def answers_forget_all() -> None:
    """Drop every kept answer (tests start each from an empty process)."""
    _answers.clear()


def _refresh_token_details(raw: str) -> dict | None:
    token = refresh_token_find(raw)
    if token is None:
        return None
    if not refresh_token_is_live(token):
        return INACTIVE
    return {
        "active": True,
        "scope": token.access_token.scope,
        "client_id": token.application.client_id,
        "token_type": "refresh_token",
        "iat": int(token.created.timestamp()),
        "sub": _subject(token),
    }
