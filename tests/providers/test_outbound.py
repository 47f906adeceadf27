"""Calls to a provider: which URLs may be called, and what a misbehaving server ends in.

The server is a tiny http.server on a loopback port, started per test; each path is one
behaviour (JSON, garbage, too large, dripping, redirecting).
"""

import contextlib
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tokensvc.providers.errors import ProviderUnavailable
from tokensvc.providers.outbound import MAX_RESPONSE_BYTES, Answer, call, url_problem

TIMEOUT = 1
DRIP_INTERVAL = 0.3


# --- url_problem ---------------------------------------------------------------------------

HTTPS_URLS = [
    "https://sso.example.com/token",
    "https://sso.example.com:8443/realms/staff?x=1",
    "HTTPS://SSO.EXAMPLE.COM/",
    "https://203.0.113.7/token",
    "https://127.0.0.1/token",
]
LOOPBACK_HTTP_URLS = [
    "http://127.0.0.1:8080/token",
    "http://127.0.0.2/token",
    "http://[::1]:8080/token",
    "http://localhost/token",
    "http://LOCALHOST:9000/token",
]
ALWAYS_REFUSED = [
    # http to anything but a loopback address or the name localhost.
    "http://sso.example.com/token",
    "http://10.0.0.1/token",
    "http://0.0.0.0:8080/token",
    "http://localhost.example.com/token",
    "http://127.0.0.1.nip.io/token",
    # Credentials, fragments.
    "https://user:secret@sso.example.com/token",
    "https://user@sso.example.com/token",
    "https://:secret@sso.example.com/token",
    "http://127.0.0.1@evil.example.com/token",
    "https://sso.example.com/token#fragment",
    # Relative, scheme-relative, hostless, other schemes, not a URL.
    "/protocol/openid-connect/token",
    "sso.example.com/token",
    "//sso.example.com/token",
    "https:///token",
    "",
    "ftp://sso.example.com/token",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "https://[::1/token",
]


@pytest.mark.parametrize("allow_loopback", [True, False])
@pytest.mark.parametrize("url", HTTPS_URLS)
def test_https_urls_may_be_called(settings, allow_loopback, url):
    settings.PROVIDER_ALLOW_LOOPBACK_HTTP = allow_loopback

    assert url_problem(url) is None


@pytest.mark.parametrize("url", LOOPBACK_HTTP_URLS)
def test_http_to_loopback_may_be_called_only_when_allowed(settings, url):
    settings.PROVIDER_ALLOW_LOOPBACK_HTTP = True
    assert url_problem(url) is None

    settings.PROVIDER_ALLOW_LOOPBACK_HTTP = False
    assert url_problem(url) == "not an https URL"


@pytest.mark.parametrize("allow_loopback", [True, False])
@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_other_urls_are_refused(settings, allow_loopback, url):
    settings.PROVIDER_ALLOW_LOOPBACK_HTTP = allow_loopback

    assert url_problem(url)


# --- call, against a local server ---------------------------------------------------------


@dataclass
class LocalServer:
    port: int
    stop: threading.Event
    requests: list[dict] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _json(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", headers.pop("content_type", "application/json"))
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def _drip_body(handler: BaseHTTPRequestHandler, status: int = 200, **headers: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    while not handler.server.stop.is_set():
        handler.wfile.write(b" ")
        time.sleep(DRIP_INTERVAL)


def _drip_headers(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
    while not handler.server.stop.is_set():
        handler.wfile.write(b"a")
        time.sleep(DRIP_INTERVAL)


def _echo(handler: BaseHTTPRequestHandler) -> None:
    length = int(handler.headers.get("Content-Length") or 0)
    body = json.dumps(
        {
            "method": handler.command,
            "form": handler.rfile.read(length).decode(),
            "authorization": handler.headers.get("Authorization"),
            "accept": handler.headers.get("Accept"),
            "user_agent": handler.headers.get("User-Agent"),
        }
    ).encode()
    _json(handler, 200, body)


ROUTES: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
    "/json": lambda h: _json(h, 200, b'{"issuer": "https://sso.example.com", "n": 1}'),
    "/list": lambda h: _json(h, 200, b'["a", "b"]'),
    "/html": lambda h: _json(h, 200, b"<html>Service Unavailable</html>", content_type="text/html"),
    "/broken-json": lambda h: _json(h, 200, b'{"issuer": '),
    "/empty": lambda h: _json(h, 204, b""),
    "/error": lambda h: _json(h, 503, b'{"error": "temporarily_unavailable"}'),
    "/largest": lambda h: _json(h, 200, b'"' + b"a" * (MAX_RESPONSE_BYTES - 2) + b'"'),
    "/too-large": lambda h: _json(h, 200, b'"' + b"a" * (MAX_RESPONSE_BYTES - 1) + b'"'),
    "/gzip-bomb": lambda h: _json(
        h, 200, gzip.compress(b" " * (20 * MAX_RESPONSE_BYTES)), Content_Encoding="gzip"
    ),
    "/redirect": lambda h: _json(h, 302, b'{"moved": true}', Location="/json"),
    "/redirect-too-large": lambda h: _json(h, 302, b" " * (4 * MAX_RESPONSE_BYTES), Location="/json"),
    "/redirect-drip": lambda h: _drip_body(h, 302, Location="/json"),
    "/drip-body": _drip_body,
    "/drip-headers": _drip_headers,
    "/echo": _echo,
}


class _Handler(BaseHTTPRequestHandler):
    def _route(self) -> None:
        self.server.seen.append({"method": self.command, "path": self.path})
        # The client hangs up, as it should, on a too-large or too-slow answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            ROUTES[self.path](self)

    do_GET = do_POST = _route

    def log_message(self, format, *args):
        pass


@pytest.fixture
def server(settings) -> Iterator[LocalServer]:
    settings.PROVIDER_ALLOW_LOOPBACK_HTTP = True
    settings.PROVIDER_TIMEOUT_SECONDS = TIMEOUT
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.stop = threading.Event()
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield LocalServer(port=httpd.server_address[1], stop=httpd.stop, requests=httpd.seen)
    httpd.stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_a_json_body_is_parsed(server):
    answer = call("GET", server.url("/json"))

    assert answer == Answer(status=200, body={"issuer": "https://sso.example.com", "n": 1})
    assert answer.json_object == {"issuer": "https://sso.example.com", "n": 1}


def test_a_json_list_is_a_body_but_not_an_object(server):
    answer = call("GET", server.url("/list"))

    assert answer.body == ["a", "b"]
    assert answer.json_object is None


@pytest.mark.parametrize(("path", "status"), [("/html", 200), ("/broken-json", 200), ("/empty", 204)])
def test_a_body_that_is_not_json_is_none(server, path, status):
    answer = call("GET", server.url(path))

    assert answer == Answer(status=status, body=None)


def test_an_error_status_is_returned_with_its_body(server):
    answer = call("GET", server.url("/error"))

    assert answer == Answer(status=503, body={"error": "temporarily_unavailable"})


def test_a_post_carries_its_form_basic_auth_and_accept_header(server):
    answer = call("POST", server.url("/echo"), data={"grant_type": "client_credentials"}, auth=("id", "pw"))

    assert answer.status == 200
    assert answer.body == {
        "method": "POST",
        "form": "grant_type=client_credentials",
        "authorization": "Basic aWQ6cHc=",
        "accept": "application/json",
        "user_agent": "tokensvc",
    }


def test_a_body_of_exactly_the_limit_is_read(server):
    answer = call("GET", server.url("/largest"))

    assert answer.status == 200
    assert answer.body == "a" * (MAX_RESPONSE_BYTES - 2)


def test_a_body_larger_than_the_limit_is_refused(server):
    with pytest.raises(ProviderUnavailable, match="larger than"):
        call("GET", server.url("/too-large"))


def test_a_compressed_body_is_refused_since_none_was_asked_for(server):
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable, match="encoded as 'gzip'"):
        call("GET", server.url("/gzip-bomb"))

    assert time.monotonic() - started < 2 * TIMEOUT


def test_a_body_dripping_forever_is_cut_off_at_the_deadline(server):
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable, match="no complete answer within"):
        call("GET", server.url("/drip-body"))

    assert time.monotonic() - started < 2 * TIMEOUT + 0.5


def _outcome_within(url: str, seconds: float) -> dict[str, object]:
    """The call's answer or error if it ends within `seconds`; {} while it is still waiting.
    Waiting longer proves nothing; the server fixture stops dripping, which ends the call."""
    outcome: dict[str, object] = {}

    def ask() -> None:
        try:
            outcome["answer"] = call("GET", url)
        except Exception as error:
            outcome["error"] = error

    caller = threading.Thread(target=ask, daemon=True)
    caller.start()
    caller.join(timeout=seconds)
    return dict(outcome)


def test_headers_dripping_forever_are_cut_off_at_the_deadline(server):
    outcome = _outcome_within(server.url("/drip-headers"), 2 * TIMEOUT + 0.5)

    assert isinstance(outcome.get("error"), ProviderUnavailable), outcome or "still waiting"


def test_connection_refused_is_unavailable(settings):
    settings.PROVIDER_ALLOW_LOOPBACK_HTTP = True
    settings.PROVIDER_TIMEOUT_SECONDS = TIMEOUT
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.

    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        call("GET", f"http://127.0.0.1:{port}/token")


def test_a_redirect_is_returned_not_followed(server):
    answer = call("GET", server.url("/redirect"))

    assert answer.status == 302
    assert server.requests == [{"method": "GET", "path": "/redirect"}]


def test_a_redirect_is_returned_with_its_body(server):
    answer = call("GET", server.url("/redirect"))

    assert answer == Answer(status=302, body={"moved": True})


def test_a_redirect_body_larger_than_the_limit_is_refused(server):
    with pytest.raises(ProviderUnavailable, match="larger than"):
        call("GET", server.url("/redirect-too-large"))


def test_a_redirect_dripping_its_body_is_cut_off_at_the_deadline(server):
    outcome = _outcome_within(server.url("/redirect-drip"), 2 * TIMEOUT + 0.5)

    assert isinstance(outcome.get("error"), ProviderUnavailable), outcome or "still waiting"


def test_loopback_http_is_not_called_when_not_allowed(server, settings):
    settings.PROVIDER_ALLOW_LOOPBACK_HTTP = False

    with pytest.raises(ProviderUnavailable, match="refusing"):
        call("GET", server.url("/json"))

    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    ["http://sso.example.com/token", "https://user:secret@sso.example.com/token", "/token"],
)
def test_a_refused_url_is_never_called(server, url):
    with pytest.raises(ProviderUnavailable, match="refusing"):
        call("GET", url)
