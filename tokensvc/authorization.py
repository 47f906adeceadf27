"""The authorization endpoint (authorization code + PKCE) for people."""

from urllib.parse import parse_qs, urlsplit

from django.http import HttpResponse
from oauth2_provider import views as dot_views
from oauth2_provider.oauth2_backends import _add_iss_to_redirect
from oauth2_provider.settings import oauth2_settings


class AuthorizationView(dot_views.AuthorizationView):
    """DOT's view, with the RFC 9207 `iss` on error redirects too.

    The metadata advertises `authorization_response_iss_parameter_supported`, which RFC 9207
    §2 applies to error responses as well; DOT adds `iss` to successful redirects only.
    """

    def redirect(self, redirect_to: str, application) -> HttpResponse:
        if "iss" not in parse_qs(urlsplit(redirect_to).query):
            issuer = oauth2_settings.oauth2_authorization_server_issuer(self.request)
            redirect_to = _add_iss_to_redirect(redirect_to, issuer)
        return super().redirect(redirect_to, application)
