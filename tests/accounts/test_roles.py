"""Roles: unique names, and no deleting a role someone still holds."""

import pytest
from django.core.exceptions import ValidationError

from accounts.exceptions import RoleInUse
from accounts.models import Role, User
from accounts.services import role_delete


@pytest.mark.django_db
def test_role_held_by_a_client_cannot_be_deleted(make_client):
    make_client("manager")
    role = Role.objects.get(name="manager")
    with pytest.raises(RoleInUse, match="still held by 1 client"):
        role_delete(role=role)
    assert Role.objects.filter(name="manager").exists()


@pytest.mark.django_db
def test_role_held_by_a_user_cannot_be_deleted():
    role = Role.objects.get(name="viewer")
    User.objects.create_user("bob", role=role)
    with pytest.raises(RoleInUse, match=r"0 client.*1 user"):
        role_delete(role=role)


@pytest.mark.django_db
def test_unused_role_is_deleted():
    role_delete(role=Role.objects.get(name="editor"))
    assert not Role.objects.filter(name="editor").exists()


@pytest.mark.django_db
def test_duplicate_role_names_are_refused():
    with pytest.raises(ValidationError):
        Role(name="manager").full_clean()


@pytest.mark.django_db
def test_every_client_has_exactly_one_role(make_client):
    issued = make_client("viewer")
    assert issued.client.role.name == "viewer"
    field = type(issued.client)._meta.get_field("role")
    assert not field.null
