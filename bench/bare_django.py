"""A bare Django project in one module, the reference the benchmark also reports against: no
apps, no middleware, no database, one view answering `JsonResponse({"ok": True})`.

    gunicorn --config gunicorn.conf.py bench.bare_django:application

The service's own floor (`/bench/floor/`) is the same view inside the service, behind the
middleware every endpoint passes; this one shows what that middleware and the project cost.
"""

import secrets

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY=secrets.token_urlsafe(48),
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)


def floor(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/floor/", floor)]

application = get_wsgi_application()
