"""URL map of the token service."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from oauth2_provider import views as dot_views

from tokensvc import views

admin.site.site_header = "Token service administration"
admin.site.site_title = "Token service"
admin.site.index_title = "Policy, clients and tokens"

# Under DOT's namespace, so that its views (authorization, metadata) find their siblings.
oauth_patterns = [
    path("oauth/authorize/", dot_views.AuthorizationView.as_view(), name="authorize"),
    path("oauth/token/", views.TokenView.as_view(), name="token"),
    path("oauth/revoke/", views.RevokeView.as_view(), name="revoke-token"),
    path("oauth/introspect/", views.IntrospectView.as_view(), name="introspect"),
    path(
        ".well-known/oauth-authorization-server", views.MetadataView.as_view(), name="oauth-server-metadata"
    ),
]

urlpatterns = [
    path("", include((oauth_patterns, "oauth2_provider"))),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
