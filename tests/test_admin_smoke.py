"""Every admin list and add page renders for a superuser (or refuses adding on purpose)."""

import pytest
from django.contrib import admin
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["changelist", "add"])
def test_every_admin_page_renders(admin_client, admin_user, rf, page):
    request = rf.get("/")
    request.user = admin_user
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}")
        expected = 200 if page == "changelist" or model_admin.has_add_permission(request) else 403
        assert admin_client.get(url).status_code == expected, url
