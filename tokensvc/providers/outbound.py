"""Calls to a provider: https only, no redirects, a deadline on the whole exchange, a size cap.

A provider is outside our control; whatever it does (hang, drip bytes, answer megabytes of
garbage, redirect elsewhere) must end in `ProviderUnavailable` within PROVIDER_TIMEOUT_SECONDS,
never in a hung worker or a 500.
"""

import ipaddress
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
import requests
import urllib3
from django.conf import settings

from tokensvc.providers.errors import ProviderUnavailable

MAX_RESPONSE_BYTES = 512 * 1024
USER_AGENT = "tokensvc"

_local = threading.local()


def _session() -> requests.Session:
    # One pooled session per thread: requests sessions are not documented as thread-safe.
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.trust_env = False  # no proxy or .netrc credentials picked up from the host
    return session


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
    body: dict | list | None  # None when the body is not JSON

    @property
    def json_object(self) -> dict | None:
        return self.body if isinstance(self.body, dict) else None


def call(method: str, url: str, *, data: dict | None = None, auth: tuple[str, str] | None = None) -> Answer:
    """One request to a provider, its status and parsed JSON body; ProviderUnavailable otherwise."""
    problem = url_problem(url)
    if problem:
        raise ProviderUnavailable(f"refusing to call {url[:100]}: {problem}")
    timeout = settings.PROVIDER_TIMEOUT_SECONDS
    deadline = time.monotonic() + timeout
    try:
        with _session().request(
            method,
            url,
            data=data,
            auth=auth,
            headers={"Accept": "application/json"},
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        ) as response:
            body = bytearray()
            # read1: at most one socket read per chunk, each bounded by the read timeout, so a
            # provider dripping bytes is cut off at the deadline (within one more timeout).
            while chunk := response.raw.read1(16 * 1024, decode_content=True):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise ProviderUnavailable(f"{url[:100]}: answer larger than {MAX_RESPONSE_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise ProviderUnavailable(f"{url[:100]}: answer took longer than {timeout} s")
            status = response.status_code
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise ProviderUnavailable(f"{url[:100]}: {type(error).__name__}") from None
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    return Answer(status=status, body=parsed)
