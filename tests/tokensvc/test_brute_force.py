"""Failed client authentications are limited per client_id and per address, before verifying."""

import base64
import os
import threading
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings

from accounts import authentication
from accounts.models import Role
from accounts.services import api_key_issue, browser_app_create
from accounts.throttling import TooManyFailures, authentication_slot

FORM = "application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 10
    settings.AUTH_FAILURE_LIMIT_PER_ADDRESS = 40
    settings.AUTH_FAILURE_WINDOW = 300


def post_token(client, client_id: str, secret: str, api_key: str | None, **extra):
    headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
    if api_key:
        headers["HTTP_X_API_KEY"] = api_key
    return client.post(
        "/oauth/token/",
        urlencode({"grant_type": "client_credentials"}),
        content_type=FORM,
        **headers,
        **extra,
    )


@pytest.mark.django_db
def test_after_the_limit_even_the_right_secret_gets_429(client, make_client):
    issued = make_client("manager")
    cid = issued.client.client_id
    for _ in range(10):
        assert post_token(client, cid, "wrong", issued.api_key).status_code == 401
    limited = post_token(client, cid, issued.client_secret, issued.api_key)
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 300
    assert limited.json()["error"] == "temporarily_unavailable"
    assert limited["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_wrong_api_keys_count_as_failures(client, make_client):
    issued = make_client("manager")
    for _ in range(10):
        post_token(client, issued.client.client_id, issued.client_secret, "wrong-key")
    assert (
        post_token(client, issued.client.client_id, issued.client_secret, issued.api_key).status_code == 429
    )


@pytest.mark.django_db
def test_other_clients_are_unaffected(client, make_client):
    victim, other = make_client("manager"), make_client("viewer")
    for _ in range(12):
        post_token(client, victim.client.client_id, "wrong", victim.api_key)
    assert post_token(client, other.client.client_id, other.client_secret, other.api_key).status_code == 200


@pytest.mark.django_db
def test_successes_use_no_quota_and_never_reset_it(client, make_client):
    issued = make_client("manager")
    cid = issued.client.client_id
    for _ in range(25):
        assert post_token(client, cid, issued.client_secret, issued.api_key).status_code == 200
    for _ in range(9):
        post_token(client, cid, "wrong", issued.api_key)
    assert post_token(client, cid, issued.client_secret, issued.api_key).status_code == 200
    assert post_token(client, cid, "wrong", issued.api_key).status_code == 401  # the 10th failure
    assert post_token(client, cid, issued.client_secret, issued.api_key).status_code == 429


@pytest.mark.django_db
def test_one_address_is_limited_across_client_ids(client, make_client):
    for number in range(40):
        post_token(client, f"guess-{number}", "wrong", None, REMOTE_ADDR="203.0.113.9")
    assert post_token(client, "guess-41", "wrong", None, REMOTE_ADDR="203.0.113.9").status_code == 429
    issued = make_client("viewer")
    elsewhere = post_token(client, issued.client.client_id, issued.client_secret, issued.api_key)
    assert elsewhere.status_code == 200


@pytest.mark.django_db
def test_limited_attempts_never_reach_secret_verification(client, make_client, monkeypatch):
    issued = make_client("manager")
    verified = []
    real = authentication.secret_matches
    monkeypatch.setattr(authentication, "secret_matches", lambda *a: verified.append(1) or real(*a))
    for _ in range(30):
        post_token(client, issued.client.client_id, "wrong", issued.api_key)
    assert len(verified) == 10


@pytest.mark.django_db
def test_introspection_and_revocation_share_the_limit(client, make_client):
    issued = make_client("viewer", is_resource_server=True)
    cid = issued.client.client_id
    for _ in range(10):
        post_token(client, cid, "wrong", issued.api_key)
    auth = "Basic " + base64.b64encode(f"{cid}:{issued.client_secret}".encode()).decode()
    for url in ("/oauth/introspect/", "/oauth/revoke/"):
        response = client.post(
            url, "token=x", content_type=FORM, HTTP_AUTHORIZATION=auth, HTTP_X_API_KEY=issued.api_key
        )
        assert response.status_code == 429, url
    assert response.json()["error"] == "temporarily_unavailable"


def test_concurrent_attempts_get_at_most_the_limit_of_slots():
    """100 simultaneous attempts against a limit of 10: at most 10 may verify (atomic counter)."""
    granted, barrier = [], threading.Barrier(100)

    def attempt():
        barrier.wait()
        try:
            authentication_slot(client_id="burst", source_ip=None)
            granted.append(1)
        except TooManyFailures:
            pass

    threads = [threading.Thread(target=attempt) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 10


def test_process_counters_start_afresh_in_each_window_and_never_go_back():
    from accounts.throttling import _ProcessCounters

    counters = _ProcessCounters()
    limit = [("k", 2)]
    assert counters.reserve(limit, bucket=7)
    assert counters.reserve(limit, bucket=7)
    assert not counters.reserve(limit, bucket=7)
    assert counters.reserve(limit, bucket=8)  # a new window
    # An attempt that read the clock just before the rollover counts, but wipes nothing.
    assert counters.reserve(limit, bucket=7)
    assert not counters.reserve(limit, bucket=8)
    counters.release(["k"], bucket=7)  # its window is over: nothing to give back
    assert not counters.reserve(limit, bucket=8)
    counters.release(["k"], bucket=8)
    assert counters.reserve(limit, bucket=8)


def test_process_counters_admit_below_the_limit_and_count_nothing():
    from accounts.throttling import _ProcessCounters

    counters = _ProcessCounters()
    limits = [("client", 2), ("ip", 5)]
    assert counters.below(limits, bucket=3)  # nothing counted yet
    assert counters.reserve(limits, bucket=3)
    for _ in range(10):
        assert counters.below(limits, bucket=3)  # reading takes nothing
    assert counters.reserve(limits, bucket=3)
    assert not counters.below(limits, bucket=3)  # the client's counter is at its limit
    assert not counters.below([("client", 2)], bucket=3)
    assert counters.below([("ip", 5)], bucket=3)
    assert counters.below(limits, bucket=4)  # the next window starts empty
    assert not counters.below(limits, bucket=2)  # an earlier clock reads the current window


def test_process_counters_refuse_all_or_take_none():
    from accounts.throttling import _ProcessCounters

    counters = _ProcessCounters()
    assert counters.reserve([("ip", 1)], bucket=1)
    assert not counters.reserve([("client", 5), ("ip", 1)], bucket=1)
    # The refused attempt took no slot of the client's.
    for _ in range(5):
        assert counters.reserve([("client", 5)], bucket=1)


def test_process_counters_hold_a_bounded_number_of_keys(monkeypatch):
    from accounts.throttling import _ProcessCounters

    monkeypatch.setattr(_ProcessCounters, "MAX_KEYS", 3)
    counters = _ProcessCounters()
    for number in range(10):
        assert counters.reserve([(f"k{number}", 1)], bucket=1)
    assert list(counters._counts) == ["k7", "k8", "k9"]


@pytest.mark.django_db
def test_a_success_has_given_its_slot_back_before_the_next_attempt(client, make_client, settings):
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 1
    issued = make_client("manager")
    cid = issued.client.client_id
    for _ in range(5):
        assert post_token(client, cid, issued.client_secret, issued.api_key).status_code == 200
    assert post_token(client, cid, "wrong", issued.api_key).status_code == 401
    assert post_token(client, cid, issued.client_secret, issued.api_key).status_code == 429


@pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="needs Redis (REDIS_URL): without it each process counts for itself"
)
def test_each_thread_and_each_forked_process_has_its_own_redis_connection():
    from accounts import throttling

    def connection_of_this_thread():
        return throttling._redis().client.connection

    mine = connection_of_this_thread()
    assert connection_of_this_thread() is mine  # kept for the thread's next attempt
    others = []
    thread = threading.Thread(target=lambda: others.append(connection_of_this_thread()))
    thread.start()
    thread.join()
    assert others[0] is not mine
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child answers whether it would reuse its parent's connection, then exits
        os.write(write, b"reused" if getattr(throttling._per_thread, "redis", None) else b"own")
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 16) == b"own"
    os.close(read)
    os.close(write)


@pytest.mark.django_db
def test_a_public_clients_api_key_guesses_count_as_failures(client):
    # A browser app that requires an API key (none is made so by the admin, but the model
    # allows it) has that key as its one secret, limited like any other.
    app = browser_app_create(
        name="Kiosk", role=Role.objects.get(name="viewer"), redirect_uris=["https://k.example/cb"]
    )
    app.requires_api_key = True
    app.save(update_fields=["requires_api_key"])
    _key, api_key = api_key_issue(client=app)

    def revoke(key: str):
        body = urlencode({"token": "not-a-token", "client_id": app.client_id})
        return client.post("/oauth/revoke/", body, content_type=FORM, HTTP_X_API_KEY=key)

    assert revoke(api_key).status_code == 200
    for _ in range(10):
        assert revoke("wrong-key").status_code == 401
    assert revoke(api_key).status_code == 429
