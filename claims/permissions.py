"""Permission classes of the customer API: each answers one yes/no question about the grant."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from claims.authentication import Caller
from claims.exceptions import InsufficientScope


class HasClaimAccess(BasePermission):
    """A token must be present, and reading needs at least one readable claim.

    Writes are judged claim by claim in the view, so that a refusal can name the claims
    (`forbidden_claims`) the token may not write.
    """

    def has_permission(self, request, view) -> bool:
        caller = request.auth
        if not isinstance(caller, Caller):
            return False
        if request.method in SAFE_METHODS and not caller.grant.readable:
            raise InsufficientScope("The token's scopes grant no readable claim.")
        return True
