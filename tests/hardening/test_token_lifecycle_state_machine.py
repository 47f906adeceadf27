"""A model-based test of the token lifecycle (hypothesis `RuleBasedStateMachine`).

The machine issues client-credentials tokens, runs the PKCE authorization-code flow for people,
rotates, replays and revokes refresh tokens, revokes access tokens, and keeps a model of which
token must be alive. After every step, each token the step touched is checked against the
model at both doors: introspection (RFC 7662) and the customer API (RFC 6750). Random
`introspect` and `call_api` rules probe any token, dead or alive, at any time.

The model (from the contract, RFC 7009, RFC 9700 §4.14.2 and the README):
- a refresh rotates: the new pair is alive, the presented refresh token and the access token
  issued with it are dead;
- presenting a refresh token that is no longer valid (rotated away or revoked) is `400
  invalid_grant` and revokes its whole family: every access and refresh token descended from the
  same authorization code dies ("reuse detection"; the server cannot tell thief from holder);
- the owner's revocation of an access token kills it and the refresh token issued with it, and
  revoking a refresh token kills it and its access token; revocation is 200 even for dead or
  unknown tokens, and another client's revocation is 200 but changes nothing (RFC 7009 §2.1).

Every example runs in its own savepoint, rolled back at teardown, so each starts from the same
clean database (seeded policy, the clients and people created below, no tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import pytest
from django.db import transaction
from django.test import Client as HttpClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts.models import Role, User
from accounts.services import IssuedClient, client_create
from tests.tokensvc.oauth_helpers import (
    INTROSPECT_URL,
    REVOKE_URL,
    TOKEN_URL,
    basic,
    browser_app,
    code_for,
    exchange_code,
    pkce_pair,
    post_form,
    refresh,
)

pytestmark = pytest.mark.django_db

API_URL = "/api/v1/customers/"
CC_ROLES = ("viewer", "salesperson", "editor", "manager", "admin")
PERSON_ROLES = ("viewer", "manager")
PERSON_SCOPE = {"viewer": "basic:read", "manager": "profile:read address:read"}


class Token:
    """One issued token as the model sees it."""

    def __init__(self, label: str, value: str, kind: str, owner: str, family: int | None):
        self.label = label
        self.value = value
        self.kind = kind  # "access_token" | "refresh_token"
        self.owner = owner  # "cc:<role>" for a client-credentials client, "app" for the browser app
        self.family = family  # the authorization code it descends from; None for client credentials
        self.pair: Token | None = None  # the other half of the pair it was issued with
        self.live = True

    def __repr__(self) -> str:
        family = f", family {self.family}" if self.family else ""
        return f"<{self.label} {self.owner}{family} {'live' if self.live else 'dead'}>"


@dataclass
class World:
    """What every example shares: clients and people created once, rolled back never."""

    cc_clients: dict[str, IssuedClient]
    stranger: IssuedClient
    resource_server: IssuedClient
    app: object
    other_app: object
    people: dict[str, User]


class TokenLifecycle(RuleBasedStateMachine):
    world: World  # set by the test before the run

    def __init__(self):
        super().__init__()
        # A savepoint per example: teardown rolls it back, so tokens never leak between examples.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.http = HttpClient()
        self.tokens: list[Token] = []
        self.touched: list[Token] = []
        self.families = count(1)
        self.labels = count(1)

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # ---------------------------------------------------------------- helpers

    def _new(self, value: str, kind: str, owner: str, family: int | None = None) -> Token:
        token = Token(f"{kind[0].upper()}T{next(self.labels)}", value, kind, owner, family)
        self.tokens.append(token)
        self.touched.append(token)
        return token

    def _kill(self, token: Token | None) -> None:
        if token is not None:
            token.live = False
            self.touched.append(token)

    def _kill_family(self, family: int) -> None:
        for token in self.tokens:
            if token.family == family:
                self._kill(token)

    def _owner_credentials(self, owner: str) -> tuple[dict, dict]:
        """(extra body parameters, headers) with which `owner` authenticates at /oauth/revoke/."""
        if owner == "app":
            return {"client_id": self.world.app.client_id}, {}
        issued = self.world.cc_clients[owner.removeprefix("cc:")]
        return {}, {
            "HTTP_AUTHORIZATION": basic(issued.client.client_id, issued.client_secret),
            "HTTP_X_API_KEY": issued.api_key,
        }

    def _introspect(self, token: Token, hint: str | None) -> dict:
        rs = self.world.resource_server
        params = {"token": token.value} | ({"token_type_hint": hint} if hint else {})
        response = post_form(
            self.http,
            INTROSPECT_URL,
            params,
            HTTP_AUTHORIZATION=basic(rs.client.client_id, rs.client_secret),
            HTTP_X_API_KEY=rs.api_key,
        )
        assert response.status_code == 200, response.content
        assert response["Cache-Control"] == "no-store"
        return response.json()

    def _check_at_introspection(self, token: Token, hint: str | None = None) -> None:
        body = self._introspect(token, hint)
        if not token.live:
            assert body == {"active": False}, f"{token} should be inactive, introspection says {body}"
            return
        assert body.get("active") is True, f"{token} should be active, introspection says {body}"
        expected_client = (
            self.world.app.client_id
            if token.owner == "app"
            else self.world.cc_clients[token.owner.removeprefix("cc:")].client.client_id
        )
        assert body["client_id"] == expected_client, body
        assert body["token_type"] == ("Bearer" if token.kind == "access_token" else "refresh_token"), body

    def _check_at_api(self, token: Token) -> None:
        response = self.http.get(API_URL, HTTP_AUTHORIZATION=f"Bearer {token.value}")
        assert response["Content-Type"].startswith("application/json"), response
        if token.live:
            assert response.status_code == 200, f"{token} should be usable: {response.content!r}"
            assert "results" in response.json()
        else:
            assert response.status_code == 401, f"{token} should be refused: {response.content!r}"
            assert response.json()["error"] == "invalid_token"
            assert response["WWW-Authenticate"].startswith("Bearer ")

    def _check(self, token: Token) -> None:
        self._check_at_introspection(token)
        if token.kind == "access_token":
            self._check_at_api(token)

    # ---------------------------------------------------------------- issuing

    @rule(role=st.sampled_from(CC_ROLES))
    def issue_client_credentials(self, role):
        issued = self.world.cc_clients[role]
        response = post_form(
            self.http,
            TOKEN_URL,
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic(issued.client.client_id, issued.client_secret),
            HTTP_X_API_KEY=issued.api_key,
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert "refresh_token" not in body, "client credentials must not get a refresh token"
        self._new(body["access_token"], "access_token", f"cc:{role}")

    @rule(role=st.sampled_from(PERSON_ROLES))
    def authorize_person(self, role):
        self.http.force_login(self.world.people[role])
        verifier, challenge = pkce_pair()
        code = code_for(self.http, self.world.app, challenge, scope=PERSON_SCOPE[role])
        response = exchange_code(self.http, self.world.app, code, verifier)
        self.http.logout()
        assert response.status_code == 200, response.content
        body = response.json()
        family = next(self.families)
        access = self._new(body["access_token"], "access_token", "app", family)
        refresh_token = self._new(body["refresh_token"], "refresh_token", "app", family)
        access.pair, refresh_token.pair = refresh_token, access

    # ---------------------------------------------------------------- refresh

    def _refresh_tokens(self, live: bool) -> list[Token]:
        return [t for t in self.tokens if t.kind == "refresh_token" and t.live is live]

    def _rotate(self, old: Token) -> None:
        response = refresh(self.http, self.world.app, old.value)
        assert response.status_code == 200, f"refreshing live {old}: {response.content!r}"
        body = response.json()
        assert body["refresh_token"] != old.value, "the refresh token must rotate"
        self._kill(old)
        self._kill(old.pair)
        access = self._new(body["access_token"], "access_token", "app", old.family)
        new_refresh = self._new(body["refresh_token"], "refresh_token", "app", old.family)
        access.pair, new_refresh.pair = new_refresh, access

    def _replay(self, stale: Token) -> None:
        response = refresh(self.http, self.world.app, stale.value)
        assert response.status_code == 400, f"replaying {stale}: {response.content!r}"
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"] == "invalid_grant"
        self._kill_family(stale.family)

    @precondition(lambda self: self._refresh_tokens(live=True))
    @rule(data=st.data())
    def rotate(self, data):
        self._rotate(data.draw(st.sampled_from(self._refresh_tokens(live=True)), label="refresh token"))

    @precondition(lambda self: self._refresh_tokens(live=False))
    @rule(data=st.data())
    def replay(self, data):
        """Any refresh token that is no longer valid: rotated away, revoked, or of a killed family."""
        self._replay(data.draw(st.sampled_from(self._refresh_tokens(live=False)), label="dead refresh token"))

    @precondition(lambda self: self._refresh_tokens(live=True))
    @rule(data=st.data())
    def stolen_and_replayed(self, data):
        """The holder rotates, then a thief presents the refresh token the holder just used."""
        stolen = data.draw(st.sampled_from(self._refresh_tokens(live=True)), label="refresh token")
        self._rotate(stolen)
        self._replay(stolen)

    @precondition(lambda self: self._refresh_tokens(live=True))
    @rule(data=st.data())
    def refresh_with_another_app(self, data):
        """A refresh token presented by an app it was not issued to is refused, and stays alive."""
        token = data.draw(st.sampled_from(self._refresh_tokens(live=True)), label="refresh token")
        response = refresh(self.http, self.world.other_app, token.value)
        assert response.status_code == 400, response.content
        assert response.json()["error"] == "invalid_grant"
        self.touched.append(token)

    # ---------------------------------------------------------------- revocation

    @precondition(lambda self: self.tokens)
    @rule(data=st.data(), hint=st.sampled_from([None, "access_token", "refresh_token"]))
    def revoke_as_owner(self, data, hint):
        token = data.draw(st.sampled_from(self.tokens), label="token")
        extra, headers = self._owner_credentials(token.owner)
        params = {"token": token.value, **extra} | ({"token_type_hint": hint} if hint else {})
        response = post_form(self.http, REVOKE_URL, params, **headers)
        assert response.status_code == 200, f"revoking {token}: {response.content!r}"
        assert response["Cache-Control"] == "no-store"
        self._kill(token)
        self._kill(token.pair)

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def revoke_as_stranger(self, data):
        """Another confidential client asks to revoke: 200 (RFC 7009 §2.2), and nothing changes."""
        token = data.draw(st.sampled_from(self.tokens), label="token")
        stranger = self.world.stranger
        response = post_form(
            self.http,
            REVOKE_URL,
            {"token": token.value},
            HTTP_AUTHORIZATION=basic(stranger.client.client_id, stranger.client_secret),
            HTTP_X_API_KEY=stranger.api_key,
        )
        assert response.status_code == 200, response.content
        self.touched.append(token)

    # ---------------------------------------------------------------- probes

    @precondition(lambda self: self.tokens)
    @rule(data=st.data(), hint=st.sampled_from([None, "access_token", "refresh_token"]))
    def introspect(self, data, hint):
        self._check_at_introspection(data.draw(st.sampled_from(self.tokens), label="token"), hint)

    @precondition(lambda self: any(t.kind == "access_token" for t in self.tokens))
    @rule(data=st.data())
    def call_api(self, data):
        access_tokens = [t for t in self.tokens if t.kind == "access_token"]
        self._check_at_api(data.draw(st.sampled_from(access_tokens), label="access token"))

    # ---------------------------------------------------------------- invariant

    @invariant()
    def touched_tokens_match_the_model(self):
        """Every token the last step issued, killed or tried to kill is as the model says."""
        touched, self.touched = self.touched, []
        seen = set()
        for token in touched:
            if id(token) not in seen:
                seen.add(id(token))
                self._check(token)


def test_token_lifecycle_follows_the_model():
    roles = {role.name: role for role in Role.objects.all()}
    TokenLifecycle.world = World(
        cc_clients={role: client_create(name=f"{role} integration", role=roles[role]) for role in CC_ROLES},
        stranger=client_create(name="stranger", role=roles["admin"]),
        resource_server=client_create(name="orders service", role=roles["viewer"], is_resource_server=True),
        app=browser_app(name="Sales web app", role="admin"),
        other_app=browser_app(name="Other web app", role="admin"),
        # No usable password: the flow logs them in with force_login (and skips PBKDF2).
        people={role: User.objects.create_user(f"person-{role}", role=roles[role]) for role in PERSON_ROLES},
    )
    run_state_machine_as_test(
        TokenLifecycle,
        settings=settings(
            max_examples=15,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
