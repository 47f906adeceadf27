"""The attempt a request carries to its audit event: a copy taken before a try, and restored."""

from hypothesis import given
from hypothesis import strategies as st

from tokensvc.attempts import Attempt

texts = st.text(max_size=8)
attempts = st.builds(
    Attempt,
    client_identifier=texts,
    requested_scope=texts,
    granted_scope=texts,
    reason=texts,
    provider_id=st.none() | st.integers(),
    recorded=st.booleans(),
)


@given(attempts, attempts)
def test_a_copy_keeps_every_field_and_restore_brings_them_back(attempt, later):
    before = attempt.copy()
    assert before == attempt
    assert before is not attempt
    for name, value in vars(later).items():
        setattr(attempt, name, value)
    assert attempt == later
    attempt.restore(before)
    assert attempt == before


def test_a_copy_is_not_changed_by_what_the_attempt_does_next():
    attempt = Attempt(client_identifier="c1")
    before = attempt.copy()
    attempt.refuse("API key unknown or of another client")
    assert before.reason == ""
