"""Content negotiation of the API (claims.negotiation): DRF's, answered at once for the Accept
headers nearly every client sends (none, or `*/*`), and otherwise left to DRF.

The shortcut must never change an answer: whatever the Accept header, the format parameter or a
format suffix, the renderer and media type chosen (or the refusal) are DRF's own.
"""

import pytest
from django.http import Http404
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from claims.negotiation import ContentNegotiation
from claims.renderers import OrjsonRenderer
from tests.claims.test_customer_api import API, get

# The status each refusal of DRF's negotiation is answered with.
STATUS_OF_REFUSAL = {Http404: 404, exceptions.NotAcceptable: 406}


def decided(negotiation, request: Request, renderers: list, format_suffix: str | None = None):
    """(renderer class, media type) as `negotiation` chooses them, or the class of its refusal."""
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, format_suffix)
    except (Http404, exceptions.APIException) as refusal:
        return type(refusal)
    return type(renderer), media_type


def drf_request(accept: str | None, query: str = "") -> Request:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return Request(APIRequestFactory().get(f"{API}{query}", **headers))


def api_renderers() -> list:
    return [renderer() for renderer in api_settings.DEFAULT_RENDERER_CLASSES]


def test_the_api_uses_this_negotiation():
    assert api_settings.DEFAULT_CONTENT_NEGOTIATION_CLASS is ContentNegotiation


@pytest.fixture
def drf_consulted(monkeypatch) -> list:
    """Each call of DRF's own negotiation (which the shortcut calls through super())."""
    calls = []
    select_renderer = DefaultContentNegotiation.select_renderer

    def counted(self, *args, **kwargs):
        calls.append(args)
        return select_renderer(self, *args, **kwargs)

    monkeypatch.setattr(DefaultContentNegotiation, "select_renderer", counted)
    return calls


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "shortcut"),
    [(None, True), ("*/*", True), ("application/json", False), ("application/*", False)],
)
def test_what_clients_send_is_answered_with_json(
    client, issue_token, customer, drf_consulted, accept, shortcut
):
    token = issue_token("admin")
    drf_consulted.clear()
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = get(client, f"{API}{customer.pk}/", token, **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["id"] == customer.pk
    # No Accept header or a bare wildcard skip DRF's parsing and ranking; anything else goes to it.
    assert len(drf_consulted) == (0 if shortcut else 1)


@pytest.mark.django_db
def test_html_only_is_406_json(client, issue_token, customer):
    response = get(client, f"{API}{customer.pk}/", issue_token("admin"), HTTP_ACCEPT="text/html")
    assert response.status_code == 406, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


def test_every_operation_documents_its_406(client):
    """Any operation answers 406 to an Accept header that admits no JSON: the schema says so."""
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    operations = [(path, method, op) for path, item in paths.items() for method, op in item.items()]
    assert len(operations) == 5
    for path, method, operation in operations:
        assert "406" in operation["responses"], (method, path)


ACCEPTS = [None, "*/*", "application/json"]
FORMATS = ["?format=xml", "?format=api", "?format=json", "?format="]


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", FORMATS)
def test_the_format_parameter_is_decided_as_drf_decides(accept, query):
    """`format` overrides the Accept header, so the shortcut must not answer for it even when
    the header takes anything."""
    expected = decided(DefaultContentNegotiation(), drf_request(accept, query), api_renderers())
    assert decided(ContentNegotiation(), drf_request(accept, query), api_renderers()) == expected
    # What DRF decides here: no renderer has the format xml or api (so "no such page"), json
    # and an empty format are the JSON renderer.
    if query in ("?format=xml", "?format=api"):
        assert expected is Http404
    else:
        assert expected == (OrjsonRenderer, "application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["?format=json", "?format="])
def test_a_known_or_empty_format_is_answered_with_json(client, issue_token, customer, accept, query):
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = get(client, f"{API}{customer.pk}/{query}", issue_token("admin"), **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["id"] == customer.pk


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["?format=xml", "?format=api"])
def test_an_unknown_format_is_404_json(client, issue_token, customer, accept, query):
    # The decision is DRF's (test above); here only how it reaches the client.
    assert decided(ContentNegotiation(), drf_request(accept, query), api_renderers()) is Http404
    token = issue_token("admin")
    client.raise_request_exception = False  # see the status a real client would get
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = get(client, f"{API}{customer.pk}/{query}", token, **extra)
    assert response.status_code == STATUS_OF_REFUSAL[Http404], response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


MEDIA_RANGES = [
    "*/*",
    "application/json",
    "application/*",
    "application/xml",
    "text/html",
    "text/*",
    "image/png",
    "application/json; indent=4",
    "*/*; charset=utf-8",
]
WEIGHTS = ["", ";q=0", "; q=0.5", ";q=1", ";q=0.001", ";q=1.0"]

accept_headers = st.one_of(
    st.none(),  # no header at all
    st.builds(
        lambda ranges, separator, padding: padding + separator.join(ranges) + padding,
        st.lists(
            st.builds(str.__add__, st.sampled_from(MEDIA_RANGES), st.sampled_from(WEIGHTS)),
            min_size=1,
            max_size=4,
        ),
        st.sampled_from([",", ", ", " , "]),
        st.sampled_from(["", " ", "  "]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    accept=accept_headers,
    query=st.sampled_from(["", "?format=json", "?format=xml", "?format=api", "?format=", "?page=2"]),
    format_suffix=st.sampled_from([None, "", "json", "api", "xml"]),
    browsable=st.booleans(),
)
def test_the_shortcut_decides_as_drf_decides(accept, query, format_suffix, browsable):
    renderers = [OrjsonRenderer(), BrowsableAPIRenderer()] if browsable else api_renderers()
    ours = decided(ContentNegotiation(), drf_request(accept, query), renderers, format_suffix)
    theirs = decided(DefaultContentNegotiation(), drf_request(accept, query), renderers, format_suffix)
    assert ours == theirs


@pytest.mark.parametrize("accept", ["", "  "])
def test_an_empty_accept_header_is_decided_as_drf_decides(accept):
    ours = decided(ContentNegotiation(), drf_request(accept), api_renderers())
    assert ours == decided(DefaultContentNegotiation(), drf_request(accept), api_renderers())
