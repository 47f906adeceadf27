"""Password sign-in is protected: a cool-off after repeated failures, recorded for officers."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog

from accounts.services import officer_create


def attempt(client, password: str, address: str = "198.51.100.7"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "olga", "password": password},
        REMOTE_ADDR=address,
    )


@pytest.mark.django_db
def test_admin_login_cools_off_after_five_failures(client):
    officer_create(username="olga", password="correct-horse-battery-9")
    for _ in range(4):
        assert attempt(client, "wrong").status_code == 200  # the form again, with an error
    assert attempt(client, "wrong").status_code == 429  # the fifth failure starts the cool-off
    locked = attempt(client, "correct-horse-battery-9")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.filter(username="olga").exists()
    assert AccessFailureLog.objects.filter(username="olga").count() >= 5


@pytest.mark.django_db
def test_another_address_is_not_locked_out(client):
    officer_create(username="olga", password="correct-horse-battery-9")
    for _ in range(5):
        attempt(client, "wrong")
    assert attempt(client, "correct-horse-battery-9", address="192.0.2.44").status_code == 302


@pytest.mark.django_db
def test_officers_can_read_the_lockouts_but_not_clear_them(client):
    officer = officer_create(username="olga", password="correct-horse-battery-9")
    for _ in range(5):
        attempt(client, "wrong")
    client.force_login(officer)
    assert client.get("/admin/axes/accessattempt/").status_code == 200
    entry = AccessAttempt.objects.get()
    assert client.post(f"/admin/axes/accessattempt/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
