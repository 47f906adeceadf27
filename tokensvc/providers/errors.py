"""What can go wrong with an external provider, as the callers must tell it apart."""


class ProviderUnavailable(Exception):
    """The provider could not be asked: down, slow, or an answer that is not well-formed.

    Answered `503 temporarily_unavailable`: the caller may retry; nothing was decided.
    """

    def __init__(self, reason: str, provider_pk: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.provider_pk = provider_pk  # which provider, when the caller knows it


class ProviderRefused(Exception):
    """The provider answered, and its answer is no (wrong secret, unknown client, ...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TokenRejected(Exception):
    """An external token failed verification; `reason` is for the audit trail only."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
