"""Content negotiation for the API: DRF's, answered at once when the client takes anything."""

from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        # What most clients send: no Accept header (DRF reads it as `*/*`) or `*/*`. Both get
        # the first renderer and its media type, exactly as DRF's negotiation decides, without
        # parsing and ranking an Accept list. An empty header is not one of them: DRF refuses it.
        # Without a query string there is no `?format=` to look for, and no QueryDict to build.
        accept = request.META.get("HTTP_ACCEPT")
        if (
            (accept is None or accept.strip() == "*/*")
            and not format_suffix
            and (not request.META.get("QUERY_STRING") or self.settings.URL_FORMAT_OVERRIDE not in request.GET)
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
