"""The base of the API's views: DRF's APIView, leaving no reference cycle behind it."""

from rest_framework.request import Request
from rest_framework.views import APIView


class ApiView(APIView):
    """An APIView whose request is freed by reference counting as soon as it is answered.

    Two references made cycles: DRF's request keeps a parser context holding the request
    itself and the view, and Django's View.setup answers HEAD with GET by keeping the bound
    `get` on the view. Every call then left its whole request behind (Django's and DRF's
    request objects, the view, its authenticators, parsers and response: about fifty objects)
    for Python's cycle collector, whose passes cost a customer read about a twentieth of its
    time. Both are dropped once the view has answered. (DRF's own responses, errors, still
    hold the view until they are rendered.)
    """

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        if isinstance(self.request, Request):  # DRF's, from initialize_request
            self.request.parser_context = None
        self.__dict__.pop("head", None)
        return response
