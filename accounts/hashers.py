"""A Django password hasher for client secrets: keyed HMAC-SHA256 instead of PBKDF2."""

from django.contrib.auth.hashers import BasePasswordHasher, check_password, mask_hash
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_noop as _

from accounts.credentials import keyed_hash


class KeyedSecretHasher(BasePasswordHasher):
    """For server-generated 256-bit secrets only, never for passwords people choose.

    Such a secret cannot be guessed, so a slow hash adds nothing but cost (and a CPU lever for
    anyone sending wrong secrets); the server-side key keeps a leaked hash from being checked
    offline, and the stored value, sent back as a secret, never matches itself.
    """

    algorithm = "keyed_sha256"

    def encode(self, password: str, salt: str) -> str:
        self._check_encode_args(password, salt)
        return f"{self.algorithm}${salt}${keyed_hash(password, salt=salt)}"

    def decode(self, encoded: str) -> dict:
        algorithm, salt, digest = encoded.split("$", 2)
        if algorithm != self.algorithm:
            raise ValueError(f"not a {self.algorithm} hash")
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict:
        decoded = self.decode(encoded)
        return {
            _("algorithm"): decoded["algorithm"],
            _("salt"): mask_hash(decoded["salt"]),
            _("hash"): mask_hash(decoded["hash"]),
        }

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass


_KEYED = KeyedSecretHasher()
_KEYED_PREFIX = f"{KeyedSecretHasher.algorithm}$"


def is_keyed(encoded: str) -> bool:
    """Whether a stored secret is a keyed hash: checked in microseconds, unlike PBKDF2 and the
    other hashers Django may have stored older secrets with."""
    return encoded.startswith(_KEYED_PREFIX)


def secret_matches(secret: str, encoded: str) -> bool:
    """`check_password` for client secrets. A keyed hash is checked by its hasher directly:
    Django's dispatch (finding the hasher by name, weighing it against the preferred one for
    an upgrade nobody asked for here) cost as much as the hash itself, on every token. Any
    other stored form goes through Django."""
    if is_keyed(encoded):
        return _KEYED.verify(secret, encoded)
    return check_password(secret, encoded)
