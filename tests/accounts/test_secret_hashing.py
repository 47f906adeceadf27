"""Client secrets are checked by their keyed hash directly, with Django's own answer."""

import string

from django.contrib.auth.hashers import check_password, make_password
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.hashers import KeyedSecretHasher, secret_matches

secrets_ = st.text(min_size=0, max_size=60)
salts = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=22)


@given(secret=secrets_, presented=secrets_, salt=salts)
def test_a_keyed_hash_matches_exactly_when_django_says_so(secret, presented, salt):
    stored = KeyedSecretHasher().encode(secret, salt)
    assert secret_matches(secret, stored) is True
    assert secret_matches(presented, stored) is check_password(presented, stored)


@settings(max_examples=3, deadline=None)  # PBKDF2 is slow on purpose
@given(secret=secrets_, presented=secrets_)
def test_a_secret_stored_under_another_hasher_is_checked_by_django(secret, presented):
    stored = make_password(secret, hasher="pbkdf2_sha256")
    assert secret_matches(secret, stored) is True
    assert secret_matches(presented, stored) is (presented == secret)


def test_unusable_and_malformed_stored_values_match_nothing():
    assert secret_matches("", make_password(None)) is False
    assert secret_matches("x", "keyed_sha256$salt$" + "0" * 64) is False
    assert secret_matches("x", "") is False
