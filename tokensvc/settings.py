"""Django settings for the token service: every environment variable the project reads is read here."""

import base64
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _positive_int(name: str, default: int) -> int:
    """Read a whole number of seconds (or a count) that must be at least 1."""
    raw = env.str(name, default=str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be at least 1, got {value}")
    return value


def _seconds_between(name: str, default: float, low: float, high: float) -> float:
    """Read a number of seconds (fractions allowed) from low to high."""
    raw = env.str(name, default=str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {raw!r}") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name} must be from {low} to {high} seconds, got {raw!r}")
    return value


# ---------------------------------------------------------------- core
DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off (set SECRET_KEY, or DEBUG=true for development)"
        )
    # Only ever used with DEBUG on, on a developer's machine.
    SECRET_KEY = "development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Keyed hash for client secrets and API keys. Separate from SECRET_KEY so that rotating the
# session key does not invalidate every credential; derived from it when not given.
CREDENTIAL_HASH_KEY = env.str("CREDENTIAL_HASH_KEY", default="") or f"credentials:{SECRET_KEY}"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "oauth2_provider",
    "django_countries",
    "auditlog",
    "axes",
    "accounts",
    "claims",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tokensvc.middleware.DatabaseUnavailableMiddleware",
    # Sessions, sign-in, messages and the audit actor serve people in a browser; the token
    # endpoints and the API (MACHINE_PATH_PREFIXES) skip them.
    "tokensvc.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "tokensvc.middleware.AuthenticationMiddleware",
    "tokensvc.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Who changed what in the admin: the signed-in officer becomes the audit entry's actor.
    "tokensvc.middleware.OfficerAuditlogMiddleware",
    # Answers locked-out logins (admin and the people's sign-in page); keep it last.
    "axes.middleware.AxesMiddleware",
]
# Endpoints called by machines with bearer tokens or client credentials, never by a signed-in
# person: the people's middleware above steps aside there. The API's is claims.urls.API_PREFIX.
MACHINE_PATH_PREFIXES = ("/oauth/token/", "/oauth/revoke/", "/oauth/introspect/", "/api/v1/")

ROOT_URLCONF = "tokensvc.urls"
WSGI_APPLICATION = "tokensvc.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ---------------------------------------------------------------- transport security
# Production runs behind TLS: HTTPS only, HSTS, cookies never sent in clear. Behind a proxy that
# terminates TLS, set TRUST_X_FORWARDED_PROTO so Django knows the original scheme.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# ---------------------------------------------------------------- database
_database_url = env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
if not _database_url.strip():
    raise ImproperlyConfigured(
        "DATABASE_URL is empty: unset it (SQLite) or name a database, e.g. postgres://user@host/name"
    )
DATABASES = {"default": environ.Env.db_url_config(_database_url)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so
    # concurrent writers queue instead of failing with "database is locked" mid-transaction.
    # A token dirties about 14 pages (two rows, their indexes); checkpointing the WAL back into
    # the database every 1,000 pages (SQLite's default) copied most of them again every 70
    # tokens. Every 10,000 pages (at most 40 MiB of WAL) a page changed many times meanwhile
    # is copied once: a sixth less CPU per token.
    # The database file is read through a memory map (up to 256 MiB): after another thread's
    # write empties a connection's page cache, its pages come back without a read() call and a
    # copy each; about a tenth less CPU per token under gunicorn's threads.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
            " PRAGMA wal_autocheckpoint=10000; PRAGMA mmap_size=268435456;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
# Persistent connections: opening one (and, on SQLite, setting its pragmas) costs more than most
# requests of this service.
DATABASES["default"]["CONN_MAX_AGE"] = _positive_int("DATABASE_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with a health check that polls the socket instead of a `SELECT 1`
    # round trip on every request (tokensvc/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "tokensvc.postgresql"
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # An unreachable database must fail fast (then 503), never hang a worker.
    options.setdefault("connect_timeout", 3)
    # Prepared statements: a statement run a few times on a connection is parsed and planned
    # once, not on every request (planning the bearer-token lookup's joins took five times as
    # long as running it). They need server-side parameter binding. Behind a pooler in
    # transaction mode that cannot keep them (PgBouncer before 1.21), turn them off.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        options.setdefault("server_side_binding", True)
        options.setdefault("prepare_threshold", 2)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------- cache
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's backend, without building a Redis client per call (tokensvc/redis_cache.py).
            "BACKEND": "tokensvc.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tokensvc",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# ---------------------------------------------------------------- auth
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"

AUTHENTICATION_BACKENDS = [
    # Refuses password logins for a locked-out username and address before checking anything.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

PASSWORD_HASHERS = [
    # People's passwords: the slow default.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    # Client secrets only (CLIENT_SECRET_HASHER below): they are 256-bit random values, so a
    # keyed fast hash is as safe as a slow one and costs microseconds on the token endpoint.
    "accounts.hashers.KeyedSecretHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ---------------------------------------------------------------- OAuth2 (django-oauth-toolkit)
ACCESS_TOKEN_LIFETIME = _positive_int("ACCESS_TOKEN_LIFETIME", 3600)
REFRESH_TOKEN_LIFETIME = _positive_int("REFRESH_TOKEN_LIFETIME", 14 * 24 * 3600)

# The issuer URL published in the metadata; derived from each request when not set.
ISSUER_URL = env.str("ISSUER_URL", default="")

OAUTH2_PROVIDER_APPLICATION_MODEL = "accounts.Client"
OAUTH2_PROVIDER = {
    "OAUTH2_SERVER_CLASS": "tokensvc.oauth.OAuthServer",
    "OAUTH2_VALIDATOR_CLASS": "tokensvc.oauth.Validator",
    "OIDC_ISS_ENDPOINT": ISSUER_URL,
    "ACCESS_TOKEN_GENERATOR": "tokensvc.oauth.new_token",
    "REFRESH_TOKEN_GENERATOR": "tokensvc.oauth.new_token",
    "OAUTH2_GRANT_TYPES_SUPPORTED": [
        "authorization_code",
        "client_credentials",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_EXPIRE_SECONDS": REFRESH_TOKEN_LIFETIME,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "PKCE_REQUIRED": True,
    # Browser apps get their codes over TLS only (plain http for local development).
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"] if DEBUG else ["https"],
    "CLIENT_SECRET_HASHER": "keyed_sha256",
    "SCOPES_BACKEND_CLASS": "tokensvc.oauth.RoleScopes",
    # Every RFC 9700 switch on: no implicit or password grant, PKCE S256 only, tokens only
    # in headers, hashed token storage, exact redirect URIs, rotating refresh tokens.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}

# ---------------------------------------------------------------- external credential providers
# Every call to a provider (metadata, keys, token, introspection) ends within this many seconds.
PROVIDER_TIMEOUT_SECONDS = _positive_int("PROVIDER_TIMEOUT_SECONDS", 5)
# Keys are re-read this often, and on an unknown key id at most once per the minimum interval
# (per provider and process), so a flood of made-up key ids cannot hammer the provider.
PROVIDER_JWKS_MAX_AGE_SECONDS = _positive_int("PROVIDER_JWKS_MAX_AGE_SECONDS", 300)
PROVIDER_JWKS_MIN_REFRESH_SECONDS = _positive_int("PROVIDER_JWKS_MIN_REFRESH_SECONDS", 2)
# An opaque token's introspection answer is reused this long (never past the token's expiry).
PROVIDER_INTROSPECTION_CACHE_SECONDS = _positive_int("PROVIDER_INTROSPECTION_CACHE_SECONDS", 30)
# Accepted difference between our clock and the provider's for exp, nbf and iat.
PROVIDER_CLOCK_SKEW_SECONDS = _positive_int("PROVIDER_CLOCK_SKEW_SECONDS", 30)
# Providers are reached over https only; plain http is allowed for loopback addresses when set
# (a provider on the same host, tests).
PROVIDER_ALLOW_LOOPBACK_HTTP = env.bool("PROVIDER_ALLOW_LOOPBACK_HTTP", default=DEBUG)
# Fernet keys (comma-separated, newest first) that encrypt the secrets we hold for providers;
# older keys still decrypt, so keys can be rotated. Derived from SECRET_KEY when not set.
PROVIDER_SECRET_KEYS = env.list("PROVIDER_SECRET_KEYS", default=[])
for _key in PROVIDER_SECRET_KEYS:
    try:
        if len(base64.urlsafe_b64decode(_key.encode())) != 32:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(
            "PROVIDER_SECRET_KEYS: each key must be a Fernet key (32 bytes, URL-safe base64), e.g. from "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from None

# ---------------------------------------------------------------- customer-data API (DRF)
# Records are small; anything larger is refused with a JSON 413 before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

REST_FRAMEWORK = {
    # Header bearer tokens only (RFC 6750 §2.1); no session authentication, so a missing token
    # is a 401 with a Bearer challenge rather than a CSRF 403.
    "DEFAULT_AUTHENTICATION_CLASSES": ["claims.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["claims.permissions.HasClaimAccess"],
    "DEFAULT_RENDERER_CLASSES": ["claims.renderers.OrjsonRenderer"],
    "DEFAULT_PARSER_CLASSES": ["claims.parsers.StrictJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "claims.negotiation.ContentNegotiation",
    "EXCEPTION_HANDLER": "claims.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Customer-data API",
    "DESCRIPTION": (
        "Customer records filtered by the claims the bearer token's scopes grant. Get a token at "
        "/oauth/token/ (see /.well-known/oauth-authorization-server)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An access token."}
        }
    },
    "SECURITY": [{"bearerAuth": []}],
}

# ---------------------------------------------------------------- audit trail
# django-auditlog records what officers change in the admin.
AUDITLOG_STORE_JSON_CHANGES = True
# Events that record a read (introspection) are written in batches, at the latest this many
# seconds after their request; 0 writes each before its response. Changes and refusals are
# always written before the response.
AUDIT_BATCH_SECONDS = _seconds_between("AUDIT_BATCH_SECONDS", 1.0, 0, 60)
# SQLite: each process lets the WAL start over this often, or sooner when it grows long, and copies
# it into the database in between (tokensvc/wal_checkpoints.py).
SQLITE_CHECKPOINT_SECONDS = _seconds_between("SQLITE_CHECKPOINT_SECONDS", 1.0, 0, 60)

# ---------------------------------------------------------------- brute-force limits
# Failed client authentications allowed per window, per client_id and per source address.
AUTH_FAILURE_WINDOW = _positive_int("AUTH_FAILURE_WINDOW", 300)
AUTH_FAILURE_LIMIT_PER_CLIENT = _positive_int("AUTH_FAILURE_LIMIT_PER_CLIENT", 10)
AUTH_FAILURE_LIMIT_PER_ADDRESS = _positive_int("AUTH_FAILURE_LIMIT_PER_ADDRESS", 100)
# With Redis, kept clients skip reading their counters while each worker's watch says they are
# far from the limit (accounts/failure_watch.py). Off while any node still runs a version whose
# reservations do not publish (a rolling upgrade to this one): the watch would miss theirs.
AUTH_FAILURE_WATCH = env.bool("AUTH_FAILURE_WATCH", default=True)

# Password sign-in (admin and /accounts/login/): after 5 failures for one username from one
# address, a 15-minute cool-off; every failure and lockout is recorded (django-axes).
AXES_FAILURE_LIMIT = _positive_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(seconds=_positive_int("LOGIN_COOLOFF_SECONDS", 900))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_SENSITIVE_PARAMETERS = ["password"]
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False

# ---------------------------------------------------------------- i18n and static files
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# ---------------------------------------------------------------- logging
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # oauthlib logs request bodies (client secrets included) at DEBUG: never below WARNING.
    "loggers": {"oauthlib": {"level": "WARNING", "propagate": True}},
}
