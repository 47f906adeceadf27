"""The OAuth endpoints: thin wrappers that check the raw request, let DOT/oauthlib run the
protocol (or our introspection), shape the answer and record one audit event."""

import orjson
from django.http import HttpRequest, HttpResponse
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot_views

from accounts.authentication import (
    API_KEY_META,
    ClientRefused,
    PresentedCredentials,
    client_find,
    is_external,
)
from accounts.models import AuditEvent
from accounts.throttling import TooManyFailures
from tokensvc import client_credentials, token_exchange
from tokensvc.attempts import attempt_context, attempt_record, current_attempt
from tokensvc.client_authentication import decided_from_kept_rows, request_credentials
from tokensvc.errors import (
    INVALID_CLIENT_DESCRIPTION,
    NO_STORE_HEADERS,
    OAuthError,
    OAuthErrorCode,
    error_response,
    json_response,
)
from tokensvc.form_request import form_params
from tokensvc.forwarded_grant import forwarded_token
from tokensvc.introspection import introspect
from tokensvc.resource_server import resource_server_authenticate

SENSITIVE_PARAMETERS = ("client_secret", "code", "code_verifier", "refresh_token", "token", "password")

Action = AuditEvent.Action

# oauthlib leaves most errors without a description; RFC 6749 §5.2 wants a readable one.
DEFAULT_DESCRIPTIONS = {
    OAuthErrorCode.INVALID_CLIENT: INVALID_CLIENT_DESCRIPTION,
    OAuthErrorCode.INVALID_SCOPE: "The requested scope is unknown or not allowed for this client's role.",
    OAuthErrorCode.INVALID_GRANT: "The grant (code or refresh token) is invalid, expired or revoked.",
    OAuthErrorCode.UNAUTHORIZED_CLIENT: "This client may not use this grant type.",
    OAuthErrorCode.UNSUPPORTED_GRANT_TYPE: "The grant type is not supported.",
    OAuthErrorCode.UNSUPPORTED_TOKEN_TYPE: "The token type is not supported.",
    OAuthErrorCode.INVALID_REQUEST: "The request is missing a parameter or is malformed.",
}


def _method_not_allowed(*args, **kwargs) -> HttpResponse:
    response = json_response(
        {"error": OAuthErrorCode.INVALID_REQUEST, "error_description": "Use POST."}, status=405
    )
    response["Allow"] = "POST"
    return response


def _from_oauthlib(headers: dict, body: str | None, status: int) -> tuple[HttpResponse, str]:
    """oauthlib's answer as our response, and its error code ('' on success)."""
    response = HttpResponse(body or "", status=status, content_type="application/json")
    for name, value in headers.items():
        if name.lower() not in ("www-authenticate", "content-type"):
            response[name] = value
    for name, value in NO_STORE_HEADERS.items():
        response[name] = value
    error = ""
    if status >= 400:
        payload = orjson.loads(body) if body else {}
        error = payload.get("error", OAuthErrorCode.INVALID_REQUEST)
        payload.setdefault("error_description", DEFAULT_DESCRIPTIONS.get(error, "The request was refused."))
        response.content = orjson.dumps({"error": error, "error_description": payload["error_description"]})
        if status == 401:
            response["WWW-Authenticate"] = json_response({}, status=401)["WWW-Authenticate"]
    return response, error


def too_many_failures(error: TooManyFailures) -> HttpResponse:
    response = json_response(
        {
            "error": OAuthErrorCode.TEMPORARILY_UNAVAILABLE,
            "error_description": "Too many failed client authentications; retry later.",
        },
        status=429,
    )
    response["Retry-After"] = str(error.retry_after)
    return response


class _FormEndpoint:
    """What the three POST endpoints share: method, CSRF, secrets kept out of error reports."""

    http_method_names = ["post", "options"]
    http_method_not_allowed = staticmethod(_method_not_allowed)

    @classmethod
    def as_view(cls, **initkwargs):
        # Exempted once, on the view function: method_decorator would rebuild its wrappers on
        # every request, a cost these endpoints felt.
        return csrf_exempt(super().as_view(**initkwargs))

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # What @sensitive_post_parameters does: error reports never show these values.
        request.sensitive_post_parameters = SENSITIVE_PARAMETERS
        # Django's plain dispatch: DOT's views wrap theirs in csrf_exempt and login_not_required
        # through method_decorator, rebuilt on every call; the exemption is on our view function.
        return View.dispatch(self, request, *args, **kwargs)


class _OAuthlibEndpoint(_FormEndpoint):
    """An endpoint oauthlib runs: our body checks first, one audit event per request after."""

    success_action: AuditEvent.Action
    refused_action: AuditEvent.Action

    def _answer(self, request: HttpRequest, params: dict[str, str]) -> tuple[str, dict, bytes | str, int]:
        """oauthlib's (uri, headers, body, status) for the request; `params` is its checked form."""
        raise NotImplementedError

    def _respond(self, request: HttpRequest) -> HttpResponse:
        with attempt_context() as attempt:
            try:
                params = form_params(request)
            except OAuthError as error:
                attempt.refuse(error.reason)
                attempt_record(attempt, request, action=self.refused_action, error=error.code)
                return error_response(error)
            attempt.requested_scope = params.get("scope", "")[:500]
            try:
                _uri, headers, body, status = self._answer(request, params)
            except TooManyFailures as limited:
                attempt.refuse("too many failed authentications")
                attempt_record(attempt, request, action=self.refused_action, error="rate_limited")
                return too_many_failures(limited)
            except OAuthError as error:  # from our own grants (external providers, exchange)
                attempt.refuse(error.reason)
                attempt_record(attempt, request, action=self.refused_action, error=error.code)
                return error_response(error)
            response, error = _from_oauthlib(headers, body, status)
            if not attempt.recorded:
                action = self.refused_action if error else self.success_action
                attempt_record(attempt, request, action=action, error=error)
            return response


def _as_oauthlib_answer(token: dict) -> tuple[str, dict, bytes, int]:
    return "", {}, orjson.dumps(token), 200


class TokenView(_OAuthlibEndpoint, dot_views.TokenView):
    """POST /oauth/token/: client_credentials, authorization_code (PKCE), refresh_token, and
    token exchange (RFC 8693). DOT runs the grants of our own clients; a client of an external
    provider and token exchange have grants of their own (forwarded_grant, token_exchange)."""

    success_action, refused_action = Action.TOKEN_ISSUED, Action.TOKEN_REFUSED

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self._respond(request)

    def _answer(self, request: HttpRequest, params: dict[str, str]):
        grant_type = params.get("grant_type")
        if grant_type == token_exchange.GRANT_TYPE:
            return _as_oauthlib_answer(token_exchange.exchanged_token(request, params))
        if grant_type == "client_credentials":
            presented = _presented(request, params)
            if presented is not None:
                if client_credentials.handles(params):
                    answer = _issued_by_kept_client(request, params, presented)
                    if answer is not None:
                        return _as_oauthlib_answer(answer)
                client = client_find(presented.client_id, api_key=request.META.get(API_KEY_META))
                if client is not None and is_external(client):
                    return _as_oauthlib_answer(forwarded_token(request, params, presented, client))
                if client_credentials.handles(params):
                    return _as_oauthlib_answer(
                        client_credentials.issued_token(request, params, presented, client)
                    )
                # Handed on to our validator, so the client row is still read once.
                current_attempt().found_client = client
        return self.create_token_response(request)


def _issued_by_kept_client(
    request: HttpRequest, params: dict[str, str], presented: PresentedCredentials
) -> dict | None:
    """The token response, if the client's rows kept from an earlier token decide it (see
    accounts.verified_clients); None to decide it from the database, the attempt untouched."""
    return decided_from_kept_rows(
        request,
        presented,
        lambda kept: client_credentials.issued_token(request, params, presented, kept, kept=True),
    )


def _presented(request: HttpRequest, params: dict[str, str]) -> PresentedCredentials | None:
    """The client authentication of the request; None when malformed, left to DOT to refuse."""
    try:
        return request_credentials(request, params)
    except ClientRefused:
        return None


class RevokeView(_OAuthlibEndpoint, dot_views.RevokeTokenView):
    """POST /oauth/revoke/ (RFC 7009): the client's own access or refresh tokens."""

    success_action, refused_action = Action.TOKEN_REVOKED, Action.REVOCATION_REFUSED

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self._respond(request)

    def _answer(self, request: HttpRequest, params: dict[str, str]):
        return self.create_revocation_response(request)


class IntrospectView(_FormEndpoint, View):
    """POST /oauth/introspect/ (RFC 7662), for clients marked as resource servers only."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        with attempt_context() as attempt:
            try:
                params = form_params(request)
                token, hint = params.get("token"), params.get("token_type_hint")
                # The access token is read by the statement that finds (or checks) the resource
                # server: one round trip for both. Nothing is done with it unless the server
                # proves who it is.
                read_along = token if token and hint != "refresh_token" else None
                _, token_rows = resource_server_authenticate(request, params, attempt, read_along)
                if not token:
                    raise OAuthError(OAuthErrorCode.INVALID_REQUEST, "The token parameter is missing.")
            except OAuthError as error:
                attempt.refuse(error.reason)
                attempt_record(attempt, request, action=Action.INTROSPECTION_REFUSED, error=error.code)
                return error_response(error)
            except TooManyFailures as limited:
                attempt.refuse("too many failed authentications")
                attempt_record(attempt, request, action=Action.INTROSPECTION_REFUSED, error="rate_limited")
                return too_many_failures(limited)
            answer = introspect(token, hint=hint, access_token_rows=token_rows)
            attempt.granted_scope = answer.get("scope", "")
            attempt_record(attempt, request, action=Action.TOKEN_INTROSPECTED, later=True)
            return json_response(answer)


class MetadataView(dot_views.OAuthServerMetadataView):
    """GET /.well-known/oauth-authorization-server (RFC 8414)."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        data = orjson.loads(response.content)
        # Public browser apps authenticate with their client_id alone at the token endpoint (PKCE
        # proves the code) and at revocation (RFC 7009 §2.1: their own tokens); introspection is
        # for confidential resource servers only.
        public_too = ["client_secret_basic", "client_secret_post", "none"]
        data["token_endpoint_auth_methods_supported"] = public_too
        data["revocation_endpoint_auth_methods_supported"] = public_too
        data["service_documentation"] = request.build_absolute_uri("/api/docs/")
        response.content = orjson.dumps(data)
        return response
