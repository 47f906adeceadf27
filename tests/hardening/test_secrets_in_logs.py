"""With DEBUG logging on (as LOG_LEVEL=DEBUG gives it), no secret, key, token or Authorization
value reaches a log record. oauthlib keeps the WARNING level the settings pin it to: it logs whole
token responses at DEBUG, which is exactly why the settings pin it."""

import base64
import logging

import pytest

FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.mark.django_db
def test_token_introspection_revocation_and_api_log_no_secret(client, make_client, caplog):
    integration = make_client("admin")
    gateway = make_client("viewer", is_resource_server=True)
    mine = basic(integration.client.client_id, integration.client_secret)
    theirs = basic(gateway.client.client_id, gateway.client_secret)
    wrong = basic(integration.client.client_id, "wrong-secret-value")

    def post(url, body, authorization, api_key):
        return client.post(
            url, body, content_type=FORM, HTTP_AUTHORIZATION=authorization, HTTP_X_API_KEY=api_key
        )

    with caplog.at_level(logging.DEBUG):
        for name in (
            "oauth2_provider",
            "django",
            "django.request",
            "accounts",
            "claims",
            "tokensvc",
        ):
            logging.getLogger(name).setLevel(logging.NOTSET)  # let everything through to caplog
        token = post("/oauth/token/", "grant_type=client_credentials", mine, integration.api_key).json()[
            "access_token"
        ]
        post("/oauth/token/", "grant_type=client_credentials", wrong, integration.api_key)
        post("/oauth/token/", "grant_type=client_credentials", mine, "wrong-api-key-value")
        post(
            "/oauth/token/",
            f"grant_type=client_credentials&client_secret={integration.client_secret}",
            mine,
            "",
        )
        post("/oauth/introspect/", f"token={token}", theirs, gateway.api_key)
        post("/oauth/introspect/", f"token={token}", mine, integration.api_key)  # not a resource server
        client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Bearer {token}")
        client.get("/api/v1/customers/", HTTP_AUTHORIZATION="Bearer made-up-token-value")
        post("/oauth/revoke/", f"token={token}", mine, integration.api_key)
        client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Bearer {token}")
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {getattr(r, 'request', '')!r}" for r in caplog.records)
    assert caplog.records, "the calls above log something (refusals at least)"
    secrets_ = [
        integration.client_secret,
        gateway.client_secret,
        integration.api_key,
        gateway.api_key,
        token,
        "wrong-secret-value",
        "wrong-api-key-value",
        "made-up-token-value",
        mine.split()[1],
        theirs.split()[1],
        wrong.split()[1],
    ]
    for secret in secrets_:
        assert secret not in logged


def test_oauthlib_stays_at_warning_even_with_log_level_debug():
    import subprocess
    import sys

    from django.conf import settings

    script = "import logging; print(logging.getLogger('oauthlib.oauth2').getEffectiveLevel())"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", script],
        cwd=settings.BASE_DIR,
        env={"DEBUG": "true", "LOG_LEVEL": "DEBUG", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(result.stdout.strip()) == logging.WARNING
