"""Generation and keyed hashing of the server-made secrets: client secrets and API keys."""

import hashlib
import hmac
import secrets

from django.conf import settings

# 32 random bytes: the 256 bits of entropy that make a fast keyed hash as safe as a slow one.
SECRET_BYTES = 32
API_KEY_PREFIX_BYTES = 6


def new_secret() -> str:
    """A fresh client secret from the operating system's CSPRNG (43 URL-safe characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def new_api_key() -> tuple[str, str]:
    """A fresh API key and its public prefix, e.g. ('tk_3Fh2...', 'tk_3Fh2x9Qa')."""
    prefix = "tk_" + secrets.token_urlsafe(API_KEY_PREFIX_BYTES)
    return f"{prefix}.{secrets.token_urlsafe(SECRET_BYTES)}", prefix


def keyed_hash(value: str, *, salt: str = "") -> str:
    """HMAC-SHA256 of a secret under the server's credential key, as hex."""
    key = settings.CREDENTIAL_HASH_KEY.encode()
    return hmac.new(key, f"{salt}${value}".encode(), hashlib.sha256).hexdigest()
