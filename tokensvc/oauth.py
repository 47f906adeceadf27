"""django-oauth-toolkit glue: the scopes backend that reads the role -> scope policy."""

from oauth2_provider.scopes import BaseScopes

from claims.models import Scope
from claims.selectors import policy_get


class RoleScopes(BaseScopes):
    """Scopes come from the database; a client may only have the scopes of its role.

    DOT's default backend offers every scope in settings to every client; here the
    available and the default scopes are both those of the client's role.
    """

    def get_all_scopes(self) -> dict[str, str]:
        return dict(Scope.objects.values_list("name", "description"))

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        role = application.role.name if application is not None else None
        return sorted(policy_get().role_scopes(role))

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return self.get_available_scopes(application, request, *args, **kwargs)
