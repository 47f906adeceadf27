"""Provider secrets at rest: sealed with the first configured key, readable with any listed one."""

import pytest
from cryptography.fernet import Fernet

from tokensvc.providers.secret_box import SecretUnreadable, _box, seal, unseal

SECRET = "s3cr3t-ÿ-introspection:secret"


def new_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def use_keys(settings):
    """Configure PROVIDER_SECRET_KEYS; the box is built once per process, so forget it each time."""

    def use(*keys: str) -> None:
        settings.PROVIDER_SECRET_KEYS = list(keys)
        _box.cache_clear()

    _box.cache_clear()
    yield use
    _box.cache_clear()


@pytest.mark.parametrize("secret", [SECRET, "", "x" * 10_000, "🔑 ключ"])
def test_seal_then_unseal_gives_the_secret_back(use_keys, secret):
    use_keys(new_key())

    sealed = seal(secret)

    assert unseal(sealed) == secret
    assert secret == "" or secret not in sealed


def test_sealing_twice_gives_different_ciphertexts(use_keys):
    use_keys(new_key())

    assert seal(SECRET) != seal(SECRET)


def test_a_secret_sealed_under_other_keys_is_unreadable(use_keys):
    use_keys(new_key())
    sealed = seal(SECRET)

    use_keys(new_key(), new_key())

    with pytest.raises(SecretUnreadable):
        unseal(sealed)


def test_rotation_a_secret_sealed_with_the_old_key_still_unseals(use_keys):
    old, new = new_key(), new_key()
    use_keys(old)
    sealed_before = seal(SECRET)

    use_keys(new, old)

    assert unseal(sealed_before) == SECRET


def test_rotation_new_secrets_are_sealed_with_the_first_key(use_keys):
    old, new = new_key(), new_key()
    use_keys(new, old)
    sealed_after = seal(SECRET)

    use_keys(new)
    assert unseal(sealed_after) == SECRET

    use_keys(old)
    with pytest.raises(SecretUnreadable):
        unseal(sealed_after)


def test_without_keys_the_box_derives_one_from_secret_key(use_keys, settings):
    use_keys()
    sealed = seal(SECRET)
    assert unseal(sealed) == SECRET

    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    use_keys()

    with pytest.raises(SecretUnreadable):
        unseal(sealed)


@pytest.mark.parametrize("sealed", ["", "not a fernet token", "gAAAAAB" + "A" * 100, "ключ"])
def test_garbage_is_unreadable(use_keys, sealed):
    use_keys(new_key())

    with pytest.raises(SecretUnreadable):
        unseal(sealed)


def test_a_tampered_ciphertext_is_unreadable(use_keys):
    use_keys(new_key())
    sealed = seal(SECRET)
    flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]

    with pytest.raises(SecretUnreadable):
        unseal(flipped)
