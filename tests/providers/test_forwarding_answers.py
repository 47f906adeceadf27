"""A provider's answers read as tokens: the token response checked (RFC 6749 §5.1), and what a
provider's access token looks like and which scopes its claims name."""

import pytest

from tokensvc.providers.access_tokens import _scopes, looks_like_jwt
from tokensvc.providers.errors import ProviderUnavailable
from tokensvc.providers.forwarding import MAX_TOKEN_LENGTH, ProviderToken, _well_formed

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def answer(**fields) -> dict:
    base = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}
    return {name: value for name, value in (base | fields).items() if value is not ...}


@pytest.mark.parametrize(
    ("document", "token"),
    [
        (answer(), ProviderToken(access_token=TOKEN, expires_in=3600)),
        (answer(token_type="bearer"), ProviderToken(access_token=TOKEN, expires_in=3600)),
        (answer(token_type="BEARER"), ProviderToken(access_token=TOKEN, expires_in=3600)),
        (answer(token_type="bEaReR"), ProviderToken(access_token=TOKEN, expires_in=3600)),
        (answer(expires_in=...), ProviderToken(access_token=TOKEN, expires_in=None)),
        (answer(expires_in=None), ProviderToken(access_token=TOKEN, expires_in=None)),
        (answer(expires_in=1), ProviderToken(access_token=TOKEN, expires_in=1)),
        (answer(access_token="2YotnFZFEjr1zCsicMWpAA"), ProviderToken("2YotnFZFEjr1zCsicMWpAA", 3600)),
        (answer(access_token="a"), ProviderToken("a", 3600)),
        (answer(access_token="t" * MAX_TOKEN_LENGTH), ProviderToken("t" * MAX_TOKEN_LENGTH, 3600)),
        # Other members (scope, refresh_token, id_token, extensions) do not matter.
        (answer(scope="profile:read", refresh_token="r", extra={"x": 1}), ProviderToken(TOKEN, 3600)),
    ],
)
def test_a_well_formed_token_response_gives_the_token(document, token):
    assert _well_formed(document) == token


@pytest.mark.parametrize(
    "document",
    [
        None,
        {},
        # access_token: missing, empty, not a string, spaces, controls, non-ASCII, too long.
        answer(access_token=...),
        answer(access_token=None),
        answer(access_token=""),
        answer(access_token=12345),
        answer(access_token=["a"]),
        answer(access_token={"value": "a"}),
        answer(access_token=True),
        answer(access_token="abc def"),
        answer(access_token=" abc"),
        answer(access_token="abc\n"),
        answer(access_token="abc\tdef"),
        answer(access_token="abc\x00"),
        answer(access_token="abc\x7f"),
        answer(access_token="tökén"),
        answer(access_token="abc\u00a0def"),
        answer(access_token="abc\u200bdef"),
        answer(access_token="t" * (MAX_TOKEN_LENGTH + 1)),
        # token_type: missing, not Bearer, not a string.
        answer(token_type=...),
        answer(token_type=None),
        answer(token_type=""),
        answer(token_type="DPoP"),
        answer(token_type="mac"),
        answer(token_type="Bearer "),
        answer(token_type="N_A"),
        answer(token_type=["Bearer"]),
        # expires_in: bool, zero, negative, string, float.
        answer(expires_in=True),
        answer(expires_in=False),
        answer(expires_in=0),
        answer(expires_in=-1),
        answer(expires_in="3600"),
        answer(expires_in=3600.0),
        answer(expires_in=[3600]),
    ],
)
def test_a_malformed_token_response_is_unavailable(document):
    with pytest.raises(ProviderUnavailable):
        _well_formed(document)


@pytest.mark.parametrize(
    ("raw", "is_jwt"),
    [
        (TOKEN, True),
        ("a.b.c", True),
        ("..", True),
        ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", True),  # unsigned JWS: still routed to verification
        ("vE1cWXqxo9v5wY3rQm0pZ5a3Yx2cWbNm", False),  # our own: URL-safe base64, no dots
        ("a.b", False),
        ("a.b.c.d.e", False),  # JWE compact serialisation: not a JWS
        ("a.b.c.d", False),
        ("", False),
    ],
)
def test_looks_like_jwt(raw, is_jwt):
    assert looks_like_jwt(raw) is is_jwt


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "profile:read address:read"}, {"profile:read", "address:read"}),
        ({"scope": " profile:read  profile:read\taddress:read "}, {"profile:read", "address:read"}),
        ({"scope": ""}, set()),
        ({"scp": ["profile:read", "address:read"]}, {"profile:read", "address:read"}),
        ({"scp": ["profile:read", 7, None, ["address:read"]]}, {"profile:read"}),
        ({"scp": []}, set()),
        ({"scp": "profile:read address:read"}, {"profile:read", "address:read"}),
        # scope wins over scp when both are there.
        ({"scope": "profile:read", "scp": ["banking:read"]}, {"profile:read"}),
    ],
)
def test_scopes_from_scope_or_scp(claims, scopes):
    assert _scopes(claims) == frozenset(scopes)


@pytest.mark.parametrize(
    "claims",
    [{}, {"sub": "x"}, {"scope": 7}, {"scope": {"profile:read": True}}, {"scp": None}, {"scope": None}],
)
def test_no_scope_claim_is_none(claims):
    assert _scopes(claims) is None
