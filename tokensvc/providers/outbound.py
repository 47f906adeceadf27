"""Calls to a provider: https only, no redirects, one deadline on the whole exchange, a size cap.

A provider is outside our control; whatever it does (hang, drip bytes into the headers or the
body, answer megabytes of garbage, redirect elsewhere) must end in `ProviderUnavailable` within
PROVIDER_TIMEOUT_SECONDS, never in a hung worker or a 500. HTTP client libraries bound each
socket read, not the exchange (and `requests` reads a redirect's whole body by itself), so this
uses the standard library's http.client with a watchdog that shuts the socket at the deadline.
TLS certificates are verified against the system's CA store (SSL_CERT_FILE overrides it).
"""

import base64
import http.client
import ipaddress
import socket
import ssl
import threading
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlencode, urlsplit

import orjson
from django.conf import settings

from tokensvc.providers.errors import ProviderUnavailable

MAX_RESPONSE_BYTES = 512 * 1024
USER_AGENT = "tokensvc"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """Why this URL may not be called, or None: https, or http to a loopback host when allowed."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return "not a URL"
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        return "not an absolute URL without credentials or fragment"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and settings.PROVIDER_ALLOW_LOOPBACK_HTTP and _is_loopback(parts.hostname):
        return None
    return "not an https URL"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict | list | str | int | float | None  # None when the body is not JSON

    @property
    def json_object(self) -> dict | None:
        return self.body if isinstance(self.body, dict) else None


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


class _Watchdog:
    """Shuts the connection's socket at the deadline, whatever the call is waiting for."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float):
        self.connection = connection
        self.sock: socket.socket | None = None
        self.fired = False
        self.lock = threading.Lock()
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True

    def watch(self) -> None:
        # Kept here: http.client lets go of `connection.sock` once it has an answer that ends
        # with the connection, while the answer is still read from that socket.
        with self.lock:
            self.sock = self.connection.sock
            if self.fired:  # the deadline passed while connecting
                self._shut()

    def _fire(self) -> None:
        with self.lock:
            self.fired = True
            self._shut()

    def _shut(self) -> None:
        if self.sock is not None:
            with suppress(OSError):  # already closed: nothing left to stop
                self.sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.timer.cancel()


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=_tls())
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    return connection, target


def _read(response: http.client.HTTPResponse, url: str) -> bytes:
    encoding = response.getheader("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # We ask for none; a compressed answer could inflate past any limit.
        raise ProviderUnavailable(
            f"{url[:100]}: answer encoded as {encoding[:20]!r}, which was not asked for"
        )
    body = bytearray()
    while chunk := response.read1(16 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise ProviderUnavailable(f"{url[:100]}: answer larger than {MAX_RESPONSE_BYTES} bytes")
    return bytes(body)


def call(method: str, url: str, *, data: dict | None = None, auth: tuple[str, str] | None = None) -> Answer:
    """One request to a provider, its status and parsed JSON body; ProviderUnavailable otherwise."""
    problem = url_problem(url)
    if problem:
        raise ProviderUnavailable(f"refusing to call {url[:100]}: {problem}")
    timeout = settings.PROVIDER_TIMEOUT_SECONDS
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, "Connection": "close"}
    body = None
    if data is not None:
        body = urlencode(data).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    connection, target = _connection(url, timeout)
    watchdog = _Watchdog(connection, timeout)
    try:
        with watchdog:
            connection.connect()  # bounded by the timeout itself
            watchdog.watch()
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            status = response.status
            content = _read(response, url)
    except (OSError, http.client.HTTPException) as error:
        if watchdog.fired:
            raise ProviderUnavailable(f"{url[:100]}: no complete answer within {timeout} s") from None
        raise ProviderUnavailable(f"{url[:100]}: cannot be reached ({type(error).__name__})") from None
    finally:
        connection.close()
    if watchdog.fired:
        raise ProviderUnavailable(f"{url[:100]}: no complete answer within {timeout} s")
    try:
        parsed = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        parsed = None
    return Answer(status=status, body=parsed)
