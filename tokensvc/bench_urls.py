"""URL map for benchmarks: the product's URLs plus a bare JSON view that sets the floor.

Used only by `bench/settings.py` (ROOT_URLCONF); production never loads it.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from tokensvc import urls as product_urls


def floor(request: HttpRequest) -> JsonResponse:
    """The cheapest Django answer through the same middleware: what every endpoint is compared to."""
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/floor/", floor), *product_urls.urlpatterns]

handler400 = product_urls.handler400
handler404 = product_urls.handler404
handler500 = product_urls.handler500
