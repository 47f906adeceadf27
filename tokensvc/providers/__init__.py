"""External credential providers: OAuth servers whose clients and tokens our policy governs.

The built-in provider is django-oauth-toolkit itself (tokensvc.oauth); this package reads an
external provider's metadata and keys, forwards its clients' token requests, verifies its
access tokens, and trades them for ours (RFC 8693).
"""
