"""`manage.py create_officer`: a staff officer, never a superuser, password never on the command line."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User


@pytest.mark.django_db
def test_creates_a_staff_officer_from_the_environment(monkeypatch):
    monkeypatch.setenv("OFFICER_PASSWORD", "correct-horse-battery-9")
    out = io.StringIO()
    call_command("create_officer", "olga", stdout=out)
    officer = User.objects.get(username="olga")
    assert officer.is_staff
    assert not officer.is_superuser
    assert officer.check_password("correct-horse-battery-9")
    assert list(officer.groups.values_list("name", flat=True)) == ["Security officers"]
    assert "correct-horse" not in out.getvalue()


@pytest.mark.django_db
def test_weak_password_is_refused(monkeypatch):
    monkeypatch.setenv("OFFICER_PASSWORD", "123")
    with pytest.raises(CommandError, match="too short"):
        call_command("create_officer", "olga")
    assert not User.objects.filter(username="olga").exists()


@pytest.mark.django_db
def test_existing_username_is_refused(monkeypatch):
    User.objects.create_user("olga")
    monkeypatch.setenv("OFFICER_PASSWORD", "correct-horse-battery-9")
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_officer", "olga")


@pytest.mark.django_db
def test_without_a_terminal_or_variable_it_says_what_to_set(monkeypatch):
    monkeypatch.delenv("OFFICER_PASSWORD", raising=False)
    monkeypatch.setattr("os.isatty", lambda fd: False)
    with pytest.raises(CommandError, match="OFFICER_PASSWORD"):
        call_command("create_officer", "olga")
