"""URL map of the token service."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from claims import urls as api_urls
from claims.admin_policy import policy_matrix_view
from tokensvc import views
from tokensvc.authorization import AuthorizationView

admin.site.site_header = "Token service: security administration"
admin.site.site_title = "Token service admin"
admin.site.index_title = "Policy, clients, tokens and audit trail"

# Under DOT's namespace, so that its views (authorization, metadata) find their siblings.
oauth_patterns = [
    path("oauth/token/", views.TokenView.as_view(), name="token"),
    path("oauth/introspect/", views.IntrospectView.as_view(), name="introspect"),
    path("oauth/revoke/", views.RevokeView.as_view(), name="revoke-token"),
    path("oauth/authorize/", AuthorizationView.as_view(), name="authorize"),
    path(
        ".well-known/oauth-authorization-server", views.MetadataView.as_view(), name="oauth-server-metadata"
    ),
]

# The busiest routes first: the resolver tries patterns in order, and the OAuth routes sit
# under an empty prefix that every path would otherwise descend into. The API's own routes
# carry their prefix (claims.urls), so that trying them costs no exception.
urlpatterns = [
    *api_urls.urlpatterns,
    path("", include((oauth_patterns, "oauth2_provider"))),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/policy-matrix/", admin.site.admin_view(policy_matrix_view), name="policy-matrix"),
    path("admin/", admin.site.urls),
]

handler400 = "tokensvc.error_pages.bad_request"
handler404 = "tokensvc.error_pages.not_found"
handler500 = "tokensvc.error_pages.server_error"
