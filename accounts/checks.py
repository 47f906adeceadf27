"""System check: locked-out sign-ins are answered by django-axes' middleware.

django-axes looks for its middleware by its dotted path (axes.W002). This project installs a
subclass that steps aside on the machine endpoints (tokensvc.middleware.AxesMiddleware), so
that check is silenced in settings and this one, which accepts any subclass, takes its place.
"""

from axes.middleware import AxesMiddleware
from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string


def _is_axes_middleware(path: str) -> bool:
    try:
        middleware = import_string(path)
    except ImportError:
        return False  # Django's own start-up names a middleware that cannot be imported
    return isinstance(middleware, type) and issubclass(middleware, AxesMiddleware)


@checks.register(checks.Tags.security)
def check_axes_middleware_installed(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if any(_is_axes_middleware(path) for path in settings.MIDDLEWARE):
        return []
    return [
        checks.Warning(
            "No django-axes middleware in MIDDLEWARE: a locked-out sign-in gets the sign-in form "
            "again instead of the lockout answer (429).",
            hint="Add 'tokensvc.middleware.AxesMiddleware' (or axes' own) last in MIDDLEWARE.",
            id="accounts.W001",
        )
    ]
