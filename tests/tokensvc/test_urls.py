"""The URL map: the busiest routes are found without a Resolver404 on the way."""

import sys

import pytest
from django.conf import settings
from django.urls import Resolver404, resolve, reverse

from claims.urls import API_PREFIX


def exceptions_raised(call) -> list[type]:
    raised = []

    def trace(frame, event, arg):
        if event == "exception":
            raised.append(arg[0])
        return trace

    previous = sys.gettrace()  # coverage or a debugger may be tracing already
    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(previous)
    return raised


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/oauth/token/", "oauth2_provider:token"),
        ("/oauth/introspect/", "oauth2_provider:introspect"),
        ("/api/v1/customers/", "customer-list"),
        ("/api/v1/customers/7/", "customer-detail"),
    ],
)
def test_a_busy_route_resolves_without_a_resolver404(path, name):
    # An included URL map raises Resolver404 for any path outside its prefix (Django's
    # URLResolver.resolve); the routes tried before these must not be such maps.
    resolve(path)  # Django's caches filled first
    assert Resolver404 not in exceptions_raised(lambda: resolve(path))
    assert resolve(path).view_name == name


def test_the_api_prefix_is_a_machine_path():
    # The people's middleware steps aside on the API because of this prefix (settings).
    assert f"/{API_PREFIX}" in settings.MACHINE_PATH_PREFIXES


def test_the_api_routes_keep_their_names_and_prefix():
    assert reverse("customer-list") == "/api/v1/customers/"
    assert reverse("customer-detail", kwargs={"customer_id": 7}) == "/api/v1/customers/7/"
    assert reverse("oauth2_provider:token") == "/oauth/token/"
