"""Encryption at rest of the secrets this service must present to providers (introspection).

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with keys from PROVIDER_SECRET_KEYS;
MultiFernet decrypts with any listed key and encrypts with the first, so keys can be rotated.
"""

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored secret was encrypted with a key that is no longer configured."""


def _derived_key() -> bytes:
    # Without a dedicated key, one derived from SECRET_KEY for this purpose only.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tokensvc provider secrets")
    return base64.urlsafe_b64encode(hkdf.derive(settings.SECRET_KEY.encode()))


@cache
def _box() -> MultiFernet:
    keys = settings.PROVIDER_SECRET_KEYS or [_derived_key()]
    return MultiFernet([Fernet(key) for key in keys])


def seal(secret: str) -> str:
    return _box().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _box().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the provider secret cannot be decrypted with the configured keys") from None
